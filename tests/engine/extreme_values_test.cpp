// Extreme values (issue 14): temperatures and scales from 1e-30 to 1e30, inputs up to 1e30 in
// magnitude, against the double reference with the same limit rules. Never NaN or ∞ in weights,
// exp values, row sums or outputs; rows sum to 1; the stages stay consistent with each other.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "attention.hpp"
#include "reference.hpp"
#include "stages.hpp"

namespace attnviz {
namespace {

using test::randomMatrix;
using test::compareWithReference;

MaskMatrix randomMask(int n, int m, unsigned seed) {
  std::mt19937 rng(seed);
  MaskMatrix mask(n, m);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) mask(i, j) = (rng() % 3) != 0;
  mask.row(1).setZero();  // one fully masked row
  return mask;
}

TEST(ExtremeValues, SweepOfTemperatureScaleAndMagnitudeMatchesTheReference) {
  const float temperatures[] = {1e-30f, 1e-12f, 1e-4f, 0.1f, 1, 10, 1e4f, 1e12f, 1e30f};
  const std::optional<float> scales[] = {std::nullopt, 1e-30f, 1e-6f, 1.0f, 1e6f, 1e30f, -1e3f};
  const float magnitudes[] = {1e-30f, 1e-10f, 1, 1e10f, 1e20f, 1e30f};
  const ScoreFunction scores[] = {ScoreFunction::Scaled, ScoreFunction::Dot, ScoreFunction::Cosine};
  const MaskKind masks[] = {MaskKind::None, MaskKind::Causal, MaskKind::CausalTopLeft, MaskKind::Custom};
  const int n = 5, m = 7;
  int cases = 0, failures = 0;
  unsigned seed = 100;
  for (const float magnitude : magnitudes) {
    for (const int heads : {1, 2}) {
      const AttentionInputs in{randomMatrix(n, 4, seed, -magnitude, magnitude),
                               randomMatrix(m, 4, seed + 1, -magnitude, magnitude),
                               randomMatrix(m, 4, seed + 2, -magnitude, magnitude)};
      seed += 3;
      for (const float temperature : temperatures)
        for (const auto& scale : scales)
          for (const ScoreFunction score : scores)
            for (const MaskKind mask : masks) {
              AttentionOptions opt;
              opt.heads = heads;
              opt.temperature = temperature;
              opt.scaleOverride = scale;
              opt.score = score;
              opt.mask = mask;
              if (mask == MaskKind::Custom) opt.customMask = randomMask(n, m, seed);
              ++cases;
              const std::string diff = compareWithReference(computeAttention(in, opt), in, opt);
              if (!diff.empty() && ++failures <= 10)
                ADD_FAILURE() << "|x| ≤ " << magnitude << ", heads " << heads << ", T " << temperature << ", scale "
                              << (scale ? std::to_string(*scale) : "default") << ", " << toString(score) << ", mask "
                              << toString(mask) << ": " << diff;
            }
    }
  }
  EXPECT_EQ(failures, 0) << "of " << cases << " cases";
  EXPECT_GT(cases, 9000);
}

// Issue 14's first case: the score 1e40 overflows float; the weight is 1 and the output 1e20.
TEST(ExtremeValues, ScoreBeyondFloatRangeGivesTheLimit) {
  Matrix x(1, 1);
  x << 1e20f;
  AttentionOptions opt;
  opt.score = ScoreFunction::Dot;
  const AttentionTrace t = computeAttention({x, x, x}, opt);
  const HeadTrace& h = t.head[0];
  EXPECT_EQ(h.weights(0, 0), 1.0f);
  EXPECT_EQ(h.output(0, 0), 1e20f);
  EXPECT_EQ(h.expValues(0, 0), 1.0f);
  EXPECT_EQ(h.rowSum(0), 1.0f);
  EXPECT_EQ(h.stats.argmax(0), 0);
  EXPECT_EQ(h.stats.maxWeight(0), 1.0f);
  EXPECT_EQ(h.stats.entropy(0), 0.0f);
  // Beyond float's range the score stages round to +∞, as IEEE float does; max-subtracted is 0.
  EXPECT_EQ(h.scores(0, 0), std::numeric_limits<float>::infinity());
  EXPECT_EQ(h.scaled(0, 0), std::numeric_limits<float>::infinity());
  EXPECT_EQ(shiftedScore(h, opt, 0, 0), 0.0f);
  Matrix scratch;
  EXPECT_EQ(stageValues(t, StageId::MinusRowMax, 0, scratch)(0, 0), 0.0f);
}

// Issue 14's third case: a NaN sat next to a 1.
TEST(ExtremeValues, HugeAndSmallKeysGiveOneHotRowsNotNaN) {
  Matrix x(2, 1);
  x << 1e20f, 3;
  AttentionOptions opt;
  opt.score = ScoreFunction::Dot;
  const AttentionTrace t = computeAttention({x, x, x}, opt);
  const HeadTrace& h = t.head[0];
  // Row 0: scores 1e40, 3e20; row 1: 3e20, 9. Both rows put all weight on key 0.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(h.weights(i, 0), 1.0f) << i;
    EXPECT_EQ(h.weights(i, 1), 0.0f) << i;
    EXPECT_EQ(h.output(i, 0), 1e20f) << i;
    EXPECT_EQ(h.stats.argmax(i), 0);
  }
  Matrix scratch;
  const Matrix shifted = stageValues(t, StageId::MinusRowMax, 0, scratch);
  EXPECT_FALSE(shifted.array().isNaN().any());
  EXPECT_EQ(shifted(1, 0), 0.0f);
  EXPECT_FLOAT_EQ(shifted(1, 1), 9.0f - 3e20f);
  EXPECT_TRUE(h.expValues.allFinite());
}

