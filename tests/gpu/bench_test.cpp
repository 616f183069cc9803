// The benchmark API the CLI's `bench --backend gpu` calls: every kernel timed, validated first.
#include <gtest/gtest.h>

#include <set>

#include "gpu_bench.hpp"
#include "gpu_fixture.hpp"

namespace attnviz::test {
namespace {

TEST(GpuBench, TimesEveryKernelAfterValidating) {
  GpuBackend& gpu = sharedGpuBackend();
  ASSERT_GPU_AVAILABLE(gpu);
  GpuBenchConfig config;
  config.n = 70;
  config.m = 50;
  config.headWidth = 16;
  config.heads = 2;
  config.repeats = 2;
  config.mask = MaskKind::Causal;
  const GpuBenchResult result = runGpuBenchmark(gpu, config);
  EXPECT_EQ(result.device, gpu.name());
  EXPECT_FALSE(result.timingMethod.empty());
  EXPECT_LE(result.maxWeightError, 1e-5);
  std::set<std::string> kernels;
  for (const GpuKernelTiming& k : result.kernels) {
    kernels.insert(k.kernel);
    EXPECT_GT(k.medianMs, 0) << k.kernel;
    EXPECT_GT(k.gflops, 0) << k.kernel;
    EXPECT_GT(k.flopsCounted, 0) << k.kernel;
  }
  EXPECT_EQ(kernels, (std::set<std::string>{"scores", "softmax", "weighted_sum", "two_pass_stats",
                                            "two_pass_weights", "full_trace_stored_s", "full_trace_two_pass",
                                            "full_trace", "full_trace_wall", "flash", "sgemm"}));
}

TEST(GpuBench, RejectsNonsenseSizes) {
  GpuBackend& gpu = sharedGpuBackend();
  ASSERT_GPU_AVAILABLE(gpu);
  GpuBenchConfig config;
  config.n = 0;
  EXPECT_THROW(runGpuBenchmark(gpu, config), Error);
}

}  // namespace
}  // namespace attnviz::test
