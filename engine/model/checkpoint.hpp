#pragma once
// Finding a checkpoint's files and reading its tensors, shared by the loaders of every family
// (defined in gpt2.cpp, where they started).
#include <cstdint>
#include <string>
#include <vector>

#include "record.hpp"
#include "safetensors.hpp"
#include "tokenizer.hpp"
#include "types.hpp"

namespace attnviz::model {

struct ModelFiles {
  std::string name, folder, weights;  // weights: a .safetensors file or an index .json
};

// NAME|PATH -> the folder and its weights file; refuses pickles and says what is missing.
ModelFiles locateModel(const std::string& arg, const std::string& modelsDir, bool needWeights);
// The first paragraph of a model card (after any front matter and headings); "" when none.
std::string firstParagraph(const std::string& readme);
// Throws Error naming the tensor and the element when `data` holds a NaN or an infinity.
void checkFiniteTensor(const std::string& name, const float* data, long count);

// What every family's forward pass checks first: ids in the vocabulary, at most `positions` of
// them (`positionsKey` names the config key in the message), the options, ablated heads that
// exist. Throws Error.
void checkForwardInput(const std::vector<int>& ids, int vocabSize, long positions, const char* positionsKey,
                       int layers, int heads, const ForwardOptions& options);

// The start token (when the vocabulary has one), `length` seeded ids from the middle half of
// the vocabulary, then the same ids again (gpt2.hpp's repeatedRandomTokens).
std::vector<int> repeatedRandomIds(const BpeTokenizer& tokenizer, int vocabSize, int length, std::uint64_t seed);

// Reads tensors of exactly the shapes given, finite, names prefixed.
struct TensorReader {
  const TensorStore& store;
  std::string prefix;
  Matrix matrix(const std::string& name, long rows, long cols) const {
    Matrix m = store.readMatrix(prefix + name, rows, cols);
    checkFiniteTensor(prefix + name, m.data(), long(m.size()));
    return m;
  }
  Vector vector(const std::string& name, long size) const {
    Vector v = store.readVector(prefix + name, size);
    checkFiniteTensor(prefix + name, v.data(), long(v.size()));
    return v;
  }
};

}  // namespace attnviz::model
