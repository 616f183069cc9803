// Extreme values on the GPU backend (issue 14): the same sweep of temperature, scale and input
// magnitude as the engine's (fewer shapes: llvmpipe dispatches are slow), against the double
// reference with the same limit rules, and parity with the CPU trace on the extreme rows.
#include <gtest/gtest.h>

#include <limits>
#include <optional>

#include "gpu_fixture.hpp"
#include "parity_check.hpp"
#include "reference.hpp"

namespace attnviz::test {
namespace {

TEST(GpuExtremeValues, SweepMatchesTheReferenceAndTheCpu) {
  GpuBackend& gpu = sharedGpuBackend();
  ASSERT_GPU_AVAILABLE(gpu);
  const float temperatures[] = {1e-30f, 1e-4f, 1, 1e30f};
  const std::optional<float> scales[] = {std::nullopt, 1e-30f, 1e30f, -1e3f};
  const float magnitudes[] = {1e-30f, 1, 1e20f, 1e30f};
  const ScoreFunction scores[] = {ScoreFunction::Scaled, ScoreFunction::Dot, ScoreFunction::Cosine};
  const MaskKind masks[] = {MaskKind::None, MaskKind::Causal, MaskKind::CausalTopLeft};
  const int n = 5, m = 6;
  int cases = 0, failures = 0;
  unsigned seed = 500;
  for (const float magnitude : magnitudes) {
    const AttentionInputs in{randomMatrix(n, 4, seed, -magnitude, magnitude),
                             randomMatrix(m, 4, seed + 1, -magnitude, magnitude),
                             randomMatrix(m, 4, seed + 2, -magnitude, magnitude)};
    seed += 3;
    for (const float temperature : temperatures)
      for (const auto& scale : scales)
        for (const ScoreFunction score : scores)
          for (const MaskKind mask : masks) {
            AttentionOptions opt;
            opt.heads = 2;
            opt.temperature = temperature;
            opt.scaleOverride = scale;
            opt.score = score;
            opt.mask = mask;
            ++cases;
            const AttentionTrace g = gpu.run(in, opt);
            std::string diff = compareWithReference(g, in, opt);
            if (diff.empty()) {
              // The rows in double are the engine's own: identical to the CPU's there.
              const AttentionTrace c = computeAttention(in, opt);
              for (int h = 0; h < 2 && diff.empty(); ++h)
                if (g.head[h].exactRows != c.head[h].exactRows) diff = "rows in double differ from the CPU's";
                else if (!(g.head[h].exactShifted == c.head[h].exactShifted)) diff = "max-subtracted rows differ";
            }
            if (!diff.empty() && ++failures <= 10)
              ADD_FAILURE() << "|x| ≤ " << magnitude << ", T " << temperature << ", scale "
                            << (scale ? std::to_string(*scale) : "default") << ", " << toString(score) << ", mask "
                            << toString(mask) << ": " << diff;
          }
  }
  EXPECT_EQ(failures, 0) << "of " << cases << " cases";
  EXPECT_EQ(cases, 576);
}

TEST(GpuExtremeValues, IssueFourteenCasesGiveTheLimitOnTheGpu) {
  GpuBackend& gpu = sharedGpuBackend();
  ASSERT_GPU_AVAILABLE(gpu);
  Matrix x(2, 1);
  x << 1e20f, 3;
  AttentionOptions dot;
  dot.score = ScoreFunction::Dot;
  const AttentionTrace t = gpu.run({x, x, x}, dot);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(t.head[0].weights(i, 0), 1.0f);
    EXPECT_EQ(t.head[0].weights(i, 1), 0.0f);
    EXPECT_EQ(t.head[0].output(i, 0), 1e20f);
    EXPECT_EQ(t.concatenated(i, 0), 1e20f);
  }
  AttentionOptions cold;
  cold.temperature = 1e-40f;
  const AttentionInputs in{randomMatrix(4, 8, 1), randomMatrix(9, 8, 2), randomMatrix(9, 3, 3)};
  const AttentionTrace g = gpu.run(in, cold);
  EXPECT_EQ(compareWithReference(g, in, cold), "");
  EXPECT_EQ(compareTraces(g, computeAttention(in, cold), in), "");
}

TEST(GpuExtremeValues, CausalTopLeftMatchesTheCpuForEveryShape) {
  GpuBackend& gpu = sharedGpuBackend();
  ASSERT_GPU_AVAILABLE(gpu);
  AttentionOptions opt;
  opt.mask = MaskKind::CausalTopLeft;
  opt.heads = 2;
  for (const auto& [n, m] : {std::pair{3, 70}, std::pair{70, 3}, std::pair{33, 33}, std::pair{1, 1}}) {
    const AttentionInputs in{randomMatrix(n, 8, 41), randomMatrix(m, 8, 42), randomMatrix(m, 4, 43)};
    const AttentionTrace g = gpu.run(in, opt);
    EXPECT_EQ(compareTraces(g, computeAttention(in, opt), in), "") << n << "×" << m;
    EXPECT_EQ(compareWithReference(g, in, opt), "") << n << "×" << m;
    EXPECT_TRUE(g.head[1].weights.isLowerTriangular()) << n << "×" << m;
  }
}

}  // namespace
}  // namespace attnviz::test
