#pragma once
// The stage registry (stages.hpp) as a prepared session sees it: which stages exist for a model
// layer or a bundle, the model steps' numbers, and column labels. Sessions sit above the
// registry: it knows traces, and this file knows sessions.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "session.hpp"
#include "stages.hpp"

namespace attnviz {

// With the prepared session: the model stages too (the embedding at layer 0, the incoming
// residual stream after it).
bool stageExists(const AttentionTrace& trace, const PreparedSession& prepared, StageId id);

// A model stage's numbers (model_block.hpp): the n×d residual stream, normalised rows or
// residual add, or head `head`'s columns of Q, K or V (before the rotation in a rotary model:
// what the projections give), or of the rotated Q for rope. Throws Error without a model block.
const Matrix& modelStageValues(const PreparedSession& prepared, StageId id, int head, Matrix& scratch);
// The RoPE step of a rotary model: head `head`'s n×d_head columns of Q or K (K of the K/V head
// that query head reads), after or before the rotation. Throws Error for other models.
const Matrix& ropeStageValues(const PreparedSession& prepared, RopeShown shown, int head, Matrix& scratch);
const char* ropeShownName(RopeShown shown);  // "q", "k", "q_unrotated", "k_unrotated"
std::optional<RopeShown> findRopeShown(std::string_view name);
// Either kind: the attention stages from the trace (stageDisplay), the model ones from `prepared`.
const Matrix& stageDisplay(const AttentionTrace& trace, const PreparedSession& prepared, StageId id, int head,
                           Matrix& scratch);

std::vector<std::string> stageColumnLabels(const AttentionTrace& trace, const PreparedSession& prepared, StageId id);

}  // namespace attnviz
