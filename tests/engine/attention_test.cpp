#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "attention.hpp"
#include "reference.hpp"

namespace attnviz {
namespace {

using test::randomMatrix;
using test::referenceAttention;

struct Case {
  int n, m, dk, dv, heads;
  MaskKind mask;
  ScoreFunction score;
  float temperature;
  float range;
};

MaskMatrix randomMask(int n, int m, unsigned seed, bool withFullyMaskedRows) {
  std::mt19937 rng(seed);
  MaskMatrix mask(n, m);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) mask(i, j) = (rng() % 3) != 0;
  if (withFullyMaskedRows) {
    mask.row(0).setZero();
    if (n > 2) mask.row(n / 2).setZero();
  }
  return mask;
}

// Weights: max abs error ≤ 1e-5. Outputs: |got − ref| ≤ 1e-4 · (1 + |ref|).
void expectMatchesReference(const AttentionInputs& in, const AttentionOptions& opt, const std::string& label) {
  const AttentionTrace t = computeAttention(in, opt);
  const auto ref = referenceAttention(in, opt);
  ASSERT_EQ(int(t.head.size()), opt.heads);
  for (int h = 0; h < opt.heads; ++h) {
    double worstWeight = 0, worstOutput = 0;
    int wi = -1, wj = -1;
    for (int i = 0; i < t.n; ++i) {
      EXPECT_EQ(t.head[h].stats.fullyMasked[i], ref[h].fullyMasked[i]) << label << " row " << i;
      for (int j = 0; j < t.m; ++j) {
        const double e = std::abs(t.head[h].weights(i, j) - ref[h].weights[i][j]);
        ASSERT_FALSE(std::isnan(t.head[h].weights(i, j))) << label;
        if (e > worstWeight) worstWeight = e, wi = i, wj = j;
      }
      for (int c = 0; c < t.headValueWidth(); ++c) {
        const double r = ref[h].output[i][c];
        worstOutput = std::max(worstOutput, std::abs(t.head[h].output(i, c) - r) / (1 + std::abs(r)));
      }
    }
    EXPECT_LE(worstWeight, 1e-5) << label << " head " << h << " first worst weight at [" << wi << ", " << wj << "]";
    EXPECT_LE(worstOutput, 1e-4) << label << " head " << h;
  }
}

TEST(Attention, MatchesDoubleReferenceAcrossShapesMasksHeadsAndTemperatures) {
  const Case cases[] = {
      {1, 1, 1, 1, 1, MaskKind::None, ScoreFunction::Scaled, 1, 10},
      {3, 3, 1, 1, 1, MaskKind::None, ScoreFunction::Scaled, 1, 10},
      {5, 9, 8, 4, 2, MaskKind::Causal, ScoreFunction::Scaled, 0.5f, 10},
      {9, 5, 8, 4, 2, MaskKind::Causal, ScoreFunction::Scaled, 2, 10},
      {17, 33, 12, 6, 3, MaskKind::Custom, ScoreFunction::Dot, 0.1f, 1},
      {64, 64, 64, 64, 4, MaskKind::None, ScoreFunction::Scaled, 1, 10},
      {129, 70, 16, 32, 1, MaskKind::Custom, ScoreFunction::Cosine, 0.1f, 10},
      {100, 100, 64, 64, 8, MaskKind::Causal, ScoreFunction::Dot, 10, 1},
      {512, 512, 64, 64, 1, MaskKind::None, ScoreFunction::Scaled, 1, 10},
      {300, 512, 32, 16, 2, MaskKind::Custom, ScoreFunction::Scaled, 3, 10},
  };
  unsigned seed = 1;
  for (const Case& c : cases) {
    AttentionInputs in{randomMatrix(c.n, c.dk, seed, -c.range, c.range),
                       randomMatrix(c.m, c.dk, seed + 1, -c.range, c.range),
                       randomMatrix(c.m, c.dv, seed + 2, -c.range, c.range)};
    AttentionOptions opt;
    opt.heads = c.heads;
    opt.mask = c.mask;
    opt.score = c.score;
    opt.temperature = c.temperature;
    if (c.mask == MaskKind::Custom) opt.customMask = randomMask(c.n, c.m, seed + 3, true);
    seed += 10;
    expectMatchesReference(in, opt, "n=" + std::to_string(c.n) + " m=" + std::to_string(c.m) +
                                        " heads=" + std::to_string(c.heads));
  }
}

TEST(Attention, ScaleOverrideReplacesDefaultScale) {
  AttentionInputs in{randomMatrix(6, 4, 1), randomMatrix(7, 4, 2), randomMatrix(7, 3, 3)};
  AttentionOptions opt;
  opt.scaleOverride = 0.3f;
  opt.temperature = 2;
  const AttentionTrace t = computeAttention(in, opt);
  EXPECT_FLOAT_EQ(t.head[0].scale, 0.15f);
  expectMatchesReference(in, opt, "scale override");
}

TEST(Attention, ScaledUsesEachHeadsOwnKeyWidth) {
  AttentionInputs in{randomMatrix(4, 16, 1), randomMatrix(4, 16, 2), randomMatrix(4, 8, 3)};
  AttentionOptions opt;
  opt.heads = 4;  // d_k per head = 4, so the scale is 1/2, not 1/4
  EXPECT_FLOAT_EQ(computeAttention(in, opt).head[0].scale, 0.5f);
}

TEST(Attention, HugeScoresDoNotOverflow) {
  Matrix q(2, 1), k(3, 1), v(3, 1);
  q << 100, -100;
  k << 100, 99, -100;  // scores up to 1e4
  v << 1, 2, 3;
  AttentionOptions opt;
  opt.score = ScoreFunction::Dot;
  const AttentionTrace t = computeAttention({q, k, v}, opt);
  ASSERT_TRUE(t.head[0].weights.allFinite());
  EXPECT_NEAR(t.head[0].weights(0, 0), 1.0, 1e-6);
  EXPECT_NEAR(t.head[0].weights(1, 2), 1.0, 1e-6);
  EXPECT_NEAR(t.head[0].output(0, 0), 1.0, 1e-5);
  expectMatchesReference({q, k, v}, opt, "huge scores");
}

TEST(Attention, FullyMaskedRowGivesZerosNotNaN) {
  AttentionInputs in{randomMatrix(3, 2, 1), randomMatrix(4, 2, 2), randomMatrix(4, 2, 3)};
  AttentionOptions opt;
  opt.mask = MaskKind::Custom;
  opt.customMask = MaskMatrix::Ones(3, 4);
  opt.customMask.row(1).setZero();
  const AttentionTrace t = computeAttention(in, opt);
  const HeadTrace& h = t.head[0];
  EXPECT_TRUE(h.stats.fullyMasked[1]);
  EXPECT_FALSE(h.stats.fullyMasked[0]);
  EXPECT_EQ(h.stats.argmax(1), -1);
  EXPECT_TRUE(h.weights.row(1).isZero(0));
  EXPECT_TRUE(h.output.row(1).isZero(0));
  EXPECT_TRUE(h.weights.allFinite());
  EXPECT_TRUE(std::isinf(h.masked(1, 0)) && h.masked(1, 0) < 0);
  EXPECT_NEAR(h.weights.row(0).sum(), 1.0, 1e-6);
}

TEST(Attention, CausalMaskAlignsTheLastQueryWithTheLastKey) {
  // n = 2, m = 4: query i sees key j when j <= i + 2.
  AttentionOptions opt;
  opt.mask = MaskKind::Causal;
  EXPECT_TRUE(isAllowed(opt, 2, 4, 0, 2));
  EXPECT_FALSE(isAllowed(opt, 2, 4, 0, 3));
  EXPECT_TRUE(isAllowed(opt, 2, 4, 1, 3));
  // n == m: the familiar lower triangle.
  EXPECT_TRUE(isAllowed(opt, 3, 3, 1, 1));
  EXPECT_FALSE(isAllowed(opt, 3, 3, 1, 2));
  const AttentionTrace t = computeAttention({randomMatrix(3, 2, 1), randomMatrix(3, 2, 2), randomMatrix(3, 2, 3)}, opt);
  EXPECT_FLOAT_EQ(t.head[0].weights(0, 0), 1.0f);
  EXPECT_EQ(t.head[0].weights(0, 1), 0.0f);
}

TEST(Attention, ArticlesFirstExampleIsNotUniform) {
  // The reference articles printed weights of 1/3 and outputs 7/3, 8/3, 9/3 for this input.
  Matrix q(3, 1), k(3, 1), v(3, 1);
  q << 1, 2, 3;
  k << 4, 5, 6;
  v << 7, 8, 9;
  const AttentionTrace t = computeAttention({q, k, v}, {});
  EXPECT_FLOAT_EQ(t.head[0].scale, 1.0f);  // d_k = 1, not sqrt(3)
  const double e4 = std::exp(12.0), e5 = std::exp(15.0), e6 = std::exp(18.0);  // row 3: 3·4, 3·5, 3·6
  EXPECT_NEAR(t.head[0].weights(2, 2), e6 / (e4 + e5 + e6), 1e-6);
  EXPECT_NEAR(t.head[0].output(2, 0), (7 * e4 + 8 * e5 + 9 * e6) / (e4 + e5 + e6), 1e-5);
  EXPECT_GT(std::abs(t.head[0].weights(0, 0) - 1.0 / 3), 0.2);
}

TEST(Attention, RowStatsDescribeEachRow) {
  Matrix q(1, 1), k(2, 1), v(2, 1);
  q << 0;
  k << 1, 2;
  v << 1, 1;
  const AttentionTrace t = computeAttention({q, k, v}, {});
  EXPECT_NEAR(t.head[0].stats.entropy(0), std::log(2.0), 1e-6);  // equal scores: uniform
  EXPECT_NEAR(t.head[0].stats.maxWeight(0), 0.5, 1e-7);
}

TEST(Attention, NaNInputIsAnErrorNamingMatrixRowAndColumn) {
  AttentionInputs in{randomMatrix(3, 2, 1), randomMatrix(3, 2, 2), randomMatrix(3, 2, 3)};
  in.k(2, 1) = std::nanf("");
  try {
    computeAttention(in, {});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "K[2, 1] is NaN (row 2, column 1, counting from 0)");
  }
  in.k(2, 1) = 0;
  in.v(0, 0) = INFINITY;
  EXPECT_THROW(computeAttention(in, {}), Error);
}

