#pragma once
// The Llama family's config.json (llama, mistral, qwen2), checked before any tensor is read.
#include <optional>
#include <string>

#include "config.hpp"

namespace attnviz::model {

// Llama 3's long-context change of the rotary frequencies (rope_scaling with rope_type
// "llama3"): low frequencies divided by `factor`, high ones kept, a smooth blend between.
struct Llama3RopeScaling {
  double factor = 8;
  double lowFreqFactor = 1;
  double highFreqFactor = 4;
  int originalMaxPositions = 8192;  // original_max_position_embeddings
};

// Hugging Face's LlamaConfig, MistralConfig and Qwen2Config: the keys attnviz reads, with those
// classes' defaults where the key is optional. One struct: the three share the architecture and
// differ in biases and the sliding window.
struct LlamaConfig {
  std::string modelType;  // llama, mistral or qwen2
  int vocabSize = 0;
  int positions = 0;   // max_position_embeddings
  int dModel = 0;      // hidden_size
  int layers = 0;      // num_hidden_layers
  int heads = 0;       // num_attention_heads
  int kvHeads = 0;     // num_key_value_heads (grouped-query attention when < heads)
  int headDim = 0;     // head_dim (default hidden_size / num_attention_heads)
  int inner = 0;       // intermediate_size
  double rmsNormEpsilon = 1e-6;
  double ropeTheta = 10000;
  std::optional<Llama3RopeScaling> ropeScaling;
  bool tieWordEmbeddings = false;
  bool qkvBias = false;  // q, k, v projections have biases (attention_bias; always on in Qwen2)
  bool oBias = false;    // o_proj has a bias (attention_bias in Llama and Mistral; never in Qwen2)
  // Keys within this many positions back (the query's own included) are attended to; none:
  // plain causal. Mistral: every layer; Qwen2 (use_sliding_window): layers >= maxWindowLayers.
  std::optional<int> slidingWindow;
  int maxWindowLayers = 0;
  int headWidth() const { return headDim; }
  int queryHeadsPerKvHead() const { return heads / kvHeads; }
  int kvHeadOf(int queryHead) const { return queryHead / queryHeadsPerKvHead(); }
  std::optional<int> layerWindow(int layer) const {
    return layer >= maxWindowLayers ? slidingWindow : std::nullopt;
  }
  long parameterCount() const;
};

// Throws Error "NAME: ..." for invalid JSON, a missing or ill-typed key, KV heads that do not
// divide the heads, a hidden_act other than silu, or a rope_scaling type other than llama3.
LlamaConfig parseLlamaConfig(const std::string& json, const std::string& name);
ModelShape shapeOf(const LlamaConfig& config);

}  // namespace attnviz::model
