#pragma once
// What the model-mode steps around a layer's attention show, besides the attention engine's own
// stages: where the layer's input comes from (the embedding, or the previous block's residual
// stream), its normalisation (with each row's statistics, for the derivations), the biases of
// the Q/K/V and output projections, and the residual add after attention. Family-neutral: each
// family's Architecture::block fills it from a finished forward pass (family.hpp).
#include <optional>
#include <string>
#include <vector>

#include "attention.hpp"

namespace attnviz {

struct ModelBlock {
  int layer = 0;
  // Layer 0: the rows of the token and position embeddings that add up to residPre (n×d each).
  Matrix tokenEmbedding, positionEmbedding;
  std::vector<int> tokenIds;
  int positionOffset = 0;  // the W_P row of position 0 (RoBERTa: pad_token_id + 1)
  // Layer 0 of a vision model: the patch embedding (a convolution with stride P, as a d × C·P·P
  // matrix), its bias and each patch's pixels (ForwardRecord::patchPixels); else empty.
  Matrix patchWeight, patchPixels;
  Vector patchBias;
  int patchChannels = 0;
  Matrix typeEmbedding;  // layer 0 of an encoder: the token type's rows (sentence A or B); else empty
  // Layer 0 of a post-norm model: the embeddings' sum before their LayerNorm, which the
  // LayerNorm step then reads (its output is residPre). Empty otherwise.
  Matrix embeddingSum;
  // Layer > 0 of a pre-norm model: residPre = the previous block's resid_mid + its MLP output.
  Matrix previousResidMid, previousMlpOut;
  Matrix residPre;  // n×d: the block's input
  // Post-norm (BERT): no norm before attention except the embeddings' at layer 0; a LayerNorm
  // after the attention's add (postNorm*), whose output the MLP reads.
  bool postNorm = false;
  Vector postNormMean, postNormScale, postNormGamma, postNormBeta;
  Matrix postNormed;  // n×d: LayerNorm(residMid)

  // The normalisation before attention: (x − μ)·s · γ + β (LayerNorm) or x·s · γ (RMSNorm),
  // s = 1/√(σ² + ε) or 1/√(mean(x²) + ε) per row, in double as the forward pass computes it.
  enum class Norm { LayerNorm, RmsNorm } norm = Norm::LayerNorm;
  Vector rowMean;   // μ_i (LayerNorm only)
  Vector rowScale;  // s_i
  Vector gamma, beta;  // β empty for RMSNorm
  double epsilon = 1e-5;
  // The normalised rows are the projections' input: PreparedSession::model->xQuery.

  Vector biasQ, biasK, biasV;  // d (zeros when the model has none)

  // The rotary embedding (all empty for a model without one). Q and K before and after the
  // rotation, n × H·d_head with K expanded to the query heads as the engine runs it. Position
  // positions[i] of head h turns pair (c, c + d_head/2) by θ = positions[i] · ropeInverseFrequencies(c).
  Matrix qUnrotated, kUnrotated, qRotated, kRotated;
  Vector ropeInverseFrequencies;  // d_head/2, after any rope_scaling
  std::vector<int> positions;     // 0 … n−1
  int heads = 0, kvHeads = 0, headDim = 0;
  std::optional<int> slidingWindow;  // the layer's window (Mistral, Qwen2), whether or not it is shorter than the text
  bool rotary() const { return ropeInverseFrequencies.size() > 0; }
  int kvHeadOf(int head) const { return kvHeads > 0 && heads >= kvHeads ? head / (heads / kvHeads) : head; }
  Vector biasO;                // d: the output projection's bias
  Matrix attnOut;              // n×d: heads · W_O + b_O
  Matrix residMid;             // n×d: residPre + attnOut
};

}  // namespace attnviz
