#include "config.hpp"

#include <nlohmann/json.hpp>

#include "json_text.hpp"
#include "types.hpp"

namespace attnviz::model {
namespace {

using nlohmann::json;

// Sizes far beyond any released GPT-2 but small enough that products of them cannot overflow.
constexpr long kMaxVocab = 1 << 21, kMaxPositions = 1 << 17, kMaxWidth = 1 << 16, kMaxLayers = 1024;

int positiveInt(const json& j, const char* key, long limit, const std::string& name, const json* fallback = nullptr) {
  const json* v = nullptr;
  if (const auto it = j.find(key); it != j.end()) v = &*it;
  else if (fallback) v = fallback;
  if (!v) throw Error(name + ": missing \"" + key + "\"");
  if (!v->is_number_integer() || v->get<long>() < 1 || v->get<long>() > limit)
    throw Error(name + ": \"" + key + "\" must be an integer from 1 to " + std::to_string(limit) + " (got " +
                printable(v->dump()) + ")");
  return int(v->get<long>());
}

bool flag(const json& j, const char* key, bool byDefault, const std::string& name) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return byDefault;
  if (!it->is_boolean()) throw Error(name + ": \"" + key + "\" must be true or false");
  return it->get<bool>();
}

}  // namespace

const char* toString(Activation a) {
  switch (a) {
    case Activation::GeluNew: return "gelu_new";
    case Activation::Gelu: return "gelu";
    case Activation::Relu: return "relu";
  }
  return "?";
}

long Gpt2Config::parameterCount() const {
  const long d = dModel;
  const long perLayer = 2 * 2 * d + d * 3 * d + 3 * d + d * d + d + d * inner + inner + inner * d + d;
  return long(vocabSize) * d + long(positions) * d + layers * perLayer + 2 * d;
}

Gpt2Config parseGpt2Config(const std::string& text, const std::string& name) {
  const json j = parseJsonText(text, name);
  if (!j.is_object()) throw Error(name + ": not a JSON object");
  const auto type = j.find("model_type");
  if (type == j.end() || !type->is_string())
    throw Error(name + ": missing \"model_type\" (attnviz supports " + kSupportedModelTypes + ")");
  const std::string modelType = type->get<std::string>();
  if (modelType != "gpt2")
    throw Error(name + ": model_type \"" + printable(modelType) + "\" is not supported (attnviz supports " +
                kSupportedModelTypes + ")");
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

}  // namespace attnviz::model
