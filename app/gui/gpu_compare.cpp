#include "gpu_compare.hpp"

#include <chrono>
#include <cmath>
#include <limits>

#include "gl_heatmap.hpp"
#include "steps.hpp"
#include "stages.hpp"

#if HAVE_ATTNVIZ_GPU
#include <GLFW/glfw3.h>

#include "gpu_backend.hpp"
#endif

namespace attnviz::gui {

namespace {

using Clock = std::chrono::steady_clock;

void fallBack(GpuCompare& g, const std::string& note) {
  g.selected = BackendKind::Cpu;
  g.active = false;
  g.note = note;
}

// Equal values (equal infinities included) differ by 0; NaN or one-sided infinity by +∞.
float maxAbsDifference(const Matrix& a, const Matrix& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return std::numeric_limits<float>::infinity();
  float worst = 0;
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    const float x = a.data()[i], y = b.data()[i];
    if (x == y) continue;
    const float d = std::fabs(x - y);
    if (!(d <= worst)) worst = std::isnan(d) ? std::numeric_limits<float>::infinity() : d;
  }
  return worst;
}

void measureDifferences(GpuCompare& g, const AttentionTrace& cpu) {
  g.maxDiff.clear();
  for (const StageInfo& s : stageList()) {
    if (!stageExists(cpu, s.id)) continue;
    float worst = cpu.head.size() == g.trace.head.size() ? 0.0f : std::numeric_limits<float>::infinity();
    const int heads = s.shape == StageShape::Projected ? 1 : int(std::min(cpu.head.size(), g.trace.head.size()));
    for (int h = 0; h < heads; ++h) {
      Matrix a, b;
      worst = std::max(worst, maxAbsDifference(stageValues(cpu, s.id, h, a), stageValues(g.trace, s.id, h, b)));
    }
    g.maxDiff[s.name] = worst;
  }
}

}  // namespace

void probeGpu(Document& doc) {
  GpuCompare& g = doc.gpu;
  if (g.probed) return;
  g.probed = true;
#if HAVE_ATTNVIZ_GPU
  GpuSettings settings;
  settings.stageBufferLimitBytes = g.bufferLimit;
  std::unique_ptr<GpuBackend> gpu = makeGpuBackendForCurrentContext(glfwGetProcAddress, settings);
  g.renderer = gpu->renderer();
  g.unavailable.clear();
  if (!gpu->available(&g.unavailable) && g.unavailable.empty()) g.unavailable = "the GPU backend did not start";
  g.backend = std::move(gpu);
  // The backend's GL objects must go before the window's context does.
  atRendererShutdown([&doc] { releaseGpu(doc); });
#else
  g.unavailable = "this build has no GPU backend (configured without engine/gpu)";
#endif
}

void releaseGpu(Document& doc) {
  doc.gpu.backend.reset();
  doc.gpu.probed = false;
  doc.gpu.active = false;
}

void compareWithGpu(Document& doc) {
  GpuCompare& g = doc.gpu;
  g.cpuMs = doc.front->trace().timings.totalMs;
  g.active = false;
  if (g.selected != BackendKind::Gpu) return;
  probeGpu(doc);
  if (!g.unavailable.empty()) return fallBack(g, "GPU unavailable, using the CPU: " + g.unavailable);
  try {
    const auto start = Clock::now();
    g.trace = g.backend->run(doc.front->inputs(), doc.front->options());  // a model layer's own mask included
    finishTrace(g.trace, doc.front->inputs());  // heads · W_O from the GPU's heads
    g.gpuMs = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    const AttentionTrace& cpu = doc.front->trace();
    measureDifferences(g, cpu);
    g.active = true;
    g.note.clear();
    ++g.rev;
  } catch (const std::exception& e) {
    fallBack(g, std::string("GPU failed, using the CPU: ") + e.what());
  }
}

std::string activeBackendName(const Document& doc) {
  return doc.gpu.active ? "GPU (" + doc.gpu.renderer + ")" : "CPU (Eigen)";
}

StepDifference stepDifference(const Document& doc, StageId step, int head) {
  StepDifference d;
  if (!doc.gpu.active) return d;
  Matrix cpuScratch, gpuScratch;
  const Matrix& a = stageDisplay(doc.cpuTrace(), step, head, cpuScratch);
  const Matrix& b = stageDisplay(doc.gpu.trace, step, head, gpuScratch);
  if (a.rows() != b.rows() || a.cols() != b.cols()) return d;
  const float inf = std::numeric_limits<float>::infinity();
  d.values.resize(a.rows(), a.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    for (Eigen::Index j = 0; j < a.cols(); ++j) {
      const float x = a(i, j), y = b(i, j);
      const bool maskedX = std::isinf(x) && x < 0, maskedY = std::isinf(y) && y < 0;
      float v;
      if (maskedX && maskedY) v = -inf;
      else if (maskedX || maskedY || std::isnan(x) || std::isnan(y)) v = inf, ++d.maskMismatches;
      else v = std::fabs(x - y);
      d.values(i, j) = v;
      if (std::isfinite(v) && (v > d.worst || d.worstRow < 0)) {
        d.worst = v;
        d.worstRow = int(i);
        d.worstCol = int(j);
      }
    }
  }
  return d;
}

}  // namespace attnviz::gui
