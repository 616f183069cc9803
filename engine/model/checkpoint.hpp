#pragma once
// Finding a checkpoint's files and reading its tensors, shared by the loaders of every family.
#include <cstdint>
#include <string>
#include <vector>

#include "record.hpp"
#include "safetensors.hpp"
#include "text_tokenizer.hpp"
#include "types.hpp"
#include "weights.hpp"

namespace attnviz::model {

struct ModelFiles {
  std::string name, folder, weights;  // weights: a .safetensors file or an index .json
};

// NAME|PATH -> the folder and its weights file; refuses pickles and says what is missing.
ModelFiles locateModel(const std::string& arg, const std::string& modelsDir, bool needWeights);
// The tokenizer only (no config or weights), for `tokenize`.
TextTokenizer loadTokenizer(const std::string& nameOrPath, const std::string& modelsDir);

// The models shipped in `modelsDir` (the data directory's models/), one folder each.
struct BuiltinModel {
  std::string name, path;
  std::string shape;        // "2 layers × 4 heads, d_model 128, vocabulary 4096, context 256"
  std::string description;  // the model card's first paragraph
};
std::vector<BuiltinModel> listBuiltinModels(const std::string& modelsDir);

// The first paragraph of a model card (after any front matter and headings); "" when none.
std::string firstParagraph(const std::string& readme);
// Throws Error naming the tensor and the element when `data` holds a NaN or an infinity.
void checkFiniteTensor(const std::string& name, const float* data, long count);

// Throws Error 'tensor "NAME" holds NaN at element I' for the first of `weights` (name, matrix)
// that holds a NaN or an infinity; returns when none does.
void checkFiniteWeights(const std::vector<std::pair<std::string, const WeightMatrix*>>& weights);

// What every family's forward pass checks first: ids in the vocabulary, at most `positions` of
// them (`positionsKey` names the config key in the message), the options, ablated heads that
// exist. Throws Error.
void checkForwardInput(const std::vector<int>& ids, int vocabSize, long positions, const char* positionsKey,
                       int layers, int heads, const ForwardOptions& options);
// The options part of that (temperature, mask, ablated heads), for models that read no ids.
void checkForwardOptions(const ForwardOptions& options, int layers, int heads);

// The start token (when the vocabulary has one), `length` seeded ids from the middle half of
// the vocabulary, then the same ids again: Olsson et al.'s prefix-matching input, seeded so that
// every run scores the same sequence.
std::vector<int> repeatedRandomIds(const TextTokenizer& tokenizer, int vocabSize, int length, std::uint64_t seed);

// Reads tensors of exactly the shapes given, names prefixed. Vectors (norms, biases) are read
// as float32 and checked finite; weight matrices stay in the file as stored, and a non-finite
// value in one is found when a forward pass goes non-finite (firstNonFiniteWeight).
struct TensorReader {
  const TensorStore& store;
  std::string prefix;
  Matrix matrix(const std::string& name, long rows, long cols) const {
    Matrix m = store.readMatrix(prefix + name, rows, cols);
    checkFiniteTensor(prefix + name, m.data(), long(m.size()));
    return m;
  }
  WeightMatrix weight(const std::string& name, long rows, long cols) const {
    return store.readWeight(prefix + name, rows, cols);
  }
  Vector vector(const std::string& name, long size) const { return vector(name, std::vector<std::int64_t>{size}); }
  // A tensor of another shape seen as a matrix or a vector (TensorStore's shaped reads).
  WeightMatrix weight(const std::string& name, const std::vector<std::int64_t>& shape, long rows, long cols) const {
    return store.readWeight(prefix + name, shape, rows, cols);
  }
  Vector vector(const std::string& name, const std::vector<std::int64_t>& shape) const {
    Vector v = store.readVector(prefix + name, shape);
    checkFiniteTensor(prefix + name, v.data(), long(v.size()));
    return v;
  }
};

}  // namespace attnviz::model
