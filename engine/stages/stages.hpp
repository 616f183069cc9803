#pragma once
// The one list of attention stages. Everything that names, shows or writes a stage reads it
// from here: the app's step strip, `attnviz compute`'s file names, `attnviz export --stage`,
// the app's number export, the GPU comparison and the session file's "view.step". Adding a
// stage is one entry in stageList() (stages.cpp) plus its computation in the pipeline.
// The model-mode steps around a layer's attention (embedding or residual stream, LayerNorm, the
// Q/K/V projections, the residual add) are stages too: they exist only when the prepared session
// has a model block, which sessions/session_stages.hpp (above this registry) answers for.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attention.hpp"

namespace attnviz {

// The attention stages in pipeline order, then the model-mode stages (appended, so that a
// version 1 session's step index still names the same stage); stripOrder() is the order shown.
enum class StageId {
  Scores, Scaled, Masked, MinusRowMax, Exp, RowSum, Weights, Output, Projected,
  Embedding, ResidPre, LayerNorm, Query, Key, Value, ResidMid, Rope, PostNorm
};
inline constexpr int kStageCount = 18;
inline constexpr int kAttentionStageCount = 9;  // Scores … Projected

// What a stage holds, and so the shape of its numbers file.
enum class StageShape {
  HeadMatrix,  // per head n×m: [H, n, m]
  HeadRows,    // per head one value per query row: [H, n]
  HeadOutput,  // per head n×(d_v/H): [H, n, d_v/H]
  Projected,   // one n×d_out matrix (heads concatenated · W_O): [n, d_out]
  ModelRows,   // one n×d_model matrix of the residual stream or its normalisation
};

// What the values are, which decides the colour rule (figure/colormap.hpp: stageColormap,
// stageRange): signed values get a diverging map centred on 0, the others [0, max].
enum class ValueKind { Signed, NonNegative, Probabilities };

struct StageInfo {
  StageId id;
  const char* name;         // stable name: files, --stage, sessions ("minus_row_max")
  const char* label;        // the strip's label ("4a")
  const char* chip;         // the strip's short caption ("−max")
  const char* title;        // "Softmax: subtract row max"
  const char* symbol;       // "S'"
  const char* formula;      // one line, Unicode math
  const char* explanation;  // two short lines separated by '\n'
  const char* quantity;     // what the colour bar measures ("exp values e_ij")
  StageShape shape;
  ValueKind kind;
  bool masked;              // the mask is applied: masked cells are shown hatched, not as numbers
  bool needsProjection;     // exists only where the trace has W_O (token mode)
  bool needsModel;          // exists only in model mode (the prepared session has a block)
};

const std::array<StageInfo, kStageCount>& stageList();
// Every stage in the order of the pipeline: the model's embedding or residual stream, LayerNorm,
// Q/K/V projections, the attention stages, heads · W_O, the residual add.
const std::array<StageId, kStageCount>& stripOrder();
const StageInfo& stageInfo(StageId id);
std::optional<StageId> findStage(std::string_view name);
StageId parseStage(const std::string& name);  // throws Error listing every name
std::string stageNames();                     // "scores, scaled, …, projected"

// Whether `trace` has the stage (projected needs W_O; the model stages are not in a trace).
bool stageExists(const AttentionTrace& trace, StageId id);
// Columns are keys (the n×m stages) rather than dimensions; one matrix per head.
bool stageColumnsAreKeys(StageId id);
bool stageIsPerHead(StageId id);

// The stage's numbers for one head, as the files hold them (row_sum: an n×1 column; projected:
// the one n×d_out matrix, head ignored). Masked cells are -inf in masked and minus_row_max and
// 0 in exp and weights. `scratch` holds derived matrices; the result may refer to it.
const Matrix& stageValues(const AttentionTrace& trace, StageId id, int head, Matrix& scratch);

// What the heatmap of a stage shows, on screen and in figures: the numbers, with every cell the
// mask hides at -inf (drawn hatched) on the stages after masking, and the exp values for
// row_sum (whose sums are drawn beside them).
const Matrix& stageDisplay(const AttentionTrace& trace, StageId id, int head, Matrix& scratch);

// Column labels of a stage's heatmap: the keys, or d0, d1, … for the output stages.
std::vector<std::string> stageColumnLabels(const AttentionTrace& trace, StageId id,
                                           const std::vector<std::string>& keyLabels);

// The text for the factor applied to the scores, stated once:
// "scale 1/√2 = 0.707, ÷ temperature 0.1 → 7.07", "scale 0.25 (set)", "no scaling".
std::string describeScale(const AttentionOptions& options, int headKeyWidth);

}  // namespace attnviz
