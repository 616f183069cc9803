#include "gpu_bench.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>

#include "gl_gpu_backend.hpp"

namespace attnviz {
namespace {

// Large traces are validated on their first queries only: the CPU reference and the read-back
// GPU trace each hold five n×m stages per head.
constexpr long kMaxValidatedCells = 1L << 24;

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

// Uniform in [-1, 1), the same on every platform (std distributions are not).
std::vector<float> pseudoRandom(std::size_t count, std::uint64_t seed) {
  std::vector<float> out(count);
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (float& x : out) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    x = float(double(state >> 40) / double(1ull << 24)) * 2.0f - 1.0f;
  }
  return out;
}

Matrix randomMatrix(long rows, long cols, std::uint64_t seed) {
  const std::vector<float> values = pseudoRandom(std::size_t(rows * cols), seed);
  return Eigen::Map<const Matrix>(values.data(), rows, cols);
}

double maxAbsDifference(const Matrix& a, const Matrix& b) {
  return a.size() ? double((a - b).cwiseAbs().maxCoeff()) : 0.0;
}

// Largest excess over the output tolerance (abs 1e-5 + rel 1e-4·|ref|); ≤ 0 means within it.
double outputExcess(const Matrix& gpu, const Matrix& cpu, double& maxError) {
  double excess = -1;
  for (Eigen::Index i = 0; i < cpu.size(); ++i) {
    const double error = std::abs(double(gpu.data()[i]) - double(cpu.data()[i]));
    maxError = std::max(maxError, error);
    excess = std::max(excess, error - (1e-5 + 1e-4 * std::abs(double(cpu.data()[i]))));
  }
  return excess;
}

}  // namespace