// Issue 14's second case: T = 1e-40 (a float denormal) made every weight NaN.
TEST(ExtremeValues, TemperatureTowardZeroIsOneHotOnTheRowMaximum) {
  const AttentionInputs in{randomMatrix(6, 8, 1), randomMatrix(9, 8, 2), randomMatrix(9, 3, 3)};
  AttentionOptions opt;
  opt.temperature = 1e-40f;
  ASSERT_GT(opt.temperature, 0.0f);
  const AttentionTrace t = computeAttention(in, opt);
  const HeadTrace& h = t.head[0];
  EXPECT_EQ(h.scale, std::numeric_limits<float>::infinity());
  for (int i = 0; i < 6; ++i) {
    Eigen::Index best = 0;
    (in.q.row(i).cast<double>() * in.k.cast<double>().transpose()).maxCoeff(&best);
    for (int j = 0; j < 9; ++j) EXPECT_EQ(h.weights(i, j), j == best ? 1.0f : 0.0f) << i << ", " << j;
    EXPECT_EQ(h.output.row(i), in.v.row(best));
    EXPECT_EQ(h.stats.argmax(i), best);
  }
  EXPECT_EQ(compareWithReference(t, in, opt), "");
  Matrix scratch;
  EXPECT_FALSE(stageValues(t, StageId::Scaled, 0, scratch).array().isNaN().any());
}

TEST(ExtremeValues, TiesShareTheLimitEquallyAndANegativeScaleSelectsTheMinimum) {
  Matrix q(1, 2), k(4, 2), v(4, 1);
  q << 1, 2;
  k << 3, 1, 0, 0, 3, 1, -2, -2;  // scores 5, 0, 5, -6
  v << 1, 10, 3, 100;
  AttentionOptions opt;
  opt.score = ScoreFunction::Dot;
  opt.temperature = 1e-30f;
  AttentionTrace t = computeAttention({q, k, v}, opt);
  EXPECT_EQ(t.head[0].weights(0, 0), 0.5f);
  EXPECT_EQ(t.head[0].weights(0, 2), 0.5f);
  EXPECT_EQ(t.head[0].weights(0, 1), 0.0f);
  EXPECT_EQ(t.head[0].output(0, 0), 2.0f);
  EXPECT_EQ(t.head[0].stats.argmax(0), 0);
  opt.scaleOverride = -1;  // the largest scaled score is at the smallest raw score
  t = computeAttention({q, k, v}, opt);
  EXPECT_EQ(t.head[0].weights(0, 3), 1.0f);
  EXPECT_EQ(t.head[0].output(0, 0), 100.0f);
  opt.scaleOverride = 0;  // no preference: uniform
  opt.temperature = 1;
  t = computeAttention({q, k, v}, opt);
  for (int j = 0; j < 4; ++j) EXPECT_EQ(t.head[0].weights(0, j), 0.25f);
}

TEST(ExtremeValues, ValuesNearFloatRangeDoNotRoundTheOutputToInfinity) {
  Matrix q(1, 1), k(2, 1), v(2, 1);
  q << 0;
  k << 1, 1;
  const float big = std::numeric_limits<float>::max();
  v << big, big;
  const AttentionTrace t = computeAttention({q, k, v}, {});
  EXPECT_EQ(t.head[0].output(0, 0), big);
}

TEST(ExtremeValues, CosineOfTinyAndHugeRowsIsStillACosine) {
  // Float norms of these rows underflow to 0 or overflow to ∞; their cosines are ±1 and 0.
  Matrix q(2, 2), k(2, 2), v(2, 1);
  q << 1e-30f, 0, 1e30f, 1e30f;
  k << 1e-25f, 0, 0, 1e25f;
  v << 1, 2;
  AttentionOptions opt;
  opt.score = ScoreFunction::Cosine;
  const AttentionTrace t = computeAttention({q, k, v}, opt);
  EXPECT_FLOAT_EQ(t.head[0].scores(0, 0), 1.0f);
  EXPECT_FLOAT_EQ(t.head[0].scores(0, 1), 0.0f);
  EXPECT_NEAR(t.head[0].scores(1, 1), std::sqrt(0.5), 1e-6);
  EXPECT_EQ(compareWithReference(t, {q, k, v}, opt), "");
}

