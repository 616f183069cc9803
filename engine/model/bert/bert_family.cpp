// Encoders (BERT, RoBERTa, DistilBERT) behind the one model interface (family.hpp).
#include <cmath>
#include <nlohmann/json.hpp>

#include "bert.hpp"
#include "blocks.hpp"
#include "family.hpp"

namespace attnviz::model {
namespace {

class Bert final : public Architecture {
 public:
  Bert(BertConfig config, BertWeights weights)
      : config_(std::move(config)), weights_(std::move(weights)), shape_(shapeOf(config_)) {}
  const ModelShape& shape() const override { return shape_; }
  long parameterCount() const override {
    long count = weights_.embeddingNormWeight.size() * 2;
    for (const auto& [name, w] : weights_.named()) count += w->rows() * w->cols();
    for (const BertBlock& b : weights_.blocks)
      count += 4 * b.queryBias.size() + 4 * b.attentionNormWeight.size() + b.mlpInBias.size() + b.mlpOutBias.size();
    if (weights_.hasMaskedLmHead)
      count += weights_.transformBias.size() + 2 * weights_.headNormWeight.size() + weights_.decoderBias.size();
    return count;
  }
  std::size_t weightBytes() const override {
    std::size_t bytes = 0;
    for (const auto& [name, w] : weights_.named()) bytes += w->bytes();
    return bytes;
  }
  std::string configJson() const override {
    const BertConfig& c = config_;
    return nlohmann::json{{"model_type", c.modelType},
                          {"vocab_size", c.vocabSize},
                          {"hidden_size", c.dModel},
                          {"num_hidden_layers", c.layers},
                          {"num_attention_heads", c.heads},
                          {"intermediate_size", c.inner},
                          {"hidden_act", toString(c.activation)},
                          {"max_position_embeddings", c.positions},
                          {"type_vocab_size", c.typeVocabSize},
                          {"pad_token_id", c.padTokenId},
                          {"layer_norm_eps", c.layerNormEpsilon},
                          {"masked_lm_head", weights_.hasMaskedLmHead}}
        .dump();
  }
  ForwardRecord forward(const std::vector<int>& ids, const ForwardOptions& options) const override {
    return forwardBert(config_, weights_, ids, {}, options);
  }
  ForwardRecord forwardTyped(const std::vector<int>& ids, const std::vector<int>& typeIds,
                             const ForwardOptions& options) const override {
    return forwardBert(config_, weights_, ids, typeIds, options);
  }
  double forwardFlops(long n, long logitRows) const override {
    const double d = config_.dModel, inner = config_.inner, nn = double(n);
    const double perLayer = 2 * nn * d * 3 * d + 2 * 2 * nn * nn * d + 2 * nn * d * d + 2 * 2 * nn * d * inner;
    const double head = weights_.hasMaskedLmHead ? 2.0 * double(logitRows) * d * (d + config_.vocabSize) : 0;
    return config_.layers * perLayer + head;
  }
  // Post-norm: attention reads the residual stream itself.
  Matrix attentionInput(const ForwardRecord& record, int layer) const override { return record.resid.at(std::size_t(layer)); }
  ProjectionWeights attentionProjections(int layer) const override {
    const BertBlock& b = weights_.blocks.at(std::size_t(layer));
    return {b.query.toFloat().transpose(), b.key.toFloat().transpose(), b.value.toFloat().transpose()};
  }
  Matrix attentionOutputWeight(int layer) const override {
    return weights_.blocks.at(std::size_t(layer)).output.toFloat().transpose();
  }
  ModelBlock block(const ForwardRecord& rec, int layer) const override {
    const BertConfig& c = config_;
    const BertBlock& b = weights_.blocks.at(std::size_t(layer));
    ModelBlock block;
    block.layer = layer;
    block.tokenIds = rec.ids;
    block.residPre = rec.resid.at(std::size_t(layer));
    block.postNorm = true;
    block.norm = ModelBlock::Norm::LayerNorm;
    block.epsilon = c.layerNormEpsilon;
    if (layer == 0) {
      // Layer 0's LayerNorm step is the embeddings' (embeddings.LayerNorm): it reads their sum.
      Matrix words, positions, types;
      bertEmbeddingParts(c, weights_, rec, words, positions, types);
      block.tokenEmbedding = std::move(words);
      block.positionEmbedding = std::move(positions);
      block.positionOffset = c.firstPosition();
      if (!weights_.tokenTypeEmbeddings.empty()) block.typeEmbedding = std::move(types);
      block.embeddingSum = block.tokenEmbedding + block.positionEmbedding;
      if (block.typeEmbedding.size()) block.embeddingSum += block.typeEmbedding;
      layerNormRowStatistics(block.embeddingSum, c.layerNormEpsilon, block.rowMean, block.rowScale);
      block.gamma = weights_.embeddingNormWeight;
      block.beta = weights_.embeddingNormBias;
    }
    block.biasQ = b.queryBias;
    block.biasK = b.keyBias;
    block.biasV = b.valueBias;
    block.biasO = b.outputBias;
    block.heads = block.kvHeads = c.heads;
    block.headDim = c.headWidth();
    block.attnOut = rec.layers.at(std::size_t(layer)).attnOut;
    block.residMid = block.residPre + block.attnOut;  // the add, before its LayerNorm
    layerNormRowStatistics(block.residMid, c.layerNormEpsilon, block.postNormMean, block.postNormScale);
    block.postNormGamma = b.attentionNormWeight;
    block.postNormBeta = b.attentionNormBias;
    block.postNormed = layerNorm(block.residMid, b.attentionNormWeight, b.attentionNormBias, c.layerNormEpsilon);
    return block;
  }
  const std::vector<std::string>& steps() const override {
    // Post-norm: the embeddings' sum (word + position + type) and its LayerNorm are the first
    // block's input (later blocks read the previous block's output); Q, K, V straight from the
    // residual stream; the mask step shows that nothing is masked; W_O; the add, then LayerNorm.
    static const std::vector<std::string> kSteps = {
        "embedding", "ln_1",   "resid_pre", "q",       "k",      "v",         "scores",   "scaled",  "masked",
        "minus_row_max", "exp", "row_sum",  "weights", "output", "projected", "resid_mid", "post_ln"};
    return kSteps;
  }

 private:
  BertConfig config_;
  BertWeights weights_;
  ModelShape shape_;
};

}  // namespace

const Family& bertFamily() {
  static const Family family = familyEntry<Bert, parseBertConfig, readBertWeights, randomBertWeights>(
      "bert", {"bert", "roberta", "distilbert"},
      {"bert.embeddings.word_embeddings.weight", "roberta.embeddings.word_embeddings.weight",
       "distilbert.embeddings.word_embeddings.weight", "embeddings.word_embeddings.weight"});
  return family;
}

}  // namespace attnviz::model
