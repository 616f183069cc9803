#pragma once
// GPT-2 (Radford et al. 2019) as Hugging Face's GPT2LMHeadModel computes it: token + position
// embeddings, then per block x += attn(ln_1(x)); x += mlp(ln_2(x)), then ln_f and the tied
// unembedding. The attention inside each block is attnviz's own engine (computeAttention), so
// the model and the step-through can never disagree.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "attention.hpp"
#include "config.hpp"
#include "record.hpp"
#include "tokenizer.hpp"

namespace attnviz::model {

// Tensors named after the checkpoint's (h.N.attn.c_attn, ...). Conv1D weights are stored the
// way the checkpoint stores them, [in, out], so y = x · W + b.
struct Gpt2Block {
  Vector ln1Weight, ln1Bias;
  Matrix attnWeight;  // c_attn: d × 3d, columns Q | K | V
  Vector attnBias;
  Matrix attnProjWeight;  // c_proj: d × d
  Vector attnProjBias;
  Vector ln2Weight, ln2Bias;
  Matrix fcWeight;  // mlp.c_fc: d × inner
  Vector fcBias;
  Matrix mlpProjWeight;  // mlp.c_proj: inner × d
  Vector mlpProjBias;
};

struct Gpt2Weights {
  Matrix wte;  // vocab × d (also the unembedding)
  Matrix wpe;  // positions × d
  std::vector<Gpt2Block> blocks;
  Vector lnfWeight, lnfBias;
  Matrix lmHead;  // vocab × d when the checkpoint has its own lm_head; empty: tied to wte
  const Matrix& unembedding() const { return lmHead.size() ? lmHead : wte; }
};

struct Gpt2Model {
  std::string name;  // the built-in name, or the folder
  std::string path;  // the folder
  Gpt2Config config;
  Gpt2Weights weights;
  BpeTokenizer tokenizer;
  std::string description;  // first paragraph of the folder's README.md, if any
  std::string weightsDtype;  // as stored: F32, F16 or BF16
};

// Reads config.json and the safetensors weights (one file or an index of shards) of a folder,
// of the folder around a .safetensors file, or of the built-in model of that name in
// `modelsDir`, checking every tensor's shape against the config; refuses pickle checkpoints.
// Throws Error with one line naming the file and tensor.
Gpt2Model loadGpt2(const std::string& nameOrPath, const std::string& modelsDir);
// config.json only (after checking that the weights are there and not a pickle).
Gpt2Config readGpt2Config(const std::string& nameOrPath, const std::string& modelsDir);
// The tokenizer only (no config or weights), for `tokenize`.
BpeTokenizer loadTokenizer(const std::string& nameOrPath, const std::string& modelsDir);

// The models shipped in `modelsDir` (the data directory's models/), one folder each.
struct BuiltinModel {
  std::string name, path;
  std::string shape;        // "2 layers × 4 heads, d_model 128, vocabulary 4096, context 256"
  std::string description;  // the model card's first paragraph
};
std::vector<BuiltinModel> listBuiltinModels(const std::string& modelsDir);

// Olsson et al.'s prefix-matching input: the start token (<|endoftext|>, when the vocabulary
// has it), then `length` ids drawn uniformly from the middle half of the vocabulary, then the
// same ids again. Seeded, so every run scores the same sequence.
std::vector<int> repeatedRandomTokens(const Gpt2Model& model, int length, std::uint64_t seed);

// Random weights of a configuration (for benchmarks of a model's shape without its files).
Gpt2Weights randomGpt2Weights(const Gpt2Config& config, std::uint64_t seed);

// LayerNorm of each row: (x − μ) / √(σ² + ε) · γ + β, μ and σ² in double.
Matrix layerNorm(const Matrix& x, const Vector& gamma, const Vector& beta, double epsilon);
// Recomputed pieces of block l (identical to what the forward pass used).
Matrix blockLn1(const Gpt2Config& config, const Gpt2Weights& weights, const ForwardRecord& record, int layer);
Matrix blockResidMid(const ForwardRecord& record, int layer);

// Checks ids (in the vocabulary, at most n_positions of them) and options. Throws Error.
ForwardRecord forward(const Gpt2Config& config, const Gpt2Weights& weights, const std::vector<int>& ids,
                      const ForwardOptions& options = {});

// The attention options block `layer` runs with: the model's scale (or the what-if one), temperature, mask, heads.
AttentionOptions layerAttentionOptions(const Gpt2Config& config, int layer, const ForwardOptions& options);

// Every stage of one layer's attention (scores, scaled, masked, exp included), recomputed by
// the same engine from the recorded Q, K and V: identical weights to the forward pass.
// With the block's c_proj as W_O, the trace also holds heads · W_O (the "projected" stage).
AttentionTrace layerTrace(const LayerRecord& layer, const Matrix& wO = Matrix());

// Log-softmax probabilities of one logits row.
Vector logSoftmax(const Eigen::Ref<const Eigen::RowVectorXf>& logits);

}  // namespace attnviz::model
