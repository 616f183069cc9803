#include "reference.hpp"

#include <cmath>
#include <random>
#include <string>

#include "stages.hpp"

namespace attnviz::test {

std::vector<ReferenceHead> referenceAttention(const AttentionInputs& in, const AttentionOptions& opt) {
  const int n = int(in.q.rows()), m = int(in.k.rows());
  const int dkh = int(in.q.cols()) / opt.heads, dvh = int(in.v.cols()) / opt.heads;
  std::vector<ReferenceHead> heads(opt.heads);
  for (int h = 0; h < opt.heads; ++h) {
    ReferenceHead& r = heads[h];
    r.scores.assign(n, std::vector<double>(m));
    r.weights.assign(n, std::vector<double>(m, 0.0));
    r.output.assign(n, std::vector<double>(dvh, 0.0));
    r.fullyMasked.assign(n, false);
    double scale = 1.0;
    if (opt.scaleOverride) scale = *opt.scaleOverride;
    else if (opt.score == ScoreFunction::Scaled) scale = 1.0 / std::sqrt(double(dkh));
    scale /= double(opt.temperature);
    for (int i = 0; i < n; ++i) {
      double qNorm = 0;
      for (int c = 0; c < dkh; ++c) qNorm += double(in.q(i, h * dkh + c)) * in.q(i, h * dkh + c);
      for (int j = 0; j < m; ++j) {
        double dot = 0, kNorm = 0;
        for (int c = 0; c < dkh; ++c) {
          dot += double(in.q(i, h * dkh + c)) * double(in.k(j, h * dkh + c));
          kNorm += double(in.k(j, h * dkh + c)) * in.k(j, h * dkh + c);
        }
        if (opt.score == ScoreFunction::Cosine)
          dot = (qNorm > 0 && kNorm > 0) ? dot / (std::sqrt(qNorm) * std::sqrt(kNorm)) : 0.0;
        r.scores[i][j] = dot;
      }
      // The same limit rules as the engine, from the definitions: the row's extreme score s*
      // (the max for a positive scale, the min for a negative one) is subtracted before
      // scaling, so scale·(s − s*) ≤ 0 never overflows and T → 0 gives one-hot weights on the
      // maximum, ties shared equally.
      std::vector<bool> allowed(m);
      int best = -1;
      for (int j = 0; j < m; ++j) {
        bool ok = true;
        if (opt.mask == MaskKind::Causal) ok = j <= i + (m - n);
        if (opt.mask == MaskKind::CausalTopLeft) ok = j <= i;
        if (opt.mask == MaskKind::Custom) ok = opt.customMask(i, j) != 0;
        allowed[j] = ok;
        if (ok && (best < 0 || scale * (r.scores[i][j] - r.scores[i][best]) > 0)) best = j;
      }
      if (best < 0) {
        r.fullyMasked[i] = true;
        continue;
      }
      const double top = r.scores[i][best];
      double sum = 0;
      for (int j = 0; j < m; ++j)
        if (allowed[j]) sum += std::exp(scale * (r.scores[i][j] - top));
      for (int j = 0; j < m; ++j)
        r.weights[i][j] = allowed[j] ? std::exp(scale * (r.scores[i][j] - top)) / sum : 0.0;
      for (int c = 0; c < dvh; ++c)
        for (int j = 0; j < m; ++j) r.output[i][c] += r.weights[i][j] * in.v(j, h * dvh + c);
    }
  }
  return heads;
}

namespace {

// Tolerances: weights |a − a_ref| ≤ 1e-5; outputs |o − o_ref| ≤ 1e-4 · max |v| of the head;
// each attending row sums to 1 within 1e-5.
constexpr double kLimitWeightTolerance = 1e-5;
constexpr double kLimitOutputTolerance = 1e-4;

}  // namespace

std::string compareWithReference(const AttentionTrace& t, const AttentionInputs& in, const AttentionOptions& opt) {
  const auto ref = referenceAttention(in, opt);
  for (int h = 0; h < t.heads; ++h) {
    const HeadTrace& ht = t.head[std::size_t(h)];
    const std::string head = "head " + std::to_string(h) + ": ";
    if (!ht.weights.allFinite()) return head + "non-finite weight";
    if (!ht.output.allFinite()) return head + "non-finite output";
    if (!ht.rowSum.allFinite() || !ht.stats.entropy.allFinite() || !ht.stats.maxWeight.allFinite())
      return head + "non-finite row statistic";
    Matrix scratch;
    for (StageId id : {StageId::Scores, StageId::Scaled, StageId::Masked, StageId::MinusRowMax, StageId::Exp}) {
      const Matrix& values = stageValues(t, id, h, scratch);
      if (values.array().isNaN().any()) return head + "NaN in stage " + stageInfo(id).name;
    }
    if (!ht.expValues.allFinite()) return head + "non-finite exp value";
    const double vMax = in.v.middleCols(h * t.headValueWidth(), t.headValueWidth()).cwiseAbs().maxCoeff();
    for (int i = 0; i < t.n; ++i) {
      if (ht.stats.fullyMasked[std::size_t(i)] != ref[std::size_t(h)].fullyMasked[std::size_t(i)])
        return head + "fully-masked flag of row " + std::to_string(i);
      if (!ref[std::size_t(h)].fullyMasked[std::size_t(i)] && std::abs(ht.weights.row(i).cast<double>().sum() - 1) > 1e-5)
        return head + "row " + std::to_string(i) + " sums to " + std::to_string(ht.weights.row(i).sum());
      for (int j = 0; j < t.m; ++j) {
        const double e = std::abs(ht.weights(i, j) - ref[std::size_t(h)].weights[std::size_t(i)][std::size_t(j)]);
        if (!(e <= kLimitWeightTolerance))
          return head + "weight [" + std::to_string(i) + ", " + std::to_string(j) + "] = " +
                 std::to_string(ht.weights(i, j)) + ", reference " +
                 std::to_string(ref[std::size_t(h)].weights[std::size_t(i)][std::size_t(j)]);
      }
      for (int c = 0; c < t.headValueWidth(); ++c) {
        const double r = ref[std::size_t(h)].output[std::size_t(i)][std::size_t(c)];
        if (!(std::abs(ht.output(i, c) - r) <= kLimitOutputTolerance * vMax))
          return head + "output [" + std::to_string(i) + ", " + std::to_string(c) + "] = " +
                 std::to_string(ht.output(i, c)) + ", reference " + std::to_string(r);
      }
    }
  }
  return "";
}

Matrix randomMatrix(int rows, int cols, unsigned seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Matrix m(rows, cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) m(r, c) = dist(rng);
  return m;
}

}  // namespace attnviz::test
