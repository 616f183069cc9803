#include "stages.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>


namespace attnviz {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

const std::array<StageInfo, kStageCount> kStages{{
    {StageId::Scores, "scores", "1", "QKᵀ", "Similarity QKᵀ", "S", "S = Q Kᵀ      s_ij = q_i · k_j = Σ_c q_ic k_jc",
     "Every query row is compared with every key row by a dot product.\n"
     "Large positive scores mean the query and key point the same way.",
     "raw scores QKᵀ", StageShape::HeadMatrix, ValueKind::Signed, false, false, false},
    {StageId::Scaled, "scaled", "2", "scale", "Scale", "S'", "S' = S · scale / T      scale = 1/√d_k",
     "Dividing by √d_k keeps the scores' spread independent of the width d_k,\n"
     "so softmax does not saturate; the temperature T sharpens (T<1) or flattens (T>1).",
     "scaled scores", StageShape::HeadMatrix, ValueKind::Signed, false, false, false},
    {StageId::Masked, "masked", "3", "mask", "Mask", "S'", "s'_ij = −∞  where query i may not see key j",
     "A causal or painted mask removes keys a query must not attend to.\n"
     "Masked cells become −∞ so their softmax weight is exactly zero (hatched).",
     "masked scores", StageShape::HeadMatrix, ValueKind::Signed, true, false, false},
    {StageId::MinusRowMax, "minus_row_max", "4a", "−max", "Softmax: subtract row max", "S' − max", "s'_ij − max_j s'_ij",
     "Subtracting each row's maximum changes nothing mathematically,\n"
     "but keeps exp() from overflowing: the largest entry of each row becomes 0.",
     "scores − row max", StageShape::HeadMatrix, ValueKind::Signed, true, false, false},
    {StageId::Exp, "exp", "4b", "exp", "Softmax: exp", "e", "e_ij = exp(s'_ij − max_i)",
     "Exponentiation makes every allowed score positive and stretches differences:\n"
     "a gap of 1 in score becomes a factor of e ≈ 2.72 in weight.",
     "exp(s' − row max)", StageShape::HeadMatrix, ValueKind::NonNegative, true, false, false},
    {StageId::RowSum, "row_sum", "4c", "Σ", "Softmax: row sum", "Z", "Z_i = Σ_j e_ij",
     "Each row's exponentials are summed (shown right of the matrix);\n"
     "this sum is the normaliser of the row.",
     "exp values, summed per row", StageShape::HeadRows, ValueKind::NonNegative, true, false, false},
    {StageId::Weights, "weights", "4d", "÷Σ", "Softmax: normalise", "A", "a_ij = e_ij / Z_i      Σ_j a_ij = 1",
     "Dividing by the row sum turns each row into a probability distribution:\n"
     "how much query i attends to each key.",
     "attention weights", StageShape::HeadMatrix, ValueKind::Probabilities, true, false, false},
    {StageId::Output, "output", "5", "AV", "Weighted sum AV", "O", "O = A V      o_i = Σ_j a_ij v_j",
     "Each output row is the attention-weighted average of the value rows,\n"
     "so a query takes its information mostly from the keys it attends to.",
     "output AV", StageShape::HeadOutput, ValueKind::Signed, false, false, false},
    {StageId::Projected, "projected", "6", "W_O", "Concatenate heads · W_O", "Y", "Y = [O_1 … O_H] W_O",
     "The heads' outputs are placed side by side and mixed by the output projection W_O,\n"
     "giving one d_model-wide vector per token.",
     "projected output [O_1 … O_H] W_O", StageShape::Projected, ValueKind::Signed, false, true, false},
    {StageId::Embedding, "embedding", "0", "embed", "Token + position embedding", "x",
     "x_i = W_E[token_i] + W_P[i]",
     "Each token's row of the embedding table plus the row of its position (Llama-family models\n"
     "have no position table: RoPE rotates q and k instead); the first layer's input.",
     "embedding x", StageShape::ModelRows, ValueKind::Signed, false, false, true},
    {StageId::ResidPre, "resid_pre", "0", "x", "Residual stream in", "x",
     "x = resid_mid + MLP(LN₂(resid_mid))   of the previous block",
     "The layer reads the residual stream: everything the earlier blocks wrote,\n"
     "the previous block's attention output plus its MLP output.",
     "residual stream x", StageShape::ModelRows, ValueKind::Signed, false, false, true},
    {StageId::LayerNorm, "ln_1", "0a", "LN", "LayerNorm", "h", "h_ic = (x_ic − μ_i) / √(σ_i² + ε) · γ_c + β_c",
     "Each row is centred and scaled to unit variance, then stretched by γ and shifted by β:\n"
     "attention sees the direction of x, not its size.",
     "normalised rows h", StageShape::ModelRows, ValueKind::Signed, false, false, true},
    {StageId::Query, "q", "0b", "W_Q", "Query projection", "Q", "q_ic = Σ_t h_it W_Q[t,c] + b_Q[c]",
     "Each normalised row is mapped to this head's query: what the token looks for.",
     "queries Q", StageShape::HeadOutput, ValueKind::Signed, false, false, true},
    {StageId::Key, "k", "0c", "W_K", "Key projection", "K", "k_jc = Σ_t h_jt W_K[t,c] + b_K[c]",
     "Each normalised row is mapped to this head's key: what the token offers to be found by.",
     "keys K", StageShape::HeadOutput, ValueKind::Signed, false, false, true},
    {StageId::Value, "v", "0d", "W_V", "Value projection", "V", "v_jc = Σ_t h_jt W_V[t,c] + b_V[c]",
     "Each normalised row is mapped to this head's value: what the token passes on when attended to.",
     "values V", StageShape::HeadOutput, ValueKind::Signed, false, false, true},
    {StageId::ResidMid, "resid_mid", "7", "+x", "Residual add", "x'", "x'_ic = x_ic + Y_ic + b_O[c]",
     "The attention output (heads · W_O plus its bias) is added to the residual stream;\n"
     "the block's MLP reads this sum next.",
     "residual stream after attention x'", StageShape::ModelRows, ValueKind::Signed, false, false, true},
    {StageId::Rope, "rope", "0e", "RoPE", "Rotate Q and K (RoPE)", "R_i q",
     "(q_c, q_c+d/2) → R(i·ω_c)·(q_c, q_c+d/2)    R(θ) = [cos −sin; sin cos]",
     "Each pair of dimensions (c, c + d_head/2) of q_i and k_i turns by θ = i · ω_c (fast for small c).\n"
     "Turning both by their positions leaves q_i · k_j depending on i − j only: attention sees relative position.",
     "Q or K, rotated (RoPE)", StageShape::HeadOutput, ValueKind::Signed, false, false, true},
    {StageId::PostNorm, "post_ln", "7a", "LN", "LayerNorm after the add (post-norm)", "h'",
     "h'_ic = (x'_ic − μ_i) / √(σ_i² + ε) · γ_c + β_c",
     "A post-norm block (BERT and its kin) normalises the residual stream after each add,\n"
     "not before attention: the MLP reads these rows, and its own add is normalised the same way.",
     "rows after the LayerNorm h'", StageShape::ModelRows, ValueKind::Signed, false, false, true},
}};

constexpr std::array<StageId, kStageCount> kStripOrder{
    StageId::Embedding, StageId::ResidPre, StageId::LayerNorm, StageId::Query,     StageId::Key,
    StageId::Value,     StageId::Rope,     StageId::Scores,   StageId::Scaled,    StageId::Masked,    StageId::MinusRowMax,
    StageId::Exp,       StageId::RowSum,   StageId::Weights,   StageId::Output,    StageId::Projected,
    StageId::ResidMid,  StageId::PostNorm};

std::string shortNumber(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 3);
  return std::string(buf, r.ptr);
}

