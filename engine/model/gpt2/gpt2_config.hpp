#pragma once
// GPT-2's config.json, checked before any tensor is read.
#include <string>

#include "blocks.hpp"
#include "config.hpp"

namespace attnviz::model {

// Hugging Face's GPT2Config: the keys attnviz reads, with that class's defaults where the key
// is optional.
struct Gpt2Config {
  int vocabSize = 0;
  int positions = 0;   // n_positions: the longest text the model takes
  int dModel = 0;      // n_embd
  int layers = 0;      // n_layer
  int heads = 0;       // n_head
  int inner = 0;       // n_inner (null: 4 · n_embd)
  double layerNormEpsilon = 1e-5;
  Activation activation = Activation::GeluNew;
  bool scaleAttnWeights = true;           // scores · 1/√d_head
  bool scaleAttnByInverseLayerIdx = false;  // and · 1/(layer + 1)
  int headWidth() const { return dModel / heads; }
  long parameterCount() const;
};

// Throws Error "NAME: ..." for invalid JSON, a missing or ill-typed key, inconsistent sizes
// (n_embd not divisible by n_head) or a model_type other than gpt2 (naming it).
Gpt2Config parseGpt2Config(const std::string& json, const std::string& name);
ModelShape shapeOf(const Gpt2Config& config);

}  // namespace attnviz::model
