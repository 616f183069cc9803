#pragma once
// Compute backends behind one small interface. The CPU backend is the reference that every
// other backend is tested against.
#include <memory>
#include <string>

#include "attention.hpp"

namespace attnviz {

class Backend {
 public:
  virtual ~Backend() = default;
  // Short display name, e.g. "CPU (Eigen, 2 threads)" or "GPU (llvmpipe (LLVM 15.0.6, 256 bits))".
  virtual std::string name() const = 0;
  // False with a one-line reason when this backend cannot run here.
  virtual bool available(std::string* reason) const = 0;
  // The full trace, every stage kept. Throws Error.
  virtual AttentionTrace run(const AttentionInputs& inputs, const AttentionOptions& options) = 0;
};

std::unique_ptr<Backend> makeCpuBackend();

}  // namespace attnviz
