#pragma once
// Scaled dot-product attention on the CPU, keeping every stage for the views (the reference
// every other backend is checked against).
#include <optional>
#include <string>
#include <vector>

#include "types.hpp"

namespace attnviz {

enum class ScoreFunction { Scaled, Dot, Cosine };
// Causal: the last query sees every key (bottom-right aligned, j <= i + m - n), so a cached
// prefix of keys stays visible. CausalTopLeft: query i sees keys 0..i (j <= i), PyTorch's
// scaled_dot_product_attention(is_causal=True). The two agree when n == m.
enum class MaskKind { None, Causal, CausalTopLeft, Custom };

const char* toString(ScoreFunction f);
const char* toString(MaskKind k);
ScoreFunction parseScoreFunction(const std::string& s);  // throws Error
// "none" | "causal" | "causal-top-left"; throws Error listing them.
MaskKind parseMaskKind(const std::string& s);
// The named masks, for help texts and messages: "none, causal or causal-top-left".
const char* maskKindNames();

struct AttentionOptions {
  ScoreFunction score = ScoreFunction::Scaled;
  std::optional<float> scaleOverride;  // replaces 1/sqrt(d_k) (or 1 for dot/cosine)
  float temperature = 1.0f;            // scores are divided by T; T > 0
  MaskKind mask = MaskKind::None;
  MaskMatrix customMask;               // n×m, used when mask == Custom
  int heads = 1;

  bool operator==(const AttentionOptions& other) const;  // masks of different shapes differ
};

struct AttentionInputs {
  Matrix q;   // n×d_k
  Matrix k;   // m×d_k
  Matrix v;   // m×d_v
  Matrix wO = Matrix();  // d_v×d_out output projection (token mode); empty: no projected stage
};

// The factor before the temperature: the override, else 1/sqrt(headKeyWidth) for Scaled and 1
// for Dot and Cosine.
float baseScale(const AttentionOptions& options, int headKeyWidth);
// The factor applied to raw scores: baseScale / temperature.
float effectiveScale(const AttentionOptions& options, int headKeyWidth);

// The factor applied to raw scores in double: baseScale / temperature, finite for every
// accepted option (float's effectiveScale overflows for T below about 1e-38).
double exactScale(const AttentionOptions& options, int headKeyWidth);

// True when query i may attend to key j under `options` (causal: j <= i + (m - n),
// causal-top-left: j <= i).
bool isAllowed(const AttentionOptions& options, int n, int m, int i, int j);

struct RowStats {
  Vector entropy;       // -Σ a log a (natural log), 0 for a fully masked row
  Vector maxWeight;
  IndexVector argmax;   // -1 for a fully masked row
  std::vector<bool> fullyMasked;
};

struct HeadTrace {
  Matrix scores;     // n×m raw similarity (q·k, or cosine)
  // The three derived stages below are empty when the pipeline runs with
  // keepDerivedStages(false); deriveScaled/deriveMasked/deriveExp rebuild them exactly.
  Matrix scaled;     // n×m scores · effective scale
  Matrix masked;     // n×m scaled, -inf where masked
  Vector rowMax;     // n, max of the row's allowed scaled scores (-inf for a fully masked row)
  Matrix expValues;  // n×m exp(masked - rowMax), 0 where masked
  Vector rowSum;     // n
  Matrix weights;    // n×m expValues / rowSum, 0 on a fully masked row
  Matrix output;     // n×(d_v/H) = weights · V_h
  RowStats stats;
  float scale = 1;   // effective scale used for this head (+inf when it overflows float)
  // Rows whose softmax ran in double (scale, temperature or inputs beyond what float32 keeps
  // exact; see softmaxNeedsDouble): ascending, with their scaled scores (±inf where beyond
  // float32's ±3.4e38) and max-subtracted scores s'_ij − max, formed as scale·(s_ij − s_max)
  // so that they stay exact where masked − rowMax would be ∞ − ∞. Always kept.
  std::vector<int> exactRows;
  Matrix exactScaled, exactShifted;  // exactRows.size() × m
};

// The stages run fused, block by block, so only the total is timed; `attnviz bench` separates
// the stages by recomputing from each one.
struct StageTimings {
  double totalMs = 0;
};

struct AttentionTrace {
  int n = 0, m = 0, dk = 0, dv = 0, heads = 1;  // dk, dv: full widths (all heads)
  AttentionOptions options;
  std::vector<HeadTrace> head;
  Matrix concatenated;  // n×d_v, heads side by side
  Matrix projected;     // n×d_out = concatenated · W_O; empty when the inputs have no W_O
  StageTimings timings;
  int headKeyWidth() const { return dk / heads; }
  int headValueWidth() const { return dv / heads; }
};

// Checks shapes, options and finite values; throws Error naming the matrix, row and column.
void validate(const AttentionInputs& inputs, const AttentionOptions& options);

// Fills the stages after the heads from the heads' outputs: the concatenation and, when the
// inputs have W_O, the projection. The CPU pipeline calls it; so must the caller of any
// backend whose trace holds only the per-head stages.
void finishTrace(AttentionTrace& trace, const AttentionInputs& inputs);

// Stages in pipeline order; recomputation starts at the first dirty one.
enum class Stage { Scores = 0, Scale = 1, Output = 2, Done = 3 };

// Holds inputs, options and the trace; recomputes only the stages an edit invalidated:
// temperature, scale or mask → from Scale on; V only → Output only; Q, K, heads, score → all.
class AttentionPipeline {
 public:
  void setInputs(AttentionInputs inputs);  // Q, K and V
  void setValues(Matrix v);                // V only (same shape keeps QKᵀ and softmax)
  void setOptions(const AttentionOptions& options);
  const AttentionInputs& inputs() const { return inputs_; }
  const AttentionOptions& options() const { return options_; }