// A lean trace (derived stages dropped) rebuilds exactly the stages a full one stores, on
// rows computed in double too; and the stages agree: exp = exp(shifted), weights = exp / sum.
TEST(ExtremeValues, DerivedStagesOfRowsInDoubleMatchTheStoredOnes) {
  AttentionInputs in{randomMatrix(7, 4, 11, -1e20f, 1e20f), randomMatrix(6, 4, 12, -1e20f, 1e20f),
                     randomMatrix(6, 4, 13)};
  in.q.row(3) = randomMatrix(1, 4, 14);  // a row that stays in float
  in.q.row(3) *= 1e-21f;
  AttentionOptions opt;
  opt.heads = 2;
  opt.mask = MaskKind::CausalTopLeft;
  const AttentionTrace full = computeAttention(in, opt, true), lean = computeAttention(in, opt, false);
  for (int h = 0; h < 2; ++h) {
    const HeadTrace& f = full.head[std::size_t(h)];
    const HeadTrace& l = lean.head[std::size_t(h)];
    EXPECT_FALSE(f.exactRows.empty());
    EXPECT_TRUE(deriveScaled(l) == f.scaled);
    EXPECT_TRUE(deriveMasked(l, opt) == f.masked);
    EXPECT_TRUE(deriveExp(l, opt) == f.expValues);
    EXPECT_TRUE(deriveShifted(l, opt) == deriveShifted(f, opt));
    const Matrix shifted = deriveShifted(f, opt);
    for (int i = 0; i < full.n; ++i) {
      EXPECT_EQ(shifted.row(i).maxCoeff(), 0.0f) << "row " << i;
      for (int j = 0; j < full.m; ++j) {
        EXPECT_NEAR(f.expValues(i, j), std::exp(double(shifted(i, j))), 1e-7);
        EXPECT_NEAR(f.weights(i, j), f.expValues(i, j) / f.rowSum(i), 1e-7);
      }
    }
  }
  EXPECT_EQ(compareWithReference(full, in, opt), "");
}

TEST(ExtremeValues, TemperatureEditOnAPipelineMovesRowsBetweenFloatAndDouble) {
  AttentionPipeline p;
  const AttentionInputs in{randomMatrix(5, 4, 21), randomMatrix(8, 4, 22), randomMatrix(8, 2, 23)};
  p.setInputs(in);
  AttentionOptions opt;
  for (const float t : {1.0f, 1e-35f, 1.0f, 1e-3f}) {
    opt.temperature = t;
    p.setOptions(opt);
    EXPECT_EQ(compareWithReference(p.run(), in, opt), "") << "T = " << t;
  }
  EXPECT_TRUE(p.trace().head[0].exactRows.size() > 0);  // T = 1e-3 puts rows in double
  opt.temperature = 1;
  p.setOptions(opt);
  EXPECT_TRUE(p.run().head[0].exactRows.empty());
}

TEST(ExtremeValues, CausalTopLeftSeesKeysUpToTheQueryIndex) {
  AttentionOptions opt;
  opt.mask = MaskKind::CausalTopLeft;
  EXPECT_TRUE(isAllowed(opt, 2, 4, 0, 0));
  EXPECT_FALSE(isAllowed(opt, 2, 4, 0, 1));
  EXPECT_TRUE(isAllowed(opt, 2, 4, 1, 1));
  EXPECT_FALSE(isAllowed(opt, 2, 4, 1, 2));
  EXPECT_TRUE(isAllowed(opt, 4, 2, 3, 1));  // n > m: later queries see every key
  EXPECT_EQ(parseMaskKind("causal-top-left"), MaskKind::CausalTopLeft);
  EXPECT_STREQ(toString(MaskKind::CausalTopLeft), "causal-top-left");
  for (const auto& [n, m] : {std::pair{3, 7}, std::pair{7, 3}, std::pair{5, 5}}) {
    const AttentionInputs in{randomMatrix(n, 4, 31), randomMatrix(m, 4, 32), randomMatrix(m, 3, 33)};
    const AttentionTrace t = computeAttention(in, opt);
    EXPECT_EQ(compareWithReference(t, in, opt), "") << n << "×" << m;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < m; ++j) EXPECT_EQ(t.head[0].weights(i, j) > 0, j <= i) << i << ", " << j;
  }
  try {
    parseMaskKind("triangular");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "unknown mask \"triangular\" (expected none, causal or causal-top-left)");
  }
}

}  // namespace
}  // namespace attnviz