// Cells the mask hides become -inf (a fully masked row has every cell hidden).
void hideMasked(const AttentionOptions& o, Matrix& m) {
  if (o.mask == MaskKind::None) return;
  const int n = int(m.rows()), cols = int(m.cols());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < cols; ++j)
      if (!isAllowed(o, n, cols, i, j)) m(i, j) = kNegInf;
}

const HeadTrace& headOf(const AttentionTrace& t, int head) {
  if (t.head.empty()) throw Error("the trace has no heads");
  return t.head[std::size_t(std::clamp(head, 0, int(t.head.size()) - 1))];
}

}  // namespace

const std::array<StageInfo, kStageCount>& stageList() { return kStages; }
const StageInfo& stageInfo(StageId id) { return kStages[std::size_t(id)]; }
const std::array<StageId, kStageCount>& stripOrder() { return kStripOrder; }

std::optional<StageId> findStage(std::string_view name) {
  for (const StageInfo& s : kStages)
    if (name == s.name) return s.id;
  return std::nullopt;
}

std::string stageNames() {
  std::string names;
  for (const StageInfo& s : kStages) names += (names.empty() ? "" : ", ") + std::string(s.name);
  return names;
}

StageId parseStage(const std::string& name) {
  if (const auto id = findStage(name)) return *id;
  throw Error("unknown stage \"" + printable(name) + "\" (expected one of " + stageNames() + ")");
}

