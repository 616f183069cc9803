#pragma once
// The GpuBackend implementation, shared with the benchmark. Internal to attnviz_gpu.
#include <memory>
#include <string>

#include "attention_kernels.hpp"
#include "gl_context.hpp"
#include "gpu_backend.hpp"

namespace attnviz::gpu {

class GlGpuBackend final : public GpuBackend {
 public:
  // headless: a context of its own; otherwise the caller's current one, loaded with `loader`.
  // Failures are kept for available() and run(), never thrown.
  GlGpuBackend(bool headless, GlProcAddressLoader loader, const GpuSettings& settings);
  ~GlGpuBackend() override;

  std::string name() const override;
  std::string renderer() const override { return renderer_; }
  bool available(std::string* reason) const override;
  AttentionTrace run(const AttentionInputs& inputs, const AttentionOptions& options) override;
  Matrix runFlash(const AttentionInputs& inputs, const AttentionOptions& options) override;

  // Makes the context current and returns the kernels; throws the unavailability Error.
  AttentionKernels& kernels();

 private:
  std::unique_ptr<HeadlessGlContext> context_;  // destroyed after kernels_, which need it
  std::unique_ptr<AttentionKernels> kernels_;
  std::string renderer_;
  std::string unavailable_;
};

}  // namespace attnviz::gpu
