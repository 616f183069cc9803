#include "backends.hpp"

#if HAVE_ATTNVIZ_GPU
#include "gpu_backend.hpp"
#endif

namespace attnviz {

std::unique_ptr<Backend> makeBackend(const std::string& name) {
  if (name == "cpu") return makeCpuBackend();
  if (name == "gpu") {
#if HAVE_ATTNVIZ_GPU
    std::unique_ptr<Backend> gpu = makeHeadlessGpuBackend();
    if (std::string reason; !gpu->available(&reason)) throw Error("the GPU backend cannot run here: " + reason);
    return gpu;
#else
    throw Error("the GPU backend is not part of this build (configured with ATTNVIZ_WITH_GPU=OFF)");
#endif
  }
  throw Error("unknown backend \"" + name + "\" (expected cpu or gpu)");
}

}  // namespace attnviz
