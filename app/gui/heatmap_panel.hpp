#pragma once
// Draws one matrix as a heatmap panel: cells (through the GL shader), axis labels, values
// inside large cells, pinned/hovered outlines and the colour bar. Shared by the main heatmap
// view and the all-heads grid.
#include <imgui.h>

#include <string>
#include <vector>

#include "steps.hpp"

namespace attnviz::gui {

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
};

// Where cells land: screen position of cell (0,0)'s corner, cell size and the visible area.
struct PanelLayout {
  ImVec2 origin;          // may lie outside the area when panned
  float cellW = 1, cellH = 1;
  ImVec2 areaMin, areaMax;  // the cells' clip rectangle
  ImVec2 colourBarMin, colourBarMax;
};

PanelLayout layoutPanel(const PanelSpec& spec, ImVec2 min, ImVec2 max, HeatmapCamera& camera);
void drawPanel(ImDrawList* list, const PanelSpec& spec, const PanelLayout& layout);
// The cell under `pos`, or false.
bool cellAt(const PanelSpec& spec, const PanelLayout& layout, ImVec2 pos, int* row, int* col);
void drawColourBar(ImDrawList* list, const StepRange& range, ImVec2 min, ImVec2 max, bool showMasked);

}  // namespace attnviz::gui
