#include "head_scores.hpp"

#include <cmath>

namespace attnviz::model {

HeadScores scoreHead(const Matrix& a, const std::vector<int>& ids) {
  HeadScores s;
  const int n = int(a.rows());
  if (n < 2) return s;
  int duplicateRows = 0, inductionRows = 0;
  for (int i = 1; i < n; ++i) {
    s.previousToken += a(i, i - 1);
    s.firstToken += a(i, 0);
    double entropy = 0;
    for (int j = 0; j <= i && j < a.cols(); ++j)
      if (a(i, j) > 0) entropy -= double(a(i, j)) * std::log(double(a(i, j)));
    s.entropy += entropy / std::log(double(i + 1));
    double duplicate = 0, induction = 0;
    bool hasCopy = false, hasNext = false;
    // Tokens without ids (a vision model's patches) have no copies to find.
    const int compared = int(ids.size()) >= n ? i : 0;
    for (int j = 0; j < compared; ++j) {
      if (ids[j] != ids[i]) continue;
      hasCopy = true;
      duplicate += a(i, j);
      if (j + 1 < i) {
        hasNext = true;
        induction += a(i, j + 1);
      }
    }
    if (hasCopy) {
      ++duplicateRows;
      s.duplicateToken += duplicate;
    }
    if (hasNext) {
      ++inductionRows;
      s.induction += induction;
    }
  }
  s.previousToken /= n - 1;
  s.firstToken /= n - 1;
  s.entropy /= n - 1;
  if (duplicateRows) s.duplicateToken /= duplicateRows;
  if (inductionRows) s.induction /= inductionRows;
  return s;
}

const char* headScoreName(int kind) {
  static const char* names[kHeadScoreKinds] = {"previous_token", "first_token", "duplicate_token", "induction",
                                               "entropy"};
  return kind >= 0 && kind < kHeadScoreKinds ? names[kind] : "?";
}

double headScore(const HeadScores& s, int kind) {
  switch (kind) {
    case 0: return s.previousToken;
    case 1: return s.firstToken;
    case 2: return s.duplicateToken;
    case 3: return s.induction;
    case 4: return s.entropy;
  }
  return 0;
}

}  // namespace attnviz::model
