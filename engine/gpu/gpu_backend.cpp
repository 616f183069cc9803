#include "gpu_backend.hpp"

#include <glad/gl.h>

#include "gl_gpu_backend.hpp"

namespace attnviz {
namespace gpu {
namespace {

// The caller's GL state the kernels change and put back: the current program.
class ProgramRestorer {
 public:
  ProgramRestorer() { glGetIntegerv(GL_CURRENT_PROGRAM, &program_); }
  ~ProgramRestorer() { glUseProgram(GLuint(program_)); }

 private:
  GLint program_ = 0;
};

}  // namespace

GlGpuBackend::GlGpuBackend(bool headless, GlProcAddressLoader loader, const GpuSettings& settings) {
  try {
    if (headless) {
      context_ = HeadlessGlContext::create();
    } else {
      loadGlForCurrentContext(loader);
    }
    renderer_ = currentRenderer();
    ProgramRestorer restorer;
    kernels_ = std::make_unique<AttentionKernels>(settings);
  } catch (const Error& e) {
    unavailable_ = e.what();
    kernels_.reset();
  } catch (const std::exception& e) {
    unavailable_ = std::string("the GPU backend failed to start: ") + e.what();
    kernels_.reset();
  }
}

GlGpuBackend::~GlGpuBackend() {
  try {
    if (context_) context_->makeCurrent();
  } catch (const Error&) {
    // Without the context its objects cannot be deleted; the driver frees them with it.
    (void)kernels_.release();
    return;
  }
  kernels_.reset();
}

std::string GlGpuBackend::name() const {
  return kernels_ ? "GPU (" + renderer_ + ")" : "GPU (unavailable)";
}

bool GlGpuBackend::available(std::string* reason) const {
  if (kernels_) return true;
  if (reason) *reason = unavailable_;
  return false;
}

AttentionKernels& GlGpuBackend::kernels() {
  if (!kernels_) throw Error(unavailable_);
  if (context_) context_->makeCurrent();
  return *kernels_;
}

AttentionTrace GlGpuBackend::run(const AttentionInputs& inputs, const AttentionOptions& options) {
  AttentionKernels& k = kernels();
  ProgramRestorer restorer;
  return k.trace(inputs, options);
}

Matrix GlGpuBackend::runFlash(const AttentionInputs& inputs, const AttentionOptions& options) {
  AttentionKernels& k = kernels();
  ProgramRestorer restorer;
  return k.flash(inputs, options);
}

}  // namespace gpu

std::unique_ptr<GpuBackend> makeHeadlessGpuBackend(const GpuSettings& settings) {
  return std::make_unique<gpu::GlGpuBackend>(true, nullptr, settings);
}

std::unique_ptr<GpuBackend> makeGpuBackendForCurrentContext(GlProcAddressLoader loader,
                                                            const GpuSettings& settings) {
  return std::make_unique<gpu::GlGpuBackend>(false, loader, settings);
}

}  // namespace attnviz
