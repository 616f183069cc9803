#include "vit_config.hpp"

#include <map>

#include "config_json.hpp"
#include "types.hpp"

namespace attnviz::model {
namespace {

using namespace config_json;

// An int, or a list of two equal ints (ViT's configs may write either); a non-square size is
// refused by name.
int squareSize(const json& j, const char* key, const std::string& name, const json* fallback) {
  const auto it = j.find(key);
  if (it != j.end() && it->is_array()) {
    if (it->size() != 2 || !(*it)[0].is_number_integer() || (*it)[0] != (*it)[1])
      throw Error(name + ": \"" + key + "\" = " + printable(it->dump()) +
                  " is not supported (attnviz supports square images and patches)");
    const json side = (*it)[0];
    return positiveInt(json{{key, side}}, key, kMaxPositions, name);
  }
  return positiveInt(j, key, kMaxPositions, name, fallback);
}

Activation activationOf(const json& j, const std::string& name) {
  const auto it = j.find("hidden_act");
  if (it == j.end() || it->is_null()) return Activation::Gelu;
  const std::string a = it->is_string() ? it->get<std::string>() : it->dump();
  if (a == "gelu") return Activation::Gelu;
  if (a == "gelu_new" || a == "gelu_pytorch_tanh") return Activation::GeluNew;
  if (a == "relu") return Activation::Relu;
  throw Error(name + ": hidden_act \"" + printable(a) + "\" is not supported (attnviz supports gelu, gelu_new, relu)");
}

// id2label {"0": "cat", …} in id order; ids the file leaves out are named as transformers names
// them ("LABEL_3").
std::vector<std::string> labelsOf(const json& j, const std::string& name) {
  const auto it = j.find("id2label");
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_object()) throw Error(name + ": \"id2label\" must be an object");
  std::map<long, std::string> byId;
  for (const auto& [key, value] : it->items()) {
    std::size_t used = 0;
    long id = -1;
    try {
      id = std::stol(key, &used);
    } catch (const std::exception&) {
    }
    if (used != key.size() || id < 0 || id >= kMaxVocab || !value.is_string())
      throw Error(name + ": id2label's entry \"" + printable(key) + "\" is not an id with a label");
    byId[id] = value.get<std::string>();
  }
  std::vector<std::string> labels;
  if (!byId.empty()) labels.resize(std::size_t(byId.rbegin()->first + 1));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = "LABEL_" + std::to_string(i);
  for (const auto& [id, label] : byId) labels[std::size_t(id)] = label;
  return labels;
}

}  // namespace

VitConfig parseVitConfig(const std::string& text, const std::string& name) {
  const json j = parseObject(text, name);
  VitConfig c;
  c.modelType = parseModelType(text, name);
  const bool dinov2 = c.modelType == "dinov2" || c.modelType == "dinov2_with_registers";
  if (c.modelType != "vit" && c.modelType != "deit" && !dinov2)
    throw Error(name + ": model_type \"" + printable(c.modelType) + "\" is not a vision transformer config");
  // ViTConfig's and DeiTConfig's defaults stand for missing keys; DINOv2's changed between
  // transformers versions, so there every key that changes the numbers must be written.
  const json d768 = 768, d12 = 12, d3072 = 3072, d224 = 224, d16 = 16, d3 = 3;
  auto fallback = [&](const json& v) { return dinov2 ? nullptr : &v; };
  c.dModel = positiveInt(j, "hidden_size", kMaxWidth, name, fallback(d768));
  c.layers = positiveInt(j, "num_hidden_layers", kMaxLayers, name, fallback(d12));
  c.heads = positiveInt(j, "num_attention_heads", kMaxWidth, name, fallback(d12));
  if (c.dModel % c.heads != 0)
    throw Error(name + ": hidden_size = " + std::to_string(c.dModel) + " is not divisible by num_attention_heads = " +
                std::to_string(c.heads));
  if (dinov2) {
    if (!j.contains("mlp_ratio")) throw Error(name + ": missing \"mlp_ratio\"");
    const double ratio = number(j, "mlp_ratio", 4, 1e-3, 1e3, name);
    c.swiglu = flag(j, "use_swiglu_ffn", false, name);
    // Dinov2MLP: int(d · ratio); Dinov2SwiGLUFFN rounds two thirds of that up to a multiple of 8.
    const long hidden = long(double(c.dModel) * ratio);
    c.inner = int(c.swiglu ? (long(double(hidden) * 2.0 / 3.0) + 7) / 8 * 8 : hidden);
    if (c.inner < 1 || c.inner > 4 * kMaxWidth) throw Error(name + ": \"mlp_ratio\" gives an MLP width out of range");
    c.layerScale = true;
    if (!j.contains("layer_norm_eps")) throw Error(name + ": missing \"layer_norm_eps\"");
  } else {
    c.inner = positiveInt(j, "intermediate_size", 4 * kMaxWidth, name, fallback(d3072));
    for (const char* key : {"use_swiglu_ffn", "layerscale_value", "num_register_tokens"})
      if (j.contains(key) && !j[key].is_null() && j[key] != false)
        throw Error(name + ": \"" + std::string(key) + "\" is not a " + c.modelType + " setting attnviz implements");
  }
  c.layerNormEpsilon = number(j, "layer_norm_eps", 1e-12, 0, 1, name);
  c.activation = activationOf(j, name);
  c.imageSize = squareSize(j, "image_size", name, fallback(d224));
  c.patchSize = squareSize(j, "patch_size", name, fallback(d16));
  c.channels = positiveInt(j, "num_channels", 64, name, &d3);
  if (c.patchSize > c.imageSize)
    throw Error(name + ": patch_size = " + std::to_string(c.patchSize) + " is larger than image_size = " +
                std::to_string(c.imageSize));
  c.qkvBias = flag(j, "qkv_bias", true, name);
  if (c.modelType == "dinov2_with_registers") {
    const json four = 4;
    c.registers = positiveInt(j, "num_register_tokens", 1024, name, &four);
  }
  if (const auto p = j.find("position_embedding_type"); p != j.end() && !p->is_null() && *p != "absolute")
    throw Error(name + ": position_embedding_type " + printable(p->dump()) + " is not supported (attnviz supports absolute)");
  c.labels = labelsOf(j, name);
  return c;
}

ModelShape shapeOf(const VitConfig& c) {
  ModelShape s;
  s.modelType = c.modelType;
  s.input = InputKind::Image;
  s.causal = false;
  s.layers = c.layers;
  s.heads = s.kvHeads = c.heads;
  s.dModel = c.dModel;
  s.headWidth = c.headWidth();
  s.inner = c.inner;
  s.vocabSize = int(c.labels.size());
  s.imageSize = c.imageSize;
  s.patchSize = c.patchSize;
  s.channels = c.channels;
  s.labels = c.labels;
  s.imageProcessor = c.anyImageSize() ? "BitImageProcessor" : "ViTImageProcessor";
  const int grid = c.trainedGrid();
  s.positions = 1 + (c.modelType == "deit" ? 1 : 0) + c.registers + grid * grid;
  s.positionsKey = "image_size";
  return s;
}

}  // namespace attnviz::model
