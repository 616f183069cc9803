#pragma once
// An independent reference: plain double-precision loops, no Eigen products, written straight
// from the definitions. The engine and every backend are checked against it.
#include <string>
#include <vector>

#include "attention.hpp"

namespace attnviz::test {

struct ReferenceHead {
  std::vector<std::vector<double>> scores, weights, output;  // n×m, n×m, n×dvh
  std::vector<bool> fullyMasked;
};

std::vector<ReferenceHead> referenceAttention(const AttentionInputs& in, const AttentionOptions& opt);

// Checks a trace (any backend) against the reference: never NaN or ∞ in weights, exp values,
// row sums, statistics or outputs, no NaN in any stage, every attending row summing to 1 within
// 1e-5, weights within 1e-5 and outputs within 1e-4 · max|v| of the head. Returns "" when it
// matches, else where it first differs.
std::string compareWithReference(const AttentionTrace& t, const AttentionInputs& in, const AttentionOptions& opt);

// Random matrix with entries uniform in [lo, hi), from a fixed seed.
Matrix randomMatrix(int rows, int cols, unsigned seed, float lo = -1, float hi = 1);

}  // namespace attnviz::test
