// config.json of a checkpoint, every family the registry holds (gpt2, llama, bert, vit). A config that parses must be consistent: every
// size within 1 and its limit, GPT-2's n_embd divisible by n_head, the Llama family's heads
// divisible by the K/V heads with an even head width, rope_scaling's numbers usable (high above
// low frequency factor), and a parameter count that does not overflow.
#include <cmath>
#include <string>

#include "family.hpp"
#include "gpt2/gpt2_config.hpp"
#include "bert/bert_config.hpp"
#include "llama/llama_config.hpp"
#include "vit/vit_config.hpp"
#include "fuzz_common.hpp"

namespace {

void checkGpt2(const attnviz::model::Gpt2Config& c) {
  if (c.vocabSize < 1 || c.positions < 1 || c.dModel < 1 || c.layers < 1 || c.heads < 1 || c.inner < 1)
    attnviz::fuzz::violated("a size below 1 accepted");
  if (c.dModel % c.heads != 0 || c.headWidth() < 1) attnviz::fuzz::violated("n_embd not divisible by n_head accepted");
  if (!(c.layerNormEpsilon >= 0 && c.layerNormEpsilon <= 1)) attnviz::fuzz::violated("layer_norm_epsilon out of range");
  if (c.parameterCount() < 1) attnviz::fuzz::violated("parameter count overflowed");
}

void checkLlama(const attnviz::model::LlamaConfig& c) {
  if (c.vocabSize < 1 || c.positions < 1 || c.dModel < 1 || c.layers < 1 || c.heads < 1 || c.kvHeads < 1 ||
      c.headDim < 1 || c.inner < 1)
    attnviz::fuzz::violated("a size below 1 accepted");
  if (c.heads % c.kvHeads != 0) attnviz::fuzz::violated("num_key_value_heads not dividing the heads accepted");
  if (c.headDim % 2 != 0) attnviz::fuzz::violated("an odd head_dim accepted (RoPE pairs dimensions)");
  for (int h = 0; h < c.heads; ++h)
    if (c.kvHeadOf(h) < 0 || c.kvHeadOf(h) >= c.kvHeads) attnviz::fuzz::violated("a query head maps past the K/V heads");
  if (!(c.rmsNormEpsilon >= 0 && c.rmsNormEpsilon <= 1)) attnviz::fuzz::violated("rms_norm_eps out of range");
  if (!(c.ropeTheta >= 1 && std::isfinite(c.ropeTheta))) attnviz::fuzz::violated("rope_theta out of range");
  if (c.ropeScaling) {
    const auto& r = *c.ropeScaling;
    if (!(r.factor >= 1 && r.highFreqFactor > r.lowFreqFactor && r.lowFreqFactor > 0 && r.originalMaxPositions >= 1))
      attnviz::fuzz::violated("llama3 rope_scaling with unusable numbers accepted");
  }
  if (c.slidingWindow && *c.slidingWindow < 1) attnviz::fuzz::violated("a sliding window below 1 accepted");
  if (c.modelType == "qwen2" && (!c.qkvBias || c.oBias)) attnviz::fuzz::violated("qwen2 without its q, k, v biases");
  if (c.parameterCount() < 1) attnviz::fuzz::violated("parameter count overflowed");
}

void checkBert(const attnviz::model::BertConfig& c) {
  if (c.vocabSize < 1 || c.positions < 1 || c.dModel < 1 || c.layers < 1 || c.heads < 1 || c.inner < 1)
    attnviz::fuzz::violated("a size below 1 accepted");
  if (c.dModel % c.heads != 0) attnviz::fuzz::violated("a width not divisible by the heads accepted");
  if (c.longestText() < 1) attnviz::fuzz::violated("no position left after pad_token_id + 1");
  if (c.padTokenId < 0 || c.padTokenId >= c.vocabSize) attnviz::fuzz::violated("pad_token_id outside the vocabulary");
}

void checkVit(const attnviz::model::VitConfig& c) {
  if (c.dModel < 1 || c.layers < 1 || c.heads < 1 || c.inner < 1 || c.channels < 1 || c.patchSize < 1)
    attnviz::fuzz::violated("a size below 1 accepted");
  if (c.dModel % c.heads != 0) attnviz::fuzz::violated("hidden_size not divisible by the heads accepted");
  if (c.patchSize > c.imageSize || c.trainedGrid() < 1) attnviz::fuzz::violated("a patch larger than the image accepted");
  if (c.registers < 0) attnviz::fuzz::violated("a negative register count");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  attnviz::fuzz::parseOrError([&] {
    const std::string type = attnviz::model::parseModelType(text, "config.json");
    const std::string family = attnviz::model::familyOf(type, "config.json").name;
    if (family == "gpt2") checkGpt2(attnviz::model::parseGpt2Config(text, "config.json"));
    else if (family == "llama") checkLlama(attnviz::model::parseLlamaConfig(text, "config.json"));
    else if (family == "bert") checkBert(attnviz::model::parseBertConfig(text, "config.json"));
    else if (family == "vit") checkVit(attnviz::model::parseVitConfig(text, "config.json"));
    else attnviz::fuzz::violated("a family this target does not check");
    const attnviz::model::ModelShape s = attnviz::model::parseModelShape(text, "config.json");
    if (s.layers < 1 || s.heads < 1 || s.kvHeads < 1 || s.heads % s.kvHeads != 0)
      attnviz::fuzz::violated("a shape that does not match its config");
  });
  return 0;
}
