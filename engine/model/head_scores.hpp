#pragma once
// What a head does, as numbers in [0, 1] computed from its weights A (n × n, causal) and the
// token ids, after TransformerLens' head detector (attention compared with a 0/1 pattern).
#include <string>
#include <vector>

#include "types.hpp"

namespace attnviz::model {

struct HeadScores {
  double previousToken = 0;   // mean over i ≥ 1 of A[i, i−1]
  double firstToken = 0;      // mean over i ≥ 1 of A[i, 0]
  double duplicateToken = 0;  // mean, over queries with an earlier copy of their token, of the mass on those copies
  double induction = 0;       // the same for the tokens right after the earlier copies (j + 1 < i)
  double entropy = 0;         // mean over i ≥ 1 of the row entropy / log(i + 1) (1 = uniform)
};

// With fewer ids than rows (a vision model: patches have no token ids) duplicate_token and
// induction stay 0.
HeadScores scoreHead(const Matrix& weights, const std::vector<int>& ids);

// The score kinds in a fixed order, with their stable names ("previous_token", ...).
inline constexpr int kHeadScoreKinds = 5;
const char* headScoreName(int kind);
double headScore(const HeadScores& s, int kind);

}  // namespace attnviz::model
