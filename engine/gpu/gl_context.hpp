#pragma once
// OpenGL contexts for the compute backend: a headless EGL context of its own, or the caller's.
// Internal to attnviz_gpu; include <glad/gl.h> after this where GL calls are needed.
#include <memory>
#include <string>

#include "gpu_backend.hpp"

namespace attnviz::gpu {

using attnviz::GlProcAddressLoader;

// A GL 4.3+ core context with no window and no X server: EGL's device platform first (NVIDIA
// and other drivers that enumerate devices), then Mesa's surfaceless platform (llvmpipe in CI).
class HeadlessGlContext {
 public:
  // Throws Error naming why no context could be made (no libEGL, no GL 4.3, ...).
  static std::unique_ptr<HeadlessGlContext> create();
  ~HeadlessGlContext();
  HeadlessGlContext(const HeadlessGlContext&) = delete;
  HeadlessGlContext& operator=(const HeadlessGlContext&) = delete;

  // EGL contexts belong to one thread at a time; every entry point calls this first.
  void makeCurrent() const;
  // "device" or "surfaceless": which EGL platform gave the context.
  const std::string& platform() const { return platform_; }

 private:
  HeadlessGlContext() = default;
  void* display_ = nullptr;
  void* context_ = nullptr;
  std::string platform_;
};

// Loads GL entry points for the current context (nullptr: they were loaded through glad by the
// caller already) and checks it is at least OpenGL 4.3 with compute shaders. Throws Error.
void loadGlForCurrentContext(GlProcAddressLoader loader);

// GL_RENDERER of the current context, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
std::string currentRenderer();

}  // namespace attnviz::gpu
