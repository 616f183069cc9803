#include "backends.hpp"

namespace attnviz {

std::unique_ptr<Backend> makeBackend(const std::string& name) {
  if (name == "cpu") return makeCpuBackend();
  if (name == "gpu") throw Error("the GPU backend is not part of this build");
  throw Error("unknown backend \"" + name + "\" (expected cpu or gpu)");
}

}  // namespace attnviz
