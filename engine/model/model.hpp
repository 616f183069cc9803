#pragma once
// "A model", whatever its family: the one way the app, the session and the command line load a
// checkpoint and run it. GPT-2 and the Llama family (llama, mistral, qwen2) share the record
// (record.hpp); what differs is behind `family`.
#include <string>
#include <vector>

#include "config.hpp"
#include "gpt2.hpp"
#include "llama.hpp"
#include "record.hpp"
#include "tokenizer.hpp"

namespace attnviz::model {

enum class Family { Gpt2, Llama };

struct Model {
  std::string name;          // the built-in name, or the folder
  std::string path;          // the folder
  std::string description;   // first paragraph of the folder's README.md, if any
  std::string weightsDtype;  // as stored: F32, F16 or BF16
  Family family = Family::Gpt2;
  ModelShape shape;          // model_type, layers, heads, K/V heads, d_model, vocabulary, context
  Gpt2Model gpt2;            // family == Gpt2 (config, weights and its own copy of the tokenizer)
  LlamaConfig llama;         // family == Llama
  LlamaWeights llamaWeights;
  BpeTokenizer tokenizer;

  int headWidth() const { return family == Family::Gpt2 ? gpt2.config.headWidth() : llama.headWidth(); }
  long parameterCount() const { return family == Family::Gpt2 ? gpt2.config.parameterCount() : llama.parameterCount(); }
};

// A folder, the folder around a .safetensors file, or the built-in model of that name in
// `modelsDir`, of any supported model_type; every tensor's shape checked against the config,
// pickles refused. Throws Error with one line naming the file and tensor.
Model loadModel(const std::string& nameOrPath, const std::string& modelsDir);
// config.json only (after checking that the weights are there and not a pickle).
ModelShape readModelShape(const std::string& nameOrPath, const std::string& modelsDir);
// A GPT-2 model already loaded, as a Model.
Model fromGpt2(Gpt2Model gpt2);

// The family's forward pass (checks ids and options; throws Error).
ForwardRecord forward(const Model& model, const std::vector<int>& ids, const ForwardOptions& options = {});

// Layer l's output projection as the engine's W_O ([H·d_head, d]: heads · W_O), without its bias.
Matrix attentionOutputWeight(const Model& model, int layer);
// Layer l's attention input: ln_1 or input_layernorm of the residual stream (recomputed).
Matrix attentionInput(const Model& model, const ForwardRecord& record, int layer);
// Layer l's Q, K, V projections as [d, H·d_head] (x · W), K and V expanded to the H query heads.
struct ProjectionWeights {
  Matrix wQ, wK, wV;
};
ProjectionWeights attentionProjections(const Model& model, int layer);

// The prefix-matching input of repeatedRandomTokens (gpt2.hpp) for any model.
std::vector<int> repeatedRandomTokens(const Model& model, int length, std::uint64_t seed);

}  // namespace attnviz::model
