#pragma once
// The step strip over the engine's stage registry (stages.hpp): which stages this document
// has, and each one's heatmap with the shared colour rule, cached per revision.
#include <string>
#include <vector>

#include "app_state.hpp"
#include "figure/colormap.hpp"
#include "stages.hpp"

namespace attnviz::gui {

// The steps that apply to this document, in the strip's order: the W_O projection exists only
// in tokens mode, the embedding, LayerNorm, Q/K/V and residual steps only in model mode.
std::vector<StageId> availableSteps(const Document& doc);
bool stepAvailable(const Document& doc, StageId step);
// Session.view.step as a stage (Scores when it names one this document does not have).
StageId currentStep(const Document& doc);

// Rows/columns labels for a step (the output steps label columns by dimension).
std::vector<std::string> columnLabels(const Document& doc, StageId step);

// Colour range and map: the stage's colour rule (figure/colormap.hpp) with the view's settings.
struct StepRange {
  float vmin = 0, vmax = 1;
  ColormapId colormap = ColormapId::Viridis;
  bool signedValues = false;
};
StageColours stageColours(const ViewSettings& view);
StepRange stepRange(const Matrix& values, StageId step, const ViewSettings& view);

// Which revision counter of the document a step's matrix follows.
std::uint64_t stepRevision(const Document& doc, StageId step);

// A step's matrix for one head (stageDisplay) with its colour range, recomputed only when the
// document's revision for that step (or the colour settings) changed. Valid until the next
// document update.
struct StepView {
  const Matrix* values = nullptr;
  StepRange range;
  bool anyMasked = false;
  std::string key;             // texture cache key
  std::uint64_t revision = 0;  // texture revision
};
StepView stepView(const Document& doc, const ViewSettings& view, StageId step, int head);

}  // namespace attnviz::gui
