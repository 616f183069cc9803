#include "bert.hpp"

#include <chrono>

#include "blocks.hpp"
#include "checkpoint.hpp"
#include "tokens.hpp"

namespace attnviz::model {
namespace {

bool isDistilbert(const BertConfig& c) { return c.modelType == "distilbert"; }

// The backbone's prefix as the checkpoint's class writes it, or none (the bare model).
std::string backbonePrefix(const TensorStore& store, const BertConfig& c, const std::string& weightsName) {
  for (const std::string& p : {std::string(), c.modelType + "."})
    if (store.find(p + "embeddings.word_embeddings.weight").info) return p;
  throw Error(weightsName + ": the checkpoint has no tensor \"embeddings.word_embeddings.weight\" (with or without a \"" +
              c.modelType + ".\" prefix): not a " + c.modelType + " checkpoint?");
}

// A LayerNorm's two vectors, named NAME.weight / NAME.bias or, in old checkpoints, NAME.gamma /
// NAME.beta.
void readNorm(const TensorReader& read, const std::string& name, long d, Vector& weight, Vector& bias) {
  const bool old = !read.store.find(read.prefix + name + ".weight").info && read.store.find(read.prefix + name + ".gamma").info;
  weight = read.vector(name + (old ? ".gamma" : ".weight"), d);
  bias = read.vector(name + (old ? ".beta" : ".bias"), d);
}

// The block's tensor names: BERT's and RoBERTa's, or DistilBERT's.
struct BlockNames {
  std::string layer, query, key, value, output, attentionNorm, mlpIn, mlpOut, outputNorm;
};
BlockNames blockNames(const BertConfig& c) {
  if (isDistilbert(c))
    return {"transformer.layer.", "attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
            "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm"};
  return {"encoder.layer.", "attention.self.query", "attention.self.key", "attention.self.value",
          "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"};
}

// The masked-LM head's names: BERT's cls.predictions, RoBERTa's lm_head, DistilBERT's vocab_*.
struct HeadNames {
  std::string transform, norm, decoder, bias;
};
HeadNames headNames(const BertConfig& c) {
  if (c.modelType == "roberta") return {"lm_head.dense", "lm_head.layer_norm", "lm_head.decoder", "lm_head.bias"};
  if (isDistilbert(c)) return {"vocab_transform", "vocab_layer_norm", "vocab_projector", "vocab_projector.bias"};
  return {"cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.decoder",
          "cls.predictions.bias"};
}

}  // namespace

BertWeights readBertWeights(const TensorStore& store, const BertConfig& c, const std::string& weightsName) {
  BertWeights w;
  w.prefix = backbonePrefix(store, c, weightsName);
  const TensorReader read{store, w.prefix};
  const long d = c.dModel, inner = c.inner;
  w.wordEmbeddings = read.weight("embeddings.word_embeddings.weight", c.vocabSize, d);
  w.positionEmbeddings = read.weight("embeddings.position_embeddings.weight", c.positions, d);
  if (c.typeVocabSize > 0) w.tokenTypeEmbeddings = read.weight("embeddings.token_type_embeddings.weight", c.typeVocabSize, d);
  readNorm(read, "embeddings.LayerNorm", d, w.embeddingNormWeight, w.embeddingNormBias);
  const BlockNames names = blockNames(c);
  w.blocks.resize(std::size_t(c.layers));
  for (int l = 0; l < c.layers; ++l) {
    const std::string h = names.layer + std::to_string(l) + ".";
    BertBlock& b = w.blocks[std::size_t(l)];
    b.query = read.weight(h + names.query + ".weight", d, d);
    b.queryBias = read.vector(h + names.query + ".bias", d);
    b.key = read.weight(h + names.key + ".weight", d, d);
    b.keyBias = read.vector(h + names.key + ".bias", d);
    b.value = read.weight(h + names.value + ".weight", d, d);
    b.valueBias = read.vector(h + names.value + ".bias", d);
    b.output = read.weight(h + names.output + ".weight", d, d);
    b.outputBias = read.vector(h + names.output + ".bias", d);
    readNorm(read, h + names.attentionNorm, d, b.attentionNormWeight, b.attentionNormBias);
    b.mlpIn = read.weight(h + names.mlpIn + ".weight", inner, d);
    b.mlpInBias = read.vector(h + names.mlpIn + ".bias", inner);
    b.mlpOut = read.weight(h + names.mlpOut + ".weight", d, inner);
    b.mlpOutBias = read.vector(h + names.mlpOut + ".bias", d);
    readNorm(read, h + names.outputNorm, d, b.outputNormWeight, b.outputNormBias);
  }
  // The head sits beside the backbone, without its prefix.
  const HeadNames head = headNames(c);
  const TensorReader top{store, ""};
  if (store.find(head.transform + ".weight").info) {
    w.hasMaskedLmHead = true;
    w.transform = top.weight(head.transform + ".weight", d, d);
    w.transformBias = top.vector(head.transform + ".bias", d);
    readNorm(top, head.norm, d, w.headNormWeight, w.headNormBias);
    if (store.find(head.decoder + ".weight").info) w.decoder = top.weight(head.decoder + ".weight", c.vocabSize, d);
    // The decoder's bias is the head's own bias tensor (Hugging Face ties the two).
    const std::string bias = store.find(head.bias).info ? head.bias : head.decoder + ".bias";
    w.decoderBias = top.vector(bias, c.vocabSize);
  }
  return w;
}

std::vector<std::pair<std::string, const WeightMatrix*>> BertWeights::named() const {
  std::vector<std::pair<std::string, const WeightMatrix*>> out = {
      {prefix + "embeddings.word_embeddings.weight", &wordEmbeddings},
      {prefix + "embeddings.position_embeddings.weight", &positionEmbeddings}};
  if (!tokenTypeEmbeddings.empty()) out.push_back({prefix + "embeddings.token_type_embeddings.weight", &tokenTypeEmbeddings});
  for (std::size_t l = 0; l < blocks.size(); ++l) {
    const std::string h = prefix + "layer " + std::to_string(l) + " ";
    const BertBlock& b = blocks[l];
    out.insert(out.end(), {{h + "query", &b.query}, {h + "key", &b.key}, {h + "value", &b.value},
                           {h + "attention output", &b.output}, {h + "MLP in", &b.mlpIn}, {h + "MLP out", &b.mlpOut}});
  }
  if (hasMaskedLmHead) out.insert(out.end(), {{"masked-LM transform", &transform}, {"masked-LM decoder", &decoder}});
  return out;
}

BertWeights randomBertWeights(const BertConfig& c, std::uint64_t seed, DType dtype) {
  const long d = c.dModel, inner = c.inner;
  auto small = [&seed](long n) { return Vector(glorotUniform(1, int(n), ++seed).row(0).transpose() * 0.1f); };
  auto weight = [&](long rows, long cols) {
    return WeightMatrix(glorotUniform(int(rows), int(cols), ++seed)).storedAs(dtype);
  };
  BertWeights w;
  w.wordEmbeddings = weight(c.vocabSize, d);
  w.positionEmbeddings = weight(c.positions, d);
  if (c.typeVocabSize > 0) w.tokenTypeEmbeddings = weight(c.typeVocabSize, d);
  w.embeddingNormWeight = Vector::Ones(d);
  w.embeddingNormBias = small(d);
  w.blocks.resize(std::size_t(c.layers));
  for (BertBlock& b : w.blocks) {
    b.query = weight(d, d);
    b.key = weight(d, d);
    b.value = weight(d, d);
    b.output = weight(d, d);
    b.queryBias = small(d);
    b.keyBias = small(d);
    b.valueBias = small(d);
    b.outputBias = small(d);
    b.attentionNormWeight = b.outputNormWeight = Vector::Ones(d);
    b.attentionNormBias = small(d);
    b.outputNormBias = small(d);
    b.mlpIn = weight(inner, d);
    b.mlpInBias = small(inner);
    b.mlpOut = weight(d, inner);
    b.mlpOutBias = small(d);
  }
  w.hasMaskedLmHead = true;
  w.transform = weight(d, d);
  w.transformBias = small(d);
  w.headNormWeight = Vector::Ones(d);
  w.headNormBias = small(d);
  w.decoderBias = small(c.vocabSize);
  return w;
}

void bertEmbeddingParts(const BertConfig& c, const BertWeights& w, const ForwardRecord& rec, Matrix& words,
                        Matrix& positions, Matrix& types) {
  const int n = int(rec.ids.size()), d = c.dModel;
  words.resize(n, d);
  for (int i = 0; i < n; ++i) w.wordEmbeddings.rowsToFloat(rec.ids[std::size_t(i)], 1, words.row(i).data());
  positions = w.positionEmbeddings.rowsToFloat(c.firstPosition(), n);
  types = Matrix::Zero(n, d);
  if (!w.tokenTypeEmbeddings.empty())
    for (int i = 0; i < n; ++i) w.tokenTypeEmbeddings.rowsToFloat(rec.typeIds[std::size_t(i)], 1, types.row(i).data());
}

ForwardRecord forwardBert(const BertConfig& c, const BertWeights& w, const std::vector<int>& ids,
                          const std::vector<int>& typeIds, const ForwardOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  checkForwardInput(ids, c.vocabSize, c.longestText(), "max_position_embeddings", c.layers, c.heads, options);
  if (!typeIds.empty() && typeIds.size() != ids.size())
    throw Error(std::to_string(typeIds.size()) + " token type ids for " + std::to_string(ids.size()) + " tokens");
  // DistilBERT has no token type embeddings: the tokenizer's type ids (a sentence pair's) are
  // kept for the display and ignored by the model, as Hugging Face's DistilBERT ignores them.
  for (std::size_t i = 0; i < typeIds.size() && c.typeVocabSize > 0; ++i)
    if (typeIds[i] < 0 || typeIds[i] >= c.typeVocabSize)
      throw Error("token type id " + std::to_string(typeIds[i]) + " (position " + std::to_string(i) + ") is not one " +
                  c.modelType + " has (" +
                  (c.typeVocabSize > 1 ? "0 to " + std::to_string(c.typeVocabSize - 1) : std::string("0 only")) + ")");
  ForwardRecord rec;
  rec.ids = ids;
  rec.typeIds = typeIds.empty() ? std::vector<int>(ids.size(), 0) : typeIds;
  rec.norm = NormKind::LayerNorm;
  rec.heads = rec.kvHeads = c.heads;
  Matrix words, positions, types;
  bertEmbeddingParts(c, w, rec, words, positions, types);
  Matrix x = layerNorm(words + positions + types, w.embeddingNormWeight, w.embeddingNormBias, c.layerNormEpsilon);
  applyResidualPatches(x, 0, options);
  rec.resid.push_back(x);
  rec.layers.resize(std::size_t(c.layers));
  for (int l = 0; l < c.layers; ++l) {
    const BertBlock& b = w.blocks[std::size_t(l)];
    LayerRecord& L = rec.layers[std::size_t(l)];
    L.qkv.q = linear(x, b.query, b.queryBias);
    L.qkv.k = linear(x, b.key, b.keyBias);
    L.qkv.v = linear(x, b.value, b.valueBias);
    L.attention = plainAttentionOptions(c.heads, c.headWidth(), MaskKind::None, options);
    runAttention(L, l, c.headWidth(), options);
    L.attnOut = linear(L.z, b.output, b.outputBias);
    const Matrix h = layerNorm(x + L.attnOut, b.attentionNormWeight, b.attentionNormBias, c.layerNormEpsilon);
    Matrix mlp = linear(h, b.mlpIn, b.mlpInBias);
    activate(mlp, c.activation);
    x = layerNorm(h + linear(mlp, b.mlpOut, b.mlpOutBias), b.outputNormWeight, b.outputNormBias, c.layerNormEpsilon);
    applyResidualPatches(x, l + 1, options);
    rec.resid.push_back(x);
  }
  if (w.hasMaskedLmHead) {
    // RoBERTa's lm_head always uses the erf GELU; BERT's and DistilBERT's the config's activation.
    Matrix t = linear(options.allLogits ? x : Matrix(x.bottomRows(1)), w.transform, w.transformBias);
    activate(t, c.modelType == "roberta" ? Activation::Gelu : c.activation);
    rec.logits = linear(layerNorm(t, w.headNormWeight, w.headNormBias, c.layerNormEpsilon), w.unembedding(), w.decoderBias);
  }
  if (!allFinite(x) || !allFinite(rec.logits)) checkFiniteWeights(w.named());
  rec.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return rec;
}

}  // namespace attnviz::model
