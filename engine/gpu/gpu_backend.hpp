#pragma once
// The GL compute backend: the attention trace and a fused flash-attention output computed by
// GLSL compute shaders on OpenGL 4.3+, either on a headless EGL context of its own or on the
// caller's current context (the desktop app's window). Checked against the CPU engine.
#include <cstdint>
#include <memory>
#include <string>

#include "backend.hpp"

namespace attnviz {

// The address of a GL entry point, as glfwGetProcAddress and eglGetProcAddress give it.
using GlProcAddressLoader = void (*(*)(const char* name))();

// How the full trace is computed: S stored and re-read by a softmax kernel and a weighted
// sum, or two passes that recompute S instead (see shaders/trace_two_pass.comp).
enum class GpuTraceMethod { Auto, StoredScores, TwoPass };
// Tile shapes of the row-per-invocation kernels (flash, two-pass trace): Auto picks Cpu for
// CPU rasterizers such as llvmpipe and Gpu otherwise; tests force each on llvmpipe.
enum class GpuKernelShapes { Auto, Gpu, Cpu };

struct GpuSettings {
  // Largest n×m stage buffer (bytes) before the trace is split into chunks of rows and heads.
  // 0 = the driver's GL_MAX_SHADER_STORAGE_BLOCK_SIZE (capped at 256 MiB); tests set it lower
  // to exercise the split on small inputs.
  std::uint64_t stageBufferLimitBytes = 0;
  GpuTraceMethod traceMethod = GpuTraceMethod::Auto;
  GpuKernelShapes kernelShapes = GpuKernelShapes::Auto;
};

class GpuBackend : public Backend {
 public:
  // "GPU (<GL_RENDERER>)", or "GPU (unavailable)".
  std::string name() const override = 0;
  // GL_RENDERER alone, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"; empty when unavailable.
  virtual std::string renderer() const = 0;
  // The fused path: the n×d_v output (heads side by side, like AttentionTrace::concatenated)
  // without keeping any n×m stage. Throws Error (also when a head is wider than 256).
  virtual Matrix runFlash(const AttentionInputs& inputs, const AttentionOptions& options) = 0;
};

// A backend on its own headless context (EGL device platform, else Mesa surfaceless). Never
// throws: when no context or shader works, available() says why and run() throws that Error.
// Its methods make the context current on the calling thread.
std::unique_ptr<GpuBackend> makeHeadlessGpuBackend(const GpuSettings& settings = {});

// A backend on the GL 4.3+ context current on this thread. `loader` loads GL entry points
// (e.g. glfwGetProcAddress); nullptr means the caller already loaded glad for this context.
// The context must be current whenever the backend is used or destroyed. Never throws.
// run() leaves shader-storage bindings changed and restores the current program.
std::unique_ptr<GpuBackend> makeGpuBackendForCurrentContext(GlProcAddressLoader loader = nullptr,
                                                            const GpuSettings& settings = {});

}  // namespace attnviz
