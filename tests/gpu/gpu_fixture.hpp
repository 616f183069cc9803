#pragma once
// One headless GPU backend per test process; a test without a working GPU context fails.
#include <gtest/gtest.h>

#include "gpu_backend.hpp"

namespace attnviz::test {

inline GpuBackend& sharedGpuBackend() {
  static const std::unique_ptr<GpuBackend> backend = makeHeadlessGpuBackend();
  return *backend;
}

// Fails the test (never skips) when the GPU backend cannot run here.
#define ASSERT_GPU_AVAILABLE(backend)                                               \
  do {                                                                              \
    std::string whyUnavailable;                                                     \
    ASSERT_TRUE((backend).available(&whyUnavailable)) << whyUnavailable;            \
  } while (0)

}  // namespace attnviz::test