  // Recomputes what is dirty (validating first) and returns the trace. Throws Error.
  const AttentionTrace& run();
  const AttentionTrace& trace() const { return trace_; }
  // Moves the trace out (no copy of its n×m matrices); the next run() recomputes everything.
  AttentionTrace takeTrace();
  // Moves the inputs out (the next run() needs new ones).
  AttentionInputs takeInputs();
  // Whether scaled, masked and exp values are stored (default) or left for derive*() on
  // demand; only scores, weights, output and the per-row vectors are always kept.
  void keepDerivedStages(bool keep);
  // Whether a lean trace (keepDerivedStages(false)) under a causal mask skips the cells the mask
  // hides: QKᵀ and AV run block by block over only the allowed keys, and those cells' scores are
  // 0 (the raw score only on rows the softmax redid in double). The weights, outputs and statistics are unchanged (within float
  // rounding of the AV sum). For the forward passes, which keep only the weights; the
  // step-through keeps the default (false) and shows every raw score.
  void skipMaskedScores(bool skip);
  bool skippingMaskedScores() const;  // asked for, lean and causal
  Stage firstDirtyStage() const { return dirty_; }
  Stage lastRecomputedFrom() const { return lastRecomputedFrom_; }

 private:
  AttentionInputs inputs_;
  AttentionOptions options_;
  AttentionTrace trace_;
  bool keepDerived_ = true;
  bool skipMasked_ = false;
  Stage dirty_ = Stage::Scores;
  Stage lastRecomputedFrom_ = Stage::Done;
};

// Computed: every cell's raw score is in the trace. Skipped: see AttentionPipeline::skipMaskedScores.
enum class MaskedScores { Computed, Skipped };

// One-shot convenience: the full trace for inputs and options.
AttentionTrace computeAttention(const AttentionInputs& inputs, const AttentionOptions& options,
                                bool keepDerivedStages = true, MaskedScores maskedScores = MaskedScores::Computed);
// The same on inputs lent to it, moved in and back rather than copied (a model's layers keep
// theirs), also when it throws.
AttentionTrace computeAttentionOnLent(AttentionInputs& inputs, const AttentionOptions& options,
                                      bool keepDerivedStages, MaskedScores maskedScores);

// Rebuild a derived stage of one head from scores, mask and row max (identical to the stored one).
Matrix deriveScaled(const HeadTrace& head);
Matrix deriveMasked(const HeadTrace& head, const AttentionOptions& options);
Matrix deriveExp(const HeadTrace& head, const AttentionOptions& options);
// The minus_row_max stage: masked − rowMax, −∞ where masked and on fully masked rows, and the
// exact shifted scores on the rows computed in double.
Matrix deriveShifted(const HeadTrace& head, const AttentionOptions& options);
// One cell of it (for the derivation text).
float shiftedScore(const HeadTrace& head, const AttentionOptions& options, int i, int j);

// Extreme values. The float32 softmax is used for query row i only when it is exact to about
// 1e-6 in every weight: the scale is finite and at most 2^100 (so scores underflowing to
// denormals do not matter), |q_i|·max|k_j| and |scale|·|q_i|·max|k_j| stay far below float's
// range, and the largest scaled score is at most kFloatRowMaxLimit in magnitude (float's
// rounding of a scaled score s is 2^-24·|s|, an error of that size in the weight's exponent).
// A NaN rowMax (from a GPU pass) also sends the row to double. `qNorm`, `kNormMax` are the
// row's and the largest key's norms (1, 1 for cosine scores).
inline constexpr float kFloatRowMaxLimit = 32;
bool softmaxNeedsDouble(double scale, double qNorm, double kNormMax);
bool rowNeedsDouble(float rowMax);

// Recomputes query row i of head h in double from the inputs, whichever backend ran it: exact
// scores (q·k or cosine), the row's extreme score s_max (the max for a positive scale, the min
// for a negative one), shifted = scale·(s_ij − s_max) ≤ 0 (so T → 0 and scores → ±∞ reach their
// limits: one-hot on the max, ties shared equally), exp, sum, weights, statistics and output.
// Writes ht's per-row stages (scaled, masked, exp only when `keepDerived`) and returns the row's
// scaled and shifted scores for `storeExactRows`. Returns false when every key is masked.
struct ExactRow {
  int row = -1;
  Eigen::RowVectorXf scaled, shifted;
};
bool exactSoftmaxRow(const AttentionInputs& inputs, const AttentionOptions& options, int head, int row,
                     HeadTrace& ht, bool keepDerived, ExactRow& kept);
// o_i = Σ_j a_ij v_j in double from the stored weights (for V near float's range, where a float
// sum could round up to ∞).
void exactOutputRow(const AttentionInputs& inputs, const AttentionOptions& options, int head, int row,
                    HeadTrace& ht);
// Puts the rows `exactSoftmaxRow` returned (any order, entries with row < 0 ignored) into ht.
void storeExactRows(HeadTrace& ht, std::vector<ExactRow>& rows);

}  // namespace attnviz
