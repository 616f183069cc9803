#include <omp.h>

#include "backend.hpp"

namespace attnviz {
namespace {

class CpuBackend final : public Backend {
 public:
  std::string name() const override {
    return "CPU (Eigen, " + std::to_string(omp_get_max_threads()) + " threads)";
  }
  bool available(std::string*) const override { return true; }
  AttentionTrace run(const AttentionInputs& inputs, const AttentionOptions& options) override {
    return computeAttention(inputs, options);
  }
};

}  // namespace

std::unique_ptr<Backend> makeCpuBackend() { return std::make_unique<CpuBackend>(); }

}  // namespace attnviz
