// GPT-2 behind the one model interface (family.hpp): its shape, forward pass, and the steps
// around each layer's attention.
#include <cmath>

#include <nlohmann/json.hpp>

#include "blocks.hpp"
#include "family.hpp"
#include "gpt2.hpp"

namespace attnviz::model {
namespace {

class Gpt2 final : public Architecture {
 public:
  Gpt2(Gpt2Config config, Gpt2Weights weights)
      : config_(std::move(config)), weights_(std::move(weights)), shape_(shapeOf(config_)) {}

  const ModelShape& shape() const override { return shape_; }
  long parameterCount() const override { return config_.parameterCount(); }
  std::size_t weightBytes() const override {
    std::size_t bytes = 0;
    for (const auto& [name, w] : weights_.named()) bytes += w->bytes();
    return bytes;
  }

  std::string configJson() const override {
    const Gpt2Config& c = config_;
    return nlohmann::json{{"model_type", "gpt2"},
                          {"vocab_size", c.vocabSize},
                          {"n_positions", c.positions},
                          {"n_embd", c.dModel},
                          {"n_layer", c.layers},
                          {"n_head", c.heads},
                          {"n_inner", c.inner},
                          {"layer_norm_epsilon", c.layerNormEpsilon},
                          {"activation_function", toString(c.activation)},
                          {"scale_attn_weights", c.scaleAttnWeights},
                          {"scale_attn_by_inverse_layer_idx", c.scaleAttnByInverseLayerIdx}}
        .dump();
  }

  ForwardRecord forward(const std::vector<int>& ids, const ForwardOptions& options) const override {
    return model::forward(config_, weights_, ids, options);
  }
  Matrix readout(const Matrix& hidden) const override { return model::readout(config_, weights_, hidden); }
  // ln_f and the unembedding (lm_head, or the tied wte), which has no bias.
  ReadoutWeights readoutWeights(const std::vector<int>& tokens) const override {
    ReadoutWeights r;
    r.norm = NormKind::LayerNorm;
    r.epsilon = config_.layerNormEpsilon;
    r.gamma = weights_.lnfWeight;
    r.beta = weights_.lnfBias;
    r.rows.resize(Eigen::Index(tokens.size()), config_.dModel);
    for (std::size_t k = 0; k < tokens.size(); ++k) weights_.unembedding().rowsToFloat(tokens[k], 1, r.rows.row(Eigen::Index(k)).data());
    r.bias = Vector::Zero(Eigen::Index(tokens.size()));
    return r;
  }
  Vector attentionOutputBias(int layer) const override { return weights_.blocks.at(std::size_t(layer)).attnProjBias; }
  Matrix forwardCached(const std::vector<int>& ids, KvCache& cache, bool append) const override {
    return model::forwardCached(config_, weights_, ids, cache, append);
  }

  double forwardFlops(long n, long logitRows) const override {
    const double d = config_.dModel, inner = config_.inner, nn = double(n);
    const double perLayer = 2 * nn * d * 3 * d + 2 * 2 * nn * nn * d + 2 * nn * d * d + 2 * 2 * nn * d * inner;
    return config_.layers * perLayer + 2.0 * double(logitRows) * d * config_.vocabSize;
  }

  Matrix attentionInput(const ForwardRecord& record, int layer) const override {
    return blockLn1(config_, weights_, record, layer);
  }

  ProjectionWeights attentionProjections(int layer) const override {
    const WeightMatrix& w = weights_.blocks.at(std::size_t(layer)).attnWeight;
    const long d = config_.dModel;
    ProjectionWeights p;
    Matrix* parts[] = {&p.wQ, &p.wK, &p.wV};  // c_attn's columns: Q | K | V
    for (long i = 0; i < 3; ++i) {
      parts[i]->resize(d, d);
      w.colsToFloat(i * d, d, parts[i]->data());
    }
    return p;
  }

  Matrix attentionOutputWeight(int layer) const override {
    return weights_.blocks.at(std::size_t(layer)).attnProjWeight.toFloat();
  }

  ModelBlock block(const ForwardRecord& rec, int layer) const override {
    const Gpt2Config& c = config_;
    const Gpt2Block& b = weights_.blocks.at(std::size_t(layer));
    const int n = int(rec.ids.size()), d = c.dModel;
    ModelBlock block;
    block.layer = layer;
    block.tokenIds = rec.ids;
    block.residPre = rec.resid.at(std::size_t(layer));
    if (layer == 0) {
      block.tokenEmbedding.resize(n, d);
      for (int i = 0; i < n; ++i) weights_.wte.rowsToFloat(rec.ids[std::size_t(i)], 1, block.tokenEmbedding.row(i).data());
      block.positionEmbedding = weights_.wpe.rowsToFloat(0, n);
    } else {
      block.previousResidMid = blockResidMid(rec, layer - 1);
      block.previousMlpOut = block.residPre - block.previousResidMid;
    }
    // The same statistics as layerNorm (double, population variance).
    block.norm = ModelBlock::Norm::LayerNorm;
    block.epsilon = c.layerNormEpsilon;
    layerNormRowStatistics(block.residPre, c.layerNormEpsilon, block.rowMean, block.rowScale);
    block.gamma = b.ln1Weight;
    block.beta = b.ln1Bias;
    block.biasQ = b.attnBias.segment(0, d);
    block.biasK = b.attnBias.segment(d, d);
    block.biasV = b.attnBias.segment(2 * d, d);
    block.biasO = b.attnProjBias;
    block.heads = block.kvHeads = c.heads;  // every head its own K and V; no rotation
    block.headDim = c.headWidth();
    const LayerRecord& L = rec.layers.at(std::size_t(layer));
    block.attnOut = L.attnOut;
    block.residMid = block.residPre + L.attnOut;
    return block;
  }

  const std::vector<std::string>& steps() const override {
    // Pre-norm: the block's input, ln_1, the projections, attention, c_proj, the residual add.
    static const std::vector<std::string> kSteps = {
        "embedding", "resid_pre", "ln_1",  "q",       "k",      "v",       "scores",   "scaled",   "masked",
        "minus_row_max", "exp",   "row_sum", "weights", "output", "projected", "resid_mid"};
    return kSteps;
  }

 private:
  Gpt2Config config_;
  Gpt2Weights weights_;
  ModelShape shape_;
};

}  // namespace

const Family& gpt2Family() {
  static const Family family = familyEntry<Gpt2, parseGpt2Config, readGpt2Weights, randomGpt2Weights>(
      "gpt2", {"gpt2"}, {"transformer.wte.weight", "wte.weight"});
  return family;
}

}  // namespace attnviz::model
