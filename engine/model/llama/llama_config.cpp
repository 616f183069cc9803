#include "llama_config.hpp"

#include "config_json.hpp"
#include "types.hpp"

namespace attnviz::model {
namespace {

using namespace config_json;

// null, absent or {"rope_type" (or "type"): "default"}: none; "llama3" with its four numbers.
std::optional<Llama3RopeScaling> ropeScalingOf(const json& j, const std::string& name) {
  const auto it = j.find("rope_scaling");
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_object()) throw Error(name + ": \"rope_scaling\" must be null or an object");
  auto type = it->find("rope_type");
  if (type == it->end()) type = it->find("type");
  if (type == it->end() || !type->is_string())
    throw Error(name + ": \"rope_scaling\" has no \"rope_type\" (attnviz supports llama3)");
  const std::string kind = type->get<std::string>();
  if (kind == "default") return std::nullopt;
  if (kind != "llama3")
    throw Error(name + ": rope_scaling type \"" + printable(kind) + "\" is not supported (attnviz supports llama3)");
  const std::string where = name + ": rope_scaling";
  auto required = [&](const char* key) {
    if (!it->contains(key)) throw Error(where + " (llama3) needs \"" + key + "\"");
  };
  for (const char* key : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
    required(key);
  Llama3RopeScaling r;
  r.factor = number(*it, "factor", 0, 1, 1e6, where);
  r.lowFreqFactor = number(*it, "low_freq_factor", 0, 1e-6, 1e6, where);
  r.highFreqFactor = number(*it, "high_freq_factor", 0, 1e-6, 1e6, where);
  if (!(r.highFreqFactor > r.lowFreqFactor))
    throw Error(where + ": high_freq_factor must be above low_freq_factor");
  r.originalMaxPositions = positiveInt(*it, "original_max_position_embeddings", kMaxPositions, where);
  return r;
}

}  // namespace

using namespace config_json;

long LlamaConfig::parameterCount() const {
  const long d = dModel, q = long(heads) * headDim, kv = long(kvHeads) * headDim;
  const long attention = d * q + 2 * d * kv + q * d + (qkvBias ? q + 2 * kv : 0) + (oBias ? d : 0);
  const long perLayer = 2 * d + attention + 3 * d * inner;
  return long(vocabSize) * d * (tieWordEmbeddings ? 1 : 2) + layers * perLayer + d;
}

LlamaConfig parseLlamaConfig(const std::string& text, const std::string& name) {
  const json j = parseObject(text, name);
  LlamaConfig c;
  c.modelType = parseModelType(text, name);
  if (c.modelType != "llama" && c.modelType != "mistral" && c.modelType != "qwen2")
    throw Error(name + ": model_type \"" + c.modelType + "\" is not a Llama-family config");
  const bool mistral = c.modelType == "mistral", qwen2 = c.modelType == "qwen2";
  c.vocabSize = positiveInt(j, "vocab_size", kMaxVocab, name);
  c.dModel = positiveInt(j, "hidden_size", kMaxWidth, name);
  c.inner = positiveInt(j, "intermediate_size", 4 * kMaxWidth, name);
  c.layers = positiveInt(j, "num_hidden_layers", kMaxLayers, name);
  c.heads = positiveInt(j, "num_attention_heads", kMaxWidth, name);
  // The classes' defaults for what a config.json may leave out.
  const json positions = mistral ? 4096 * 32 : qwen2 ? 32768 : 2048;
  c.positions = positiveInt(j, "max_position_embeddings", kMaxPositions, name, &positions);
  const auto kv = j.find("num_key_value_heads");
  c.kvHeads = (kv == j.end() || kv->is_null()) ? (mistral ? 8 : c.heads) : positiveInt(j, "num_key_value_heads", kMaxWidth, name);
  if (c.heads % c.kvHeads != 0)
    throw Error(name + ": num_attention_heads = " + std::to_string(c.heads) + " is not divisible by num_key_value_heads = " +
                std::to_string(c.kvHeads));
  const auto headDim = j.find("head_dim");
  if (headDim == j.end() || headDim->is_null()) {
    if (c.dModel % c.heads != 0)
      throw Error(name + ": hidden_size = " + std::to_string(c.dModel) + " is not divisible by num_attention_heads = " +
                  std::to_string(c.heads) + " (and there is no head_dim)");
    c.headDim = c.dModel / c.heads;
  } else {
    c.headDim = positiveInt(j, "head_dim", kMaxWidth, name);
  }
  if (c.headDim % 2 != 0)
    throw Error(name + ": head_dim = " + std::to_string(c.headDim) + " is odd (rotary embeddings pair the dimensions)");
  if (long(c.heads) * c.headDim > kMaxWidth)
    throw Error(name + ": num_attention_heads · head_dim = " + std::to_string(long(c.heads) * c.headDim) +
                " is above the limit of " + std::to_string(kMaxWidth));
  if (const auto act = j.find("hidden_act"); act != j.end() && !act->is_null()) {
    const std::string a = act->is_string() ? act->get<std::string>() : act->dump();
    if (a != "silu" && a != "swish")
      throw Error(name + ": hidden_act \"" + printable(a) + "\" is not supported (attnviz supports silu)");
  }
  if (flag(j, "mlp_bias", false, name)) throw Error(name + ": \"mlp_bias\": true is not supported");
  c.rmsNormEpsilon = number(j, "rms_norm_eps", 1e-6, 0, 1, name);
  c.ropeTheta = number(j, "rope_theta", 10000, 1, 1e12, name);
  c.ropeScaling = ropeScalingOf(j, name);
  c.tieWordEmbeddings = flag(j, "tie_word_embeddings", false, name);
  if (qwen2) {
    c.qkvBias = true;
    c.oBias = false;
  } else {
    c.qkvBias = c.oBias = flag(j, "attention_bias", false, name);
  }
  // Mistral: every layer; Qwen2: only with use_sliding_window, from max_window_layers on.
  const bool windowed = mistral || (qwen2 && flag(j, "use_sliding_window", false, name));
  if (windowed) {
    const auto w = j.find("sliding_window");
    if (w == j.end()) c.slidingWindow = 4096;
    else if (!w->is_null()) c.slidingWindow = positiveInt(j, "sliding_window", kMaxPositions, name);
    if (qwen2) {
      const json allLayers = 28;
      const auto m = j.find("max_window_layers");
      c.maxWindowLayers = (m != j.end() && m->is_number_integer() && m->get<long>() == 0)
                              ? 0
                              : positiveInt(j, "max_window_layers", kMaxLayers, name, &allLayers);
    }
  }
  return c;
}

ModelShape shapeOf(const LlamaConfig& c) {
  ModelShape s;
  s.modelType = c.modelType;
  s.layers = c.layers;
  s.heads = c.heads;
  s.kvHeads = c.kvHeads;
  s.dModel = c.dModel;
  s.vocabSize = c.vocabSize;
  s.positions = c.positions;
  s.headWidth = c.headDim;
  s.inner = c.inner;
  s.positionsKey = "max_position_embeddings";
  return s;
}

}  // namespace attnviz::model
