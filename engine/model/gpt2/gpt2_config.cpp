#include "gpt2_config.hpp"

#include "config_json.hpp"
#include "types.hpp"

namespace attnviz::model {

using namespace config_json;

long Gpt2Config::parameterCount() const {
  const long d = dModel;
  const long perLayer = 2 * 2 * d + d * 3 * d + 3 * d + d * d + d + d * inner + inner + inner * d + d;
  return long(vocabSize) * d + long(positions) * d + layers * perLayer + 2 * d;
}

Gpt2Config parseGpt2Config(const std::string& text, const std::string& name) {
  const json j = parseObject(text, name);
  const std::string modelType = parseModelType(text, name);
  if (modelType != "gpt2") throw Error(name + ": model_type \"" + modelType + "\" is not a GPT-2 config");
  Gpt2Config c;
  c.vocabSize = positiveInt(j, "vocab_size", kMaxVocab, name);
  const auto ctx = j.find("n_ctx");
  c.positions = positiveInt(j, "n_positions", kMaxPositions, name, ctx == j.end() ? nullptr : &*ctx);
  c.dModel = positiveInt(j, "n_embd", kMaxWidth, name);
  c.layers = positiveInt(j, "n_layer", kMaxLayers, name);
  c.heads = positiveInt(j, "n_head", kMaxWidth, name);
  if (c.dModel % c.heads != 0)
    throw Error(name + ": n_embd = " + std::to_string(c.dModel) + " is not divisible by n_head = " +
                std::to_string(c.heads));
  const auto inner = j.find("n_inner");
  c.inner = (inner == j.end() || inner->is_null()) ? 4 * c.dModel : positiveInt(j, "n_inner", 4 * kMaxWidth, name);
  if (const auto eps = j.find("layer_norm_epsilon"); eps != j.end()) {
    if (!eps->is_number() || !(eps->get<double>() >= 0) || eps->get<double>() > 1)
      throw Error(name + ": \"layer_norm_epsilon\" must be a number from 0 to 1");
    c.layerNormEpsilon = eps->get<double>();
  }
  if (const auto act = j.find("activation_function"); act != j.end()) {
    const std::string a = act->is_string() ? act->get<std::string>() : act->dump();
    if (a == "gelu_new" || a == "gelu_pytorch_tanh") c.activation = Activation::GeluNew;
    else if (a == "gelu") c.activation = Activation::Gelu;
    else if (a == "relu") c.activation = Activation::Relu;
    else
      throw Error(name + ": activation_function \"" + printable(a) +
                  "\" is not supported (attnviz supports gelu_new, gelu and relu)");
  }
  c.scaleAttnWeights = flag(j, "scale_attn_weights", true, name);
  c.scaleAttnByInverseLayerIdx = flag(j, "scale_attn_by_inverse_layer_idx", false, name);
  return c;
}

ModelShape shapeOf(const Gpt2Config& c) {
  ModelShape s;
  s.modelType = "gpt2";
  s.layers = c.layers;
  s.heads = s.kvHeads = c.heads;
  s.dModel = c.dModel;
  s.vocabSize = c.vocabSize;
  s.positions = c.positions;
  s.headWidth = c.headWidth();
  s.inner = c.inner;
  s.positionsKey = "n_positions";
  return s;
}

}  // namespace attnviz::model
