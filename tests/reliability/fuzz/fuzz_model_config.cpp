// config.json of a GPT-2 checkpoint. A config that parses must be consistent: every size within
// 1 and its limit, n_embd divisible by n_head, and a parameter count that does not overflow.
#include <string>

#include "config.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  attnviz::fuzz::parseOrError([&] {
    const attnviz::model::Gpt2Config c = attnviz::model::parseGpt2Config(text, "config.json");
    if (c.vocabSize < 1 || c.positions < 1 || c.dModel < 1 || c.layers < 1 || c.heads < 1 || c.inner < 1)
      attnviz::fuzz::violated("a size below 1 accepted");
    if (c.dModel % c.heads != 0 || c.headWidth() < 1) attnviz::fuzz::violated("n_embd not divisible by n_head accepted");
    if (!(c.layerNormEpsilon >= 0 && c.layerNormEpsilon <= 1)) attnviz::fuzz::violated("layer_norm_epsilon out of range");
    if (c.parameterCount() < 1) attnviz::fuzz::violated("parameter count overflowed");
  });
  return 0;
}
