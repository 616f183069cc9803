#pragma once
// The pieces every family's forward pass is built from, each as Hugging Face computes it:
// norms, linear layers in both storage conventions, activations, rotary embeddings, grouped K/V
// heads and the attention call itself (attnviz's own engine). A new family reuses these rather
// than copying them.
#include <vector>

#include "attention.hpp"
#include "record.hpp"
#include "weights.hpp"

namespace attnviz::model {

enum class Activation { GeluNew, Gelu, Relu };
const char* toString(Activation a);  // "gelu_new", "gelu", "relu"

// LayerNorm of each row: (x − μ) / √(σ² + ε) · γ + β, μ and σ² in double.
Matrix layerNorm(const Matrix& x, const Vector& gamma, const Vector& beta, double epsilon);
// Each row's mean and 1/√(σ² + ε) in double, as layerNorm computes them (the step-through's
// derivations show them).
void layerNormRowStatistics(const Matrix& x, double epsilon, Vector& mean, Vector& scale);
// The attention of a model without its own scaling rules: 1/√d_head (or the what-if scale),
// the what-if temperature, and `ownMask` unless the what-ifs set one.
AttentionOptions plainAttentionOptions(int heads, int headWidth, MaskKind ownMask, const ForwardOptions& options);
// RMSNorm of each row: x / √(mean(x²) + ε) · γ, the mean in double.
Matrix rmsNorm(const Matrix& x, const Vector& gamma, double epsilon);
// 1/√(mean of the squares + ε) of `width` values, in double: what rmsNorm scales a row by.
float rmsNormScale(const float* row, long width, double epsilon);

// y = x · Wᵀ + b for a weight stored [out, in] (nn.Linear); no bias when `bias` is empty.
// F16/BF16 weights are converted a panel of rows at a time, panels in parallel.
Matrix linear(const Matrix& x, const WeightMatrix& w, const Vector& bias);
// y = x · W + b for a weight stored [in, out] (GPT-2's Conv1D), panels of columns.
Matrix conv1d(const Matrix& x, const WeightMatrix& w, const Vector& bias);
// The same, y written in equal column ranges into q, k and v (GPT-2's c_attn).
void conv1dInThirds(const Matrix& x, const WeightMatrix& w, const Vector& bias, Matrix& q, Matrix& k, Matrix& v);

// In place: gelu_new (tanh approximation), the exact erf GELU, or ReLU.
void activate(Matrix& m, Activation a);
// gate ← silu(gate) · up (SwiGLU).
void siluTimes(Matrix& gate, const Matrix& up);

// n × KV·d_head -> n × H·d_head: K/V head g serves query heads g·group … (g+1)·group − 1
// (Hugging Face's repeat_kv).
Matrix expandKvHeads(const Matrix& m, int kvHeads, int group, int dh);

// cos and sin of i · inv_c for every position i and pair c (n × d_head/2), in double, made once
// per forward pass and shared by every layer's Q and K; row r is position first + r (generation's
// cached steps start after the cache).
struct RopeTable {
  Matrix cosines, sines;
  RopeTable(Eigen::Index n, const std::vector<double>& inverseFrequencies, Eigen::Index first = 0);
};
// Rotates each head's pairs (c, c + d_head/2) of row i by i · inv_c (rotate_half convention).
Matrix rotate(const Matrix& x, int heads, const RopeTable& table);
Matrix applyRope(const Matrix& x, int heads, const std::vector<double>& inverseFrequencies);

// Layer `layer`'s attention through the engine on L.qkv with L.attention: keeps the weights and
// row statistics in L.pattern, the heads side by side in L.z (ablated heads zeroed). Errors name
// the layer.
// (Patched heads: options.patchedHeads of this layer replace their slice of L.z, after ablation.)
void runAttention(LayerRecord& L, int layer, int headWidth, const ForwardOptions& options);
// Replaces the rows of x (the residual stream entering block `layer`; layer = L: the final
// stream) that options.patchedResidual names for this layer. Every family calls it before it
// records resid[layer]. Throws Error for a patch that does not fit x.
void applyResidualPatches(Matrix& x, int layer, const ForwardOptions& options);

// Every stage of one layer's attention (scores, scaled, masked, exp included), recomputed by
// the same engine from the recorded Q, K and V: identical weights to the forward pass. With
// W_O, the trace also holds heads · W_O (the "projected" stage).
AttentionTrace layerTrace(const LayerRecord& layer, const Matrix& wO = Matrix());

// resid_mid of block l: resid_pre + attn_out (pre-norm blocks).
Matrix blockResidMid(const ForwardRecord& record, int layer);

// Log-softmax probabilities of one logits row.
Vector logSoftmax(const Eigen::Ref<const Eigen::RowVectorXf>& logits);

}  // namespace attnviz::model