bool stageExists(const AttentionTrace& t, StageId id) {
  const StageInfo& info = stageInfo(id);
  // A trace made from given weights alone (an attention bundle without q and k) has no scores,
  // and an output only when the bundle has v.
  if (!t.head.empty() && t.head[0].scores.size() == 0 && t.head[0].weights.size() > 0)
    return id == StageId::Weights || (id == StageId::Output && t.dv > 0);
  return !info.needsModel && (!info.needsProjection || t.projected.size() > 0);
}

bool stageColumnsAreKeys(StageId id) {
  const StageShape shape = stageInfo(id).shape;
  return shape == StageShape::HeadMatrix || shape == StageShape::HeadRows;
}

bool stageIsPerHead(StageId id) {
  const StageShape shape = stageInfo(id).shape;
  return shape != StageShape::Projected && shape != StageShape::ModelRows;
}

const Matrix& stageValues(const AttentionTrace& t, StageId id, int head, Matrix& scratch) {
  if (stageInfo(id).needsModel)
    throw Error(std::string("stage ") + stageInfo(id).name + " exists only in model mode (attnviz --model)");
  if (id == StageId::Projected) {
    if (t.projected.size() == 0) throw Error("stage projected needs an output projection W_O (token mode)");
    return t.projected;
  }
  const HeadTrace& h = headOf(t, head);
  // Traces computed with keepDerivedStages(false) rebuild the derived stages on demand.
  const auto derived = [&](const Matrix& kept, auto derive) -> const Matrix& {
    if (kept.size() == h.scores.size()) return kept;
    scratch = derive();
    return scratch;
  };
  switch (id) {
    case StageId::Scores: return h.scores;
    case StageId::Scaled: return derived(h.scaled, [&] { return deriveScaled(h); });
    case StageId::Masked: return derived(h.masked, [&] { return deriveMasked(h, t.options); });
    case StageId::MinusRowMax: scratch = deriveShifted(h, t.options); return scratch;
    case StageId::Exp: return derived(h.expValues, [&] { return deriveExp(h, t.options); });
    case StageId::RowSum: scratch = h.rowSum; return scratch;
    case StageId::Weights: return h.weights;
    case StageId::Output: return h.output;
    default: break;
  }
  return h.weights;
}

const Matrix& stageDisplay(const AttentionTrace& t, StageId id, int head, Matrix& scratch) {
  const StageId shown = id == StageId::RowSum ? StageId::Exp : id;
  const Matrix& values = stageValues(t, shown, head, scratch);
  if (!stageInfo(id).masked || t.options.mask == MaskKind::None) return values;
  if (&values != &scratch) scratch = values;
  hideMasked(t.options, scratch);
  return scratch;
}

std::vector<std::string> stageColumnLabels(const AttentionTrace& t, StageId id,
                                           const std::vector<std::string>& keyLabels) {
  const StageShape shape = stageInfo(id).shape;
  if (shape != StageShape::HeadOutput && shape != StageShape::Projected) return keyLabels;
  const long cols = shape == StageShape::Projected ? long(t.projected.cols()) : long(t.headValueWidth());
  std::vector<std::string> labels;
  for (long c = 0; c < cols; ++c) labels.push_back("d" + std::to_string(c));  // from 0, like every index
  return labels;
}

std::string describeScale(const AttentionOptions& o, int headKeyWidth) {
  const float base = baseScale(o, headKeyWidth);
  std::string s;
  if (o.scaleOverride) s = "scale " + shortNumber(base) + " (set)";
  else if (o.score == ScoreFunction::Scaled)
    s = "scale 1/\u221A" + std::to_string(headKeyWidth) + " = " + shortNumber(base);
  else s = "no scaling";
  if (o.temperature != 1.0f)
    s += ", \u00F7 temperature " + shortNumber(o.temperature) + " \u2192 " +
         shortNumber(effectiveScale(o, headKeyWidth));
  return s;
}

}  // namespace attnviz