TEST(Attention, ShapeAndOptionErrorsAreOneLine) {
  const auto message = [](const AttentionInputs& in, const AttentionOptions& opt) -> std::string {
    try {
      computeAttention(in, opt);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  AttentionOptions heads3;
  heads3.heads = 3;
  EXPECT_EQ(message({randomMatrix(2, 3, 1), randomMatrix(2, 4, 2), randomMatrix(2, 2, 3)}, {}),
            "Q is 2×3 but K is 2×4: Q and K need the same number of columns (d_k)");
  EXPECT_EQ(message({randomMatrix(2, 4, 1), randomMatrix(2, 4, 2), randomMatrix(3, 2, 3)}, {}),
            "K is 2×4 but V is 3×2: K and V need the same number of rows (m)");
  EXPECT_EQ(message({randomMatrix(2, 4, 1), randomMatrix(2, 4, 2), randomMatrix(2, 3, 3)}, heads3),
            "d_k = 4 does not divide into 3 heads");
  AttentionOptions cold;
  cold.temperature = 0;
  EXPECT_NE(message({randomMatrix(2, 4, 1), randomMatrix(2, 4, 2), randomMatrix(2, 4, 3)}, cold).find("temperature"),
            std::string::npos);
  AttentionOptions badMask;
  badMask.mask = MaskKind::Custom;
  badMask.customMask = MaskMatrix::Ones(3, 3);
  EXPECT_EQ(message({randomMatrix(2, 4, 1), randomMatrix(2, 4, 2), randomMatrix(2, 4, 3)}, badMask),
            "the mask is 3×3 but attention is 2×2 (n×m)");
}

TEST(Pipeline, TemperatureRecomputesFromScaleOnAndKeepsScores) {
  AttentionPipeline p;
  p.setInputs({randomMatrix(8, 4, 1), randomMatrix(8, 4, 2), randomMatrix(8, 4, 3)});
  p.run();
  EXPECT_EQ(p.lastRecomputedFrom(), Stage::Scores);
  const Matrix scoresBefore = p.trace().head[0].scores;
  const float* scoresData = p.trace().head[0].scores.data();
  AttentionOptions opt = p.options();
  opt.temperature = 0.25f;
  p.setOptions(opt);
  EXPECT_EQ(p.firstDirtyStage(), Stage::Scale);
  p.run();
  EXPECT_EQ(p.lastRecomputedFrom(), Stage::Scale);
  EXPECT_EQ(p.trace().head[0].scores.data(), scoresData);  // not reallocated, not recomputed
  EXPECT_TRUE(p.trace().head[0].scores == scoresBefore);
  expectMatchesReference(p.inputs(), opt, "after temperature change");
  // Same options again: nothing to do.
  p.setOptions(opt);
  p.run();
  EXPECT_EQ(p.lastRecomputedFrom(), Stage::Done);
}

TEST(Pipeline, EditingOnlyVRecomputesOnlyTheOutput) {
  AttentionPipeline p;
  p.setInputs({randomMatrix(5, 4, 1), randomMatrix(6, 4, 2), randomMatrix(6, 2, 3)});
  p.run();
  const Matrix weightsBefore = p.trace().head[0].weights;
  p.setValues(randomMatrix(6, 2, 9));
  EXPECT_EQ(p.firstDirtyStage(), Stage::Output);
  p.run();
  EXPECT_EQ(p.lastRecomputedFrom(), Stage::Output);
  EXPECT_TRUE(p.trace().head[0].weights == weightsBefore);
  expectMatchesReference(p.inputs(), p.options(), "after V edit");
  // A V of another width changes the head split: everything is recomputed.
  p.setValues(randomMatrix(6, 4, 10));
  EXPECT_EQ(p.firstDirtyStage(), Stage::Scores);
}

TEST(Pipeline, MaskAndHeadChangesInvalidateTheRightStages) {
  AttentionPipeline p;
  p.setInputs({randomMatrix(4, 4, 1), randomMatrix(4, 4, 2), randomMatrix(4, 4, 3)});
  p.run();
  AttentionOptions opt = p.options();
  opt.mask = MaskKind::Causal;
  p.setOptions(opt);
  EXPECT_EQ(p.firstDirtyStage(), Stage::Scale);
  p.run();
  opt.heads = 2;
  p.setOptions(opt);
  EXPECT_EQ(p.firstDirtyStage(), Stage::Scores);
  p.run();
  expectMatchesReference(p.inputs(), opt, "after heads change");
}

}  // namespace
}  // namespace attnviz

