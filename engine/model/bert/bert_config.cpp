#include "bert_config.hpp"

#include "config_json.hpp"
#include "types.hpp"

namespace attnviz::model {
namespace {

using namespace config_json;

Activation activationOf(const json& j, const char* key, const std::string& name) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Activation::Gelu;
  const std::string a = it->is_string() ? it->get<std::string>() : it->dump();
  if (a == "gelu") return Activation::Gelu;
  if (a == "gelu_new" || a == "gelu_pytorch_tanh") return Activation::GeluNew;
  if (a == "relu") return Activation::Relu;
  throw Error(name + ": " + key + " \"" + printable(a) + "\" is not supported (attnviz supports gelu, gelu_new, relu)");
}

}  // namespace

BertConfig parseBertConfig(const std::string& text, const std::string& name) {
  const json j = parseObject(text, name);
  BertConfig c;
  c.modelType = parseModelType(text, name);
  if (c.modelType != "bert" && c.modelType != "roberta" && c.modelType != "distilbert")
    throw Error(name + ": model_type \"" + printable(c.modelType) + "\" is not an encoder config");
  // BertConfig's, RobertaConfig's and DistilBertConfig's defaults stand for missing keys.
  const json vocab = 30522, width = 768, twelve = 12, six = 6, inner = 3072, positions = 512, two = 2;
  if (c.modelType == "distilbert") {
    c.dModel = positiveInt(j, "dim", kMaxWidth, name, &width);
    c.layers = positiveInt(j, "n_layers", kMaxLayers, name, &six);
    c.heads = positiveInt(j, "n_heads", kMaxWidth, name, &twelve);
    c.inner = positiveInt(j, "hidden_dim", 4 * kMaxWidth, name, &inner);
    c.activation = activationOf(j, "activation", name);
    c.layerNormEpsilon = 1e-12;  // DistilBERT's LayerNorms hard-code it
    c.typeVocabSize = 0;
  } else {
    c.dModel = positiveInt(j, "hidden_size", kMaxWidth, name, &width);
    c.layers = positiveInt(j, "num_hidden_layers", kMaxLayers, name, &twelve);
    c.heads = positiveInt(j, "num_attention_heads", kMaxWidth, name, &twelve);
    c.inner = positiveInt(j, "intermediate_size", 4 * kMaxWidth, name, &inner);
    c.activation = activationOf(j, "hidden_act", name);
    c.layerNormEpsilon = number(j, "layer_norm_eps", 1e-12, 0, 1, name);
    c.typeVocabSize = positiveInt(j, "type_vocab_size", 1024, name, &two);
    if (const auto p = j.find("position_embedding_type"); p != j.end() && !p->is_null() && *p != "absolute")
      throw Error(name + ": position_embedding_type " + printable(p->dump()) +
                  " is not supported (attnviz supports absolute)");
  }
  c.vocabSize = positiveInt(j, "vocab_size", kMaxVocab, name, &vocab);
  c.positions = positiveInt(j, "max_position_embeddings", kMaxPositions, name, &positions);
  const auto pad = j.find("pad_token_id");
  if (pad == j.end() || pad->is_null()) c.padTokenId = c.modelType == "roberta" ? 1 : 0;
  else if (pad->is_number_integer() && pad->get<long>() >= 0 && pad->get<long>() < c.vocabSize) c.padTokenId = int(pad->get<long>());
  else throw Error(name + ": \"pad_token_id\" must be a token id (got " + printable(pad->dump()) + ")");
  if (c.dModel % c.heads != 0)
    throw Error(name + ": the width " + std::to_string(c.dModel) + " is not divisible by the " + std::to_string(c.heads) +
                " heads");
  if (c.longestText() < 1)
    throw Error(name + ": max_position_embeddings = " + std::to_string(c.positions) + " leaves no position after pad_token_id + 1");
  return c;
}

ModelShape shapeOf(const BertConfig& c) {
  ModelShape s;
  s.modelType = c.modelType;
  s.causal = false;
  s.layers = c.layers;
  s.heads = s.kvHeads = c.heads;
  s.dModel = c.dModel;
  s.headWidth = c.headWidth();
  s.inner = c.inner;
  s.vocabSize = c.vocabSize;
  s.positions = c.longestText();
  s.positionsKey = "max_position_embeddings";
  s.typeVocabSize = c.typeVocabSize;
  return s;
}

}  // namespace attnviz::model
