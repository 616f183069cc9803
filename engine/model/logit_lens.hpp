#pragma once
// The logit lens (nostalgebraist, 2020): the model's final norm and unembedding applied to the
// residual stream after every block, so each layer's "guess" for the next token can be read.
#include <vector>

#include "family.hpp"
#include "record.hpp"

namespace attnviz::model {

struct LensGuess {
  std::vector<int> ids;               // the most probable tokens, most probable first
  std::vector<double> probabilities;  // their softmax probabilities
};

struct LogitLens {
  int entries = 0;    // L + 1: entry 0 the embeddings, entry l the stream after block l
  int positions = 0;  // n
  std::vector<LensGuess> top;  // entries × positions, row-major
  // entries × (n − 1): the probability entry l gives the actual token i + 1 at position i.
  Matrix nextTokenProbability;
  const LensGuess& at(int entry, int position) const { return top[std::size_t(entry) * positions + position]; }
};

// Every entry of record.resid through the model's readout, softmax in double; the `topK` most
// probable tokens per position (ties by the smaller id). Throws Error for a model without a
// readout or a record without every position's residual stream.
LogitLens logitLens(const Architecture& model, const ForwardRecord& record, int topK = 10);

}  // namespace attnviz::model