GpuBenchResult runGpuBenchmark(GpuBackend& backend, const GpuBenchConfig& config) {
  auto* glBackend = dynamic_cast<gpu::GlGpuBackend*>(&backend);
  if (!glBackend) throw Error("the GPU benchmark needs a backend from makeHeadlessGpuBackend or "
                              "makeGpuBackendForCurrentContext");
  std::string reason;
  if (!backend.available(&reason)) throw Error(reason);
  if (config.n < 1 || config.m < 1 || config.headWidth < 1 || config.heads < 1 || config.repeats < 1)
    throw Error("the benchmark needs n, m, head width, heads and repeats of at least 1");
  if (config.mask == MaskKind::Custom) throw Error("the benchmark runs with no mask or a causal one");

  const int d = config.headWidth, heads = config.heads;
  AttentionInputs inputs{randomMatrix(config.n, long(d) * heads, 1),
                         randomMatrix(config.m, long(d) * heads, 2),
                         randomMatrix(config.m, long(d) * heads, 3)};
  AttentionOptions options;
  options.heads = heads;
  options.mask = config.mask;
  validate(inputs, options);

  GpuBenchResult result;
  result.device = backend.name();
  result.config = config;

  gpu::AttentionKernels& kernels = glBackend->kernels();
  const GpuTraceMethod defaultMethod = kernels.traceMethod();
  struct RestoreMethod {
    gpu::AttentionKernels& kernels;
    GpuTraceMethod method;
    ~RestoreMethod() { kernels.setTraceMethod(method); }
  } restoreMethod{kernels, defaultMethod};
  const GpuTraceMethod methods[] = {GpuTraceMethod::StoredScores, GpuTraceMethod::TwoPass};

  if (config.validate) {
    const long rows = std::clamp<long>(kMaxValidatedCells / (long(heads) * config.m), 1, config.n);
    const AttentionInputs subset{inputs.q.topRows(rows), inputs.k, inputs.v};
    const AttentionTrace cpu = computeAttention(subset, options);
    double excess = -1;
    for (GpuTraceMethod method : methods) {
      kernels.setTraceMethod(method);
      const AttentionTrace gpuTrace = backend.run(subset, options);
      for (int h = 0; h < heads; ++h)
        result.maxWeightError =
            std::max(result.maxWeightError, maxAbsDifference(gpuTrace.head[h].weights, cpu.head[h].weights));
      excess = std::max(excess, outputExcess(gpuTrace.concatenated, cpu.concatenated, result.maxOutputError));
    }
    kernels.setTraceMethod(defaultMethod);
    const Matrix flashOutput = backend.runFlash(subset, options);
    excess = std::max(excess, outputExcess(flashOutput, cpu.concatenated, result.maxOutputError));
    if (result.maxWeightError > 1e-5 || excess > 0) {
      std::ostringstream msg;
      msg << "the GPU disagrees with the CPU before timing: max weight error " << result.maxWeightError
          << ", max output error " << result.maxOutputError;
      throw Error(msg.str());
    }
  }

  const std::vector<float> a = pseudoRandom(std::size_t(heads) * config.n * d, 4);
  const std::vector<float> b = pseudoRandom(std::size_t(heads) * d * config.m, 5);
  // Timer queries are the GPU's own clock, but some drivers (llvmpipe) run the work outside
  // them and report ~0; then glFinish around each dispatch and the wall clock stand in.
  kernels.timeSgemm(heads, config.n, config.m, d, a, b, 1, gpu::KernelTiming::FinishAndClock);  // warm-up
  const double byClock = kernels.timeSgemm(heads, config.n, config.m, d, a, b, 1,
                                           gpu::KernelTiming::FinishAndClock).front();
  const double byQuery = kernels.timeSgemm(heads, config.n, config.m, d, a, b, 1,
                                           gpu::KernelTiming::TimerQueries).front();
  const bool queriesWork = byQuery >= 0.25 * byClock;
  const gpu::KernelTiming timing = queriesWork ? gpu::KernelTiming::TimerQueries : gpu::KernelTiming::FinishAndClock;
  result.timingMethod =
      std::string(queriesWork ? "GL_TIME_ELAPSED queries around each dispatch"
                              : "glFinish and steady_clock around each dispatch (this driver's timer "
                                "queries do not cover the work)") +
      ", summed over chunks; median of " + std::to_string(config.repeats) +
      " runs after one warm-up; full_trace_wall is the whole run, uploads and read-back included";
  kernels.setTiming(timing);
  struct TimingOff {
    gpu::AttentionKernels& kernels;
    ~TimingOff() { kernels.setTiming(gpu::KernelTiming::Off); }
  } timingOff{kernels};

  // Both trace methods and the flash path take turns within each run, so a machine whose
  // load drifts (llvmpipe shares the CPU) slows all of them alike.
  std::vector<double> scores, softmax, weightedSum, stored, storedWall, statsPass, weightsPass, twoPass,
      twoPassWall, flash;
  for (int run = 0; run <= config.repeats; ++run) {
    for (GpuTraceMethod method : methods) {
      kernels.setTraceMethod(method);
      const AttentionTrace trace = backend.run(inputs, options);
      if (run == 0) continue;  // warm-up: first-use allocation and shader specialisation
      const gpu::KernelTimes& t = kernels.lastTimes();
      if (method == GpuTraceMethod::StoredScores) {
        scores.push_back(t.scoresMs);
        softmax.push_back(t.softmaxMs);
        weightedSum.push_back(t.weightedSumMs);
        stored.push_back(t.kernelsMs());
        storedWall.push_back(trace.timings.totalMs);
      } else {
        statsPass.push_back(t.twoPassStatsMs);
        weightsPass.push_back(t.twoPassWeightsMs);
        twoPass.push_back(t.kernelsMs());
        twoPassWall.push_back(trace.timings.totalMs);
      }
    }
    backend.runFlash(inputs, options);
    if (run > 0) flash.push_back(kernels.lastTimes().flashMs);
  }
  kernels.setTraceMethod(defaultMethod);
  const bool twoPassDefault = kernels.usesTwoPass(d, d);
  const std::vector<double> sgemm = kernels.timeSgemm(heads, config.n, config.m, d, a, b, config.repeats, timing);

  const double cells = double(heads) * config.n * config.m;
  const double matmulFlops = 2.0 * cells * d;
  const double softmaxFlops = 5.0 * cells;  // max, subtract, exp, sum, divide per cell
  const auto add = [&](const char* kernel, const std::vector<double>& ms, double flops) {
    const double t = median(ms);
    result.kernels.push_back({kernel, t, t > 0 ? flops / (t * 1e6) : 0.0, flops});
  };
  add("scores", scores, matmulFlops);
  add("softmax", softmax, softmaxFlops);
  add("weighted_sum", weightedSum, matmulFlops);
  add("two_pass_stats", statsPass, matmulFlops + softmaxFlops);
  add("two_pass_weights", weightsPass, 2 * matmulFlops + softmaxFlops);
  // Useful work only: the two-pass trace's second QKᵀ is not counted.
  add("full_trace_stored_s", stored, 2 * matmulFlops + softmaxFlops);
  add("full_trace_two_pass", twoPass, 2 * matmulFlops + softmaxFlops);
  add("full_trace", twoPassDefault ? twoPass : stored, 2 * matmulFlops + softmaxFlops);
  add("full_trace_wall", twoPassDefault ? twoPassWall : storedWall, 2 * matmulFlops + softmaxFlops);
  add("flash", flash, 2 * matmulFlops + softmaxFlops);
  add("sgemm", sgemm, matmulFlops);
  return result;
}

GpuBenchResult runGpuBenchmark(const GpuBenchConfig& config) {
  const std::unique_ptr<GpuBackend> backend = makeHeadlessGpuBackend();
  return runGpuBenchmark(*backend, config);
}

}  // namespace attnviz