namespace attnviz {
namespace {

TEST(Pipeline, LeanTraceDerivesTheSameIntermediateStages) {
  AttentionInputs in{test::randomMatrix(40, 8, 1, -5, 5), test::randomMatrix(50, 8, 2, -5, 5),
                     test::randomMatrix(50, 4, 3)};
  AttentionOptions opt;
  opt.mask = MaskKind::Causal;
  opt.heads = 2;
  opt.temperature = 0.7f;
  const AttentionTrace full = computeAttention(in, opt, true);
  const AttentionTrace lean = computeAttention(in, opt, false);
  for (int h = 0; h < 2; ++h) {
    EXPECT_EQ(lean.head[h].scaled.size(), 0);
    EXPECT_TRUE(lean.head[h].weights == full.head[h].weights);
    EXPECT_TRUE(deriveScaled(lean.head[h]) == full.head[h].scaled);
    EXPECT_TRUE(deriveMasked(lean.head[h], opt) == full.head[h].masked);
    EXPECT_TRUE(deriveExp(lean.head[h], opt) == full.head[h].expValues);
  }
}

}  // namespace
}  // namespace attnviz

namespace attnviz {
namespace {

// Above the size where every score comes from a double product (n·m·d > 2^24), the heavy cells
// of peaked rows are refined to correctly rounded scores.
TEST(Attention, ScoresNearTheRowMaxAreCorrectlyRoundedForLargeInputs) {
  const AttentionInputs in{test::randomMatrix(64, 64, 5, -10, 10), test::randomMatrix(4200, 64, 6, -10, 10),
                           test::randomMatrix(4200, 8, 7)};
  const AttentionTrace t = computeAttention(in, {});
  const HeadTrace& h = t.head[0];
  for (int i = 0; i < t.n; ++i) {
    const int j = h.stats.argmax(i);
    double exact = 0;
    for (int c = 0; c < 64; ++c) exact += double(in.q(i, c)) * double(in.k(j, c));
    EXPECT_EQ(h.scores(i, j), float(exact)) << "row " << i;
  }
}

// Each row has three peaks: one near the end (for the first eight rows in the last, partial group
// of keys the refinement scans) and two side by side elsewhere, so a scan that skipped the tail or
// stopped at a group's or a row's first heavy cell would leave a float-GEMM score. For these
// inputs the refinement threshold is below 1e-3, so every weight above 1e-2 must sit on a
// correctly rounded score.
TEST(Attention, EveryHeavyScoreIsCorrectlyRoundedWhereverItsKeySits) {
  const int n = 17, m = 16376, d = 64;  // n·m·d above 2^24; m = 16·1023 + 8
  AttentionInputs in{test::randomMatrix(n, d, 11, -3, 3), test::randomMatrix(m, d, 12), test::randomMatrix(m, 4, 13)};
  for (int i = 0; i < n; ++i) {
    in.k.row(m - 1 - i) = in.q.row(i);
    in.k.row(300 + 953 * i) = 0.98f * in.q.row(i);
    in.k.row(301 + 953 * i) = 0.97f * in.q.row(i);
  }
  const AttentionTrace t = computeAttention(in, {});
  const HeadTrace& h = t.head[0];
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(h.stats.argmax(i), m - 1 - i) << "row " << i;
    int heavy = 0;
    for (int j = 0; j < m; ++j) {
      if (!(h.weights(i, j) > 1e-2f)) continue;
      ++heavy;
      double exact = 0;
      for (int c = 0; c < d; ++c) exact += double(in.q(i, c)) * double(in.k(j, c));
      EXPECT_EQ(h.scores(i, j), float(exact)) << "row " << i << " key " << j;
    }
    EXPECT_GE(heavy, 3) << "row " << i;
  }
}

}  // namespace
}  // namespace attnviz

