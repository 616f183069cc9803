#pragma once
// The Llama family (Llama, Mistral, Qwen2, SmolLM, TinyLlama) as Hugging Face's LlamaForCausalLM
// computes it: token embeddings, then per block x += o_proj(attn(rope(q), rope(k), v)) on
// rms(x), x += down(silu(gate(rms(x))) · up(rms(x))), then the final RMSNorm and lm_head (or the
// tied embeddings). Rotary embeddings in the rotate_half convention (dimension i pairs with
// i + d_head/2); grouped-query attention with K/V head h / (H / KV) serving query head h. The
// attention is attnviz's own engine (blocks.hpp's runAttention), as in GPT-2.
#include <cstdint>
#include <vector>

#include "kv_cache.hpp"
#include "llama_config.hpp"
#include "record.hpp"
#include "safetensors.hpp"
#include "weights.hpp"

namespace attnviz::model {

struct Family;

// Tensors named after the checkpoint's (model.layers.N.self_attn.q_proj, ...) and kept as it
// stores them, in its dtype: linear weights are [out, in], so y = x · Wᵀ + b. Norms and biases
// are float32; biases are empty when the config has none.
struct LlamaBlock {
  Vector inputLayernorm;               // d
  WeightMatrix qProj, kProj, vProj, oProj;  // H·d_head × d, KV·d_head × d, KV·d_head × d, d × H·d_head
  Vector qBias, kBias, vBias, oBias;
  Vector postAttentionLayernorm;       // d
  WeightMatrix gateProj, upProj, downProj;  // inner × d, inner × d, d × inner
};

struct LlamaWeights {
  WeightMatrix embedTokens;  // vocab × d (also the unembedding when tied)
  std::vector<LlamaBlock> blocks;
  Vector norm;         // model.norm
  WeightMatrix lmHead;       // vocab × d; empty: tied to embed_tokens
  const WeightMatrix& unembedding() const { return lmHead.empty() ? embedTokens : lmHead; }
  // Every weight matrix with its checkpoint name, for the message when one holds NaN.
  std::vector<std::pair<std::string, const WeightMatrix*>> named() const;
};

// Reads and checks every tensor of `config` from `store` (HF names, optional "model." prefix is
// the standard one). `weightsName` starts the message when the checkpoint is not Llama-shaped.
LlamaWeights readLlamaWeights(const TensorStore& store, const LlamaConfig& config, const std::string& weightsName);

// Random weights of a configuration (for benchmarks of a model's shape without its files).
LlamaWeights randomLlamaWeights(const LlamaConfig& config, std::uint64_t seed, DType dtype = DType::F32);

// inv_freq_i = θ^(−2i/d_head), i < d_head/2, then rope_scaling's llama3 change (Hugging Face's
// _compute_llama3_parameters), in double.
std::vector<double> ropeInverseFrequencies(const LlamaConfig& config);

// The attention options block `layer` runs with: 1/√d_head (or the what-if scale), temperature,
// causal mask — a Custom one (causal and within the window) when the layer has a sliding window
// shorter than the text — or none, and H heads.
AttentionOptions layerAttentionOptions(const LlamaConfig& config, int layer, int n, const ForwardOptions& options);

// Checks ids (in the vocabulary, at most max_position_embeddings of them) and options. Throws Error.
ForwardRecord forward(const LlamaConfig& config, const LlamaWeights& weights, const std::vector<int>& ids,
                      const ForwardOptions& options = {});

// Generation's step (llama_cached.cpp): `ids` at positions cache.length …, rotated at those
// positions, attending to the cached keys (rotated) and values of the K/V heads, within the
// layer's sliding window; the last one's logits (1 × vocab). With `append` their K and V join
// the cache. Throws Error.
Matrix forwardCached(const LlamaConfig& config, const LlamaWeights& weights, const std::vector<int>& ids,
                     KvCache& cache, bool append);

// The final RMSNorm and lm_head (or the tied embeddings) on residual-stream rows: the logits the
// model would give if the stream ended there.
Matrix readout(const LlamaConfig& config, const LlamaWeights& weights, const Matrix& hidden);

// Recomputed input_layernorm of block l (identical to what the forward pass used).
Matrix blockInputNorm(const LlamaConfig& config, const LlamaWeights& weights, const ForwardRecord& record, int layer);

// The registry's entry (family.cpp).
const Family& llamaFamily();

}  // namespace attnviz::model
