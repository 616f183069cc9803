#pragma once
// Timing of each GPU kernel against a tiled GLSL SGEMM of the same size on the same device.
// Results are validated against the CPU engine before anything is timed.
#include <string>
#include <vector>

#include "attention.hpp"

namespace attnviz {

class GpuBackend;

struct GpuBenchConfig {
  int n = 1024;         // queries
  int m = 1024;         // keys
  int headWidth = 64;   // d_k = d_v of one head
  int heads = 8;
  int repeats = 5;      // timed runs per kernel; the median is reported
  MaskKind mask = MaskKind::None;  // none or causal
  bool validate = true; // compare one run of each path with the CPU engine first
};

struct GpuKernelTiming {
  // scores, softmax, weighted_sum (the stored-S trace's kernels), two_pass_stats,
  // two_pass_weights (the two-pass trace's), full_trace_stored_s, full_trace_two_pass,
  // full_trace (whichever is the default), full_trace_wall, flash, sgemm
  std::string kernel;
  double medianMs = 0;
  double gflops = 0;   // counted operations / median time; see `flopsCounted`
  double flopsCounted = 0;
};

struct GpuBenchResult {
  std::string device;       // the backend's name, e.g. "GPU (NVIDIA H100 80GB HBM3/PCIe/SSE2)"
  std::string timingMethod; // how times were taken
  GpuBenchConfig config;
  double maxWeightError = 0;  // |GPU − CPU| over the trace's weights (0 when not validated)
  double maxOutputError = 0;  // over both paths' outputs
  std::vector<GpuKernelTiming> kernels;
};

// Runs on `backend` (which must be available). Throws Error when the GPU fails or the
// validation finds a difference above the parity tolerances.
GpuBenchResult runGpuBenchmark(GpuBackend& backend, const GpuBenchConfig& config);

// The same on a headless backend of its own.
GpuBenchResult runGpuBenchmark(const GpuBenchConfig& config);

}  // namespace attnviz