namespace attnviz {
namespace {

TEST(Attention, MaskedWeightsAreExactlyZeroAndEntropyFinite) {
  AttentionOptions opt;
  opt.mask = MaskKind::Causal;
  const AttentionTrace t =
      computeAttention({test::randomMatrix(20, 8, 1), test::randomMatrix(20, 8, 2), test::randomMatrix(20, 4, 3)}, opt);
  for (int i = 0; i < t.n; ++i) {
    EXPECT_TRUE(std::isfinite(t.head[0].stats.entropy(i))) << "row " << i;
    for (int j = i + 1; j < t.m; ++j) {
      EXPECT_EQ(t.head[0].weights(i, j), 0.0f);
      EXPECT_EQ(t.head[0].expValues(i, j), 0.0f);
    }
  }
}

}  // namespace
}  // namespace attnviz

namespace attnviz {
namespace {

// The forward passes' lean traces skip the cells a causal mask hides. Against the same lean trace
// with every score computed: weights within 1e-7 (absolute), outputs within 1e-6·(1 + |ref|),
// argmax, fully-masked flags and row max equal, entropy within 1e-6; allowed scores within a float
// dot product's rounding and the skipped ones 0 (or
// the raw score, on rows computed in double). Covers n < m, n > m (leading rows fully masked), several heads, both causal
// alignments, the double-product and the float-GEMM score paths, several row blocks, rows refined
// in double (large inputs) and masks that do not skip (none, custom), which must match exactly.
TEST(Attention, SkippingMaskedScoresGivesTheWeightsOfTheFullComputation) {
  struct SkipCase {
    int n, m, dk, dv, heads;
    MaskKind mask;
    float range, temperature;
  };
  const SkipCase cases[] = {
      {1, 1, 4, 4, 1, MaskKind::Causal, 1, 1},          {17, 17, 8, 8, 1, MaskKind::Causal, 1, 1},
      {50, 70, 16, 8, 2, MaskKind::Causal, 2, 0.7f},     {70, 50, 16, 8, 2, MaskKind::Causal, 2, 1},
      {70, 50, 12, 6, 3, MaskKind::CausalTopLeft, 1, 1}, {128, 128, 768, 768, 12, MaskKind::Causal, 1, 1},
      {300, 300, 256, 64, 1, MaskKind::Causal, 1, 1},    {600, 600, 64, 64, 2, MaskKind::Causal, 1, 1},
      {40, 40, 8, 8, 1, MaskKind::Causal, 60, 0.05f},    {30, 40, 8, 8, 2, MaskKind::None, 1, 1},
      {30, 40, 8, 8, 2, MaskKind::Custom, 1, 1},
  };
  unsigned seed = 100;
  for (const SkipCase& c : cases) {
    const std::string label = "n=" + std::to_string(c.n) + " m=" + std::to_string(c.m) + " H=" + std::to_string(c.heads) +
                              " mask=" + toString(c.mask);
    const AttentionInputs in{test::randomMatrix(c.n, c.dk, ++seed, -c.range, c.range),
                             test::randomMatrix(c.m, c.dk, ++seed, -c.range, c.range),
                             test::randomMatrix(c.m, c.dv, ++seed)};
    AttentionOptions opt;
    opt.mask = c.mask;
    opt.heads = c.heads;
    opt.temperature = c.temperature;
    if (c.mask == MaskKind::Custom) opt.customMask = randomMask(c.n, c.m, ++seed, true);
    const AttentionTrace full = computeAttention(in, opt, false, MaskedScores::Computed);
    const AttentionTrace skipped = computeAttention(in, opt, false, MaskedScores::Skipped);
    const bool skips = c.mask == MaskKind::Causal || c.mask == MaskKind::CausalTopLeft;
    ASSERT_EQ(skipped.head.size(), full.head.size()) << label;
    for (int h = 0; h < c.heads; ++h) {
      const HeadTrace &a = full.head[h], &b = skipped.head[h];
      if (!skips) {
        EXPECT_TRUE(a.scores == b.scores && a.weights == b.weights && a.output == b.output) << label;
        continue;
      }
      double worstWeight = 0, worstOutput = 0;
      for (int i = 0; i < c.n; ++i) {
        EXPECT_EQ(a.stats.argmax(i), b.stats.argmax(i)) << label << " row " << i;
        EXPECT_EQ(a.stats.fullyMasked[i], b.stats.fullyMasked[i]) << label << " row " << i;
        EXPECT_EQ(a.rowMax(i), b.rowMax(i)) << label << " row " << i;
        EXPECT_NEAR(a.stats.entropy(i), b.stats.entropy(i), 1e-6) << label << " row " << i;
        for (int j = 0; j < c.m; ++j) {
          worstWeight = std::max(worstWeight, double(std::abs(a.weights(i, j) - b.weights(i, j))));
          if (isAllowed(opt, c.n, c.m, i, j)) {
            // A narrower float GEMM may sum in another order: within the worst-case float dot
            // product error between two orders, d·2^-23·|q_i|·|k_j| (this head's slices).
            const int w = c.dk / c.heads;
            const double bound = w * 0x1p-23 * in.q.row(i).segment(h * w, w).norm() * in.k.row(j).segment(h * w, w).norm();
            ASSERT_LE(std::abs(a.scores(i, j) - b.scores(i, j)), bound) << label << " " << i << "," << j;
          }
          else  // rows the softmax recomputed in double get every raw score back
            ASSERT_TRUE(b.scores(i, j) == 0.0f || b.scores(i, j) == a.scores(i, j)) << label << " " << i << "," << j;
        }
        for (int k = 0; k < skipped.headValueWidth(); ++k)
          worstOutput = std::max(worstOutput, double(std::abs(a.output(i, k) - b.output(i, k))) / (1 + std::abs(a.output(i, k))));
      }
      EXPECT_LE(worstWeight, 1e-7) << label << " head " << h;
      EXPECT_LE(worstOutput, 1e-6) << label << " head " << h;
    }
  }
}

// A pipeline that skips masked scores cannot rescale from stored scores (some were never
// computed): a temperature change recomputes from QKᵀ and gives the full computation's weights.
TEST(Pipeline, SkippingMaskedScoresRecomputesScoresOnATemperatureChange) {
  AttentionPipeline pipeline;
  pipeline.keepDerivedStages(false);
  pipeline.skipMaskedScores(true);
  AttentionOptions opt;
  opt.mask = MaskKind::Causal;
  opt.heads = 2;
  const AttentionInputs in{test::randomMatrix(60, 16, 1), test::randomMatrix(60, 16, 2), test::randomMatrix(60, 8, 3)};
  pipeline.setInputs(in);
  pipeline.setOptions(opt);
  EXPECT_TRUE(pipeline.skippingMaskedScores());
  pipeline.run();
  opt.temperature = 0.5f;
  pipeline.setOptions(opt);
  const AttentionTrace& t = pipeline.run();
  EXPECT_EQ(pipeline.lastRecomputedFrom(), Stage::Scores);
  const AttentionTrace full = computeAttention(in, opt, false);
  for (int h = 0; h < 2; ++h) EXPECT_LE((t.head[h].weights - full.head[h].weights).cwiseAbs().maxCoeff(), 1e-7);
  pipeline.keepDerivedStages(true);  // derived stages need every score: skipping turns itself off
  EXPECT_FALSE(pipeline.skippingMaskedScores());
  EXPECT_TRUE(pipeline.run().head[0].scores == full.head[0].scores);
}

}  // namespace
}  // namespace attnviz
