#pragma once
// What each step of the pipeline strip shows: its name, formula, explanation and matrix.
#include <string>
#include <vector>

#include "app_state.hpp"

namespace attnviz::gui {

struct StepInfo {
  const char* label;        // "1", "4a", ... as in the pipeline strip
  const char* name;         // "Similarity QKᵀ"
  const char* formula;      // one line, Unicode math
  const char* explanation;  // two short lines separated by '\n'
};
const StepInfo& stepInfo(StepId id);
StepId stepAt(int index);

// Steps that apply to this document (the W_O projection exists only in tokens mode).
int stepCount(const Document& doc);

// The matrix a step shows for one head. `scratch` holds derived matrices (masked − row max).
const Matrix& stepMatrix(const Document& doc, StepId step, int head, Matrix& scratch);
// The same from a given trace (the CPU's or the GPU's); `projected` is its heads · W_O.
const Matrix& stepMatrix(const AttentionTrace& trace, const Matrix& projected, StepId step, int head,
                         Matrix& scratch);

// Rows/columns labels for a step (the output steps label columns by dimension).
std::vector<std::string> columnLabels(const Document& doc, StepId step);

// Colour range and map: signed stages get a diverging map centred on 0, probabilities [0, 1].
struct StepRange {
  float vmin = 0, vmax = 1;
  ColormapId colormap = ColormapId::Viridis;
  bool signedValues = false;
};
StepRange stepRange(const Matrix& values, StepId step, const ViewSettings& view);

// Which revision counter of the document a step's matrix follows.
std::uint64_t stepRevision(const Document& doc, StepId step);

}  // namespace attnviz::gui

namespace attnviz::gui {

// A step's matrix for one head with its colour range, recomputed only when the document's
// revision for that step (or the colour settings) changed. Valid until the next document update.
struct StepView {
  const Matrix* values = nullptr;
  StepRange range;
  bool anyMasked = false;
  std::string key;             // texture cache key
  std::uint64_t revision = 0;  // texture revision
};
StepView stepView(const Document& doc, const ViewSettings& view, StepId step, int head);

}  // namespace attnviz::gui
