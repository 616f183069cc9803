#pragma once
// GPT-2 (Radford et al. 2019) as Hugging Face's GPT2LMHeadModel computes it: token + position
// embeddings, then per block x += attn(ln_1(x)); x += mlp(ln_2(x)), then ln_f and the tied
// unembedding. The attention inside each block is attnviz's own engine (blocks.hpp's
// runAttention), so the model and the step-through can never disagree.
#include <cstdint>
#include <string>
#include <vector>

#include "gpt2_config.hpp"
#include "kv_cache.hpp"
#include "record.hpp"
#include "safetensors.hpp"
#include "weights.hpp"

namespace attnviz::model {

struct Family;

// Tensors named after the checkpoint's (h.N.attn.c_attn, ...). Conv1D weights are kept the way
// the checkpoint stores them, [in, out] in its dtype, so y = x · W + b; norms and biases float32.
struct Gpt2Block {
  Vector ln1Weight, ln1Bias;
  WeightMatrix attnWeight;  // c_attn: d × 3d, columns Q | K | V
  Vector attnBias;
  WeightMatrix attnProjWeight;  // c_proj: d × d
  Vector attnProjBias;
  Vector ln2Weight, ln2Bias;
  WeightMatrix fcWeight;  // mlp.c_fc: d × inner
  Vector fcBias;
  WeightMatrix mlpProjWeight;  // mlp.c_proj: inner × d
  Vector mlpProjBias;
};

struct Gpt2Weights {
  WeightMatrix wte;  // vocab × d (also the unembedding)
  WeightMatrix wpe;  // positions × d
  std::vector<Gpt2Block> blocks;
  Vector lnfWeight, lnfBias;
  WeightMatrix lmHead;  // vocab × d when the checkpoint has its own lm_head; empty: tied to wte
  const WeightMatrix& unembedding() const { return lmHead.empty() ? wte : lmHead; }
  // Every weight matrix with its checkpoint name, for the message when one holds NaN.
  std::vector<std::pair<std::string, const WeightMatrix*>> named() const;
};

// Reads and checks every tensor of `config` from `store` (with or without the "transformer."
// prefix). `weightsName` starts the message when the checkpoint is not GPT-2-shaped.
Gpt2Weights readGpt2Weights(const TensorStore& store, const Gpt2Config& config, const std::string& weightsName);

// Random weights of a configuration (for benchmarks of a model's shape without its files).
Gpt2Weights randomGpt2Weights(const Gpt2Config& config, std::uint64_t seed, DType dtype = DType::F32);

// The attention options block `layer` runs with: the model's scale (or the what-if one), temperature, mask, heads.
AttentionOptions layerAttentionOptions(const Gpt2Config& config, int layer, const ForwardOptions& options);

// Checks ids (in the vocabulary, at most n_positions of them) and options. Throws Error.
ForwardRecord forward(const Gpt2Config& config, const Gpt2Weights& weights, const std::vector<int>& ids,
                      const ForwardOptions& options = {});

// Generation's step (gpt2_cached.cpp): `ids` at positions cache.length …, attending to the
// cached keys and values; the last one's logits (1 × vocab). With `append` their K and V join
// the cache. Throws Error.
Matrix forwardCached(const Gpt2Config& config, const Gpt2Weights& weights, const std::vector<int>& ids,
                     KvCache& cache, bool append);

// The final LayerNorm and the unembedding on residual-stream rows: the logits the model would
// give if the stream ended there (the forward pass's own logits are this of its last entry).
Matrix readout(const Gpt2Config& config, const Gpt2Weights& weights, const Matrix& hidden);

// Recomputed ln_1 of block l (identical to what the forward pass used).
Matrix blockLn1(const Gpt2Config& config, const Gpt2Weights& weights, const ForwardRecord& record, int layer);

// The registry's entry (family.cpp).
const Family& gpt2Family();

}  // namespace attnviz::model
