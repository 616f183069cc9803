#pragma once
// Draws one matrix as a heatmap panel: cells (through the GL shader), axis labels, values
// inside large cells, pinned/hovered outlines and the colour bar. Shared by the main heatmap
// view and the all-heads grid.
#include <imgui.h>

#include <string>
#include <vector>

#include "figure/colormap.hpp"
#include "record.hpp"
#include "steps.hpp"

namespace attnviz::gui {

// A vision model's picture, so that each patch's row and column can show the patch itself.
struct AxisPicture {
  unsigned texture = 0;
  int width = 0, height = 0;  // the picture's pixels
  const model::PatchGrid* grid = nullptr;
  bool rows = true, cols = true;  // columns only where they are keys
};

struct PanelSpec {
  const Matrix* values = nullptr;
  unsigned texture = 0;
  StepRange range;
  const std::vector<std::string>* rowLabels = nullptr;  // null: no axis labels
  const std::vector<std::string>* colLabels = nullptr;
  const Vector* rowSums = nullptr;  // shown right of the cells (softmax row-sum step)
  bool valueText = true;
  bool colourBar = true;
  bool anyMasked = false;   // adds the hatched "masked" swatch to the colour bar
  int pinRow = -1, pinCol = -1;
  int hoverRow = -1, hoverCol = -1;
  // A line before this row / column: where an encoder's sentence B starts (-1: none).
  int rowDivider = -1, colDivider = -1;
  // With a log or per-row colour scale the colours come from these transformed values (and
  // `range` is theirs); `values` still gives the numbers printed in cells.
  const Matrix* colourValues = nullptr;
  ColourScale scale = ColourScale::Linear;
  const AxisPicture* thumbnails = nullptr;  // null: labels only
};

// Where cells land: screen position of cell (0,0)'s corner, cell size and the visible area.
struct PanelLayout {
  ImVec2 origin;          // may lie outside the area when panned
  float cellW = 1, cellH = 1;
  ImVec2 areaMin, areaMax;  // the cells' clip rectangle
  ImVec2 colourBarMin, colourBarMax;
  float rowThumbnails = 0, colThumbnails = 0;  // the patch thumbnails' bands (0: none)
};

PanelLayout layoutPanel(const PanelSpec& spec, ImVec2 min, ImVec2 max, HeatmapCamera& camera);
void drawPanel(ImDrawList* list, const PanelSpec& spec, const PanelLayout& layout);
// The cell under `pos`, or false.
bool cellAt(const PanelSpec& spec, const PanelLayout& layout, ImVec2 pos, int* row, int* col);
// With a log or per-row scale the ticks show the untransformed values and the bar is titled.
void drawColourBar(ImDrawList* list, const StepRange& range, ImVec2 min, ImVec2 max, bool showMasked,
                   ColourScale scale = ColourScale::Linear);
// Switches `spec` to `scale` for `step` when it applies (colourScaleApplies): transformed values
// (cached under `key` until `revision` moves), their texture and range. `linear` is the range
// of the untransformed values (shared by every head in the all-heads grid).
void applyPanelColourScale(PanelSpec& spec, StageId step, ColourScale scale, const std::string& key,
                           std::uint64_t revision, const StepRange& linear);

}  // namespace attnviz::gui
