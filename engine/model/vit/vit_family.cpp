// Vision transformers (ViT, DeiT, DINOv2) behind the one model interface (family.hpp).
#include <nlohmann/json.hpp>

#include "blocks.hpp"
#include "family.hpp"
#include "vit.hpp"

namespace attnviz::model {
namespace {

class Vit final : public Architecture {
 public:
  Vit(VitConfig config, VitWeights weights) : config_(std::move(config)), weights_(std::move(weights)) {
    config_.labels = vitLabels(config_, weights_);
    shape_ = shapeOf(config_);
  }
  const ModelShape& shape() const override { return shape_; }
  long parameterCount() const override {
    long count = weights_.clsToken.size() + weights_.distillationToken.size() + weights_.registerTokens.size() +
                 weights_.positionEmbeddings.size() + weights_.patchBias.size() + weights_.normWeight.size() * 2;
    for (const auto& [name, w] : weights_.named()) count += w->rows() * w->cols();
    for (const VitBlock& b : weights_.blocks)
      count += b.norm1Weight.size() * 4 + (config_.qkvBias ? 3 * b.queryBias.size() : 0) + b.outputBias.size() +
               b.layerScale1.size() + b.layerScale2.size() + b.mlpInBias.size() + b.mlpOutBias.size();
    return count + weights_.classifierBias.size() + weights_.distillationClassifierBias.size();
  }
  std::size_t weightBytes() const override {
    std::size_t bytes = 0;
    for (const auto& [name, w] : weights_.named()) bytes += w->bytes();
    return bytes;
  }
  std::string configJson() const override {
    const VitConfig& c = config_;
    nlohmann::json j{{"model_type", c.modelType},
                     {"hidden_size", c.dModel},
                     {"num_hidden_layers", c.layers},
                     {"num_attention_heads", c.heads},
                     {"intermediate_size", c.inner},
                     {"hidden_act", toString(c.activation)},
                     {"layer_norm_eps", c.layerNormEpsilon},
                     {"image_size", c.imageSize},
                     {"patch_size", c.patchSize},
                     {"num_channels", c.channels},
                     {"qkv_bias", c.qkvBias},
                     {"labels", c.labels.size()}};
    if (c.anyImageSize()) {
      j["use_swiglu_ffn"] = c.swiglu;
      j["num_register_tokens"] = c.registers;
    }
    return j.dump();
  }
  ForwardRecord forward(const std::vector<int>&, const ForwardOptions&) const override {
    throw Error(config_.modelType + " is a vision model: it reads an image (--image FILE or --pixels FILE.npy), not text");
  }
  ForwardRecord forwardImage(const PixelTensor& pixels, const ForwardOptions& options) const override {
    return forwardVit(config_, weights_, pixels, options);
  }
  double forwardFlops(long n, long logitRows) const override {
    const VitConfig& c = config_;
    const double d = c.dModel, nn = double(n), inner = c.inner * (c.swiglu ? 3.0 : 2.0);
    const double patchIn = double(c.channels) * c.patchSize * c.patchSize;
    const double perLayer = 2 * nn * d * 3 * d + 2 * 2 * nn * nn * d + 2 * nn * d * d + 2 * nn * d * inner;
    return 2 * nn * d * patchIn + c.layers * perLayer + 2.0 * double(logitRows) * d * double(c.labels.size());
  }
  Matrix attentionInput(const ForwardRecord& record, int layer) const override {
    return vitNorm1(config_, weights_, record, layer);
  }
  ProjectionWeights attentionProjections(int layer) const override {
    const VitBlock& b = weights_.blocks.at(std::size_t(layer));
    return {b.query.toFloat().transpose(), b.key.toFloat().transpose(), b.value.toFloat().transpose()};
  }
  Matrix attentionOutputWeight(int layer) const override {
    return weights_.blocks.at(std::size_t(layer)).output.toFloat().transpose();
  }
  ModelBlock block(const ForwardRecord& rec, int layer) const override {
    const VitConfig& c = config_;
    const VitBlock& b = weights_.blocks.at(std::size_t(layer));
    const int n = rec.tokens(), d = c.dModel;
    ModelBlock block;
    block.layer = layer;
    block.residPre = rec.resid.at(std::size_t(layer));
    if (layer == 0 && rec.grid) {
      // The tokens before position embeddings ([CLS], the projected patches) and what was added;
      // registers carry no position embedding.
      const PatchGrid& g = *rec.grid;
      const Matrix placed = vitPositionEmbeddings(c, weights_, g.rows, g.cols);
      const int prefix = int(placed.rows()) - g.rows * g.cols;
      block.positionEmbedding = Matrix::Zero(n, d);
      block.positionEmbedding.topRows(prefix) = placed.topRows(prefix);
      block.positionEmbedding.bottomRows(g.rows * g.cols) = placed.bottomRows(g.rows * g.cols);
      block.tokenEmbedding = block.residPre - block.positionEmbedding;
      block.patchWeight = weights_.patchProjection.toFloat();
      block.patchBias = weights_.patchBias;
      block.patchPixels = rec.patchPixels;
      block.patchChannels = c.channels;
    } else if (layer > 0) {
      block.previousResidMid = blockResidMid(rec, layer - 1);
      block.previousMlpOut = block.residPre - block.previousResidMid;
    }
    block.norm = ModelBlock::Norm::LayerNorm;
    block.epsilon = c.layerNormEpsilon;
    layerNormRowStatistics(block.residPre, c.layerNormEpsilon, block.rowMean, block.rowScale);
    block.gamma = b.norm1Weight;
    block.beta = b.norm1Bias;
    block.biasQ = b.queryBias;
    block.biasK = b.keyBias;
    block.biasV = b.valueBias;
    block.biasO = b.outputBias;
    block.heads = block.kvHeads = c.heads;
    block.headDim = c.headWidth();
    // With DINOv2's layer scale this is λ₁ ⊙ (heads · W_O + b), what the residual stream adds.
    block.attnOut = rec.layers.at(std::size_t(layer)).attnOut;
    block.residMid = block.residPre + block.attnOut;
    return block;
  }
  const std::vector<std::string>& steps() const override {
    // Pre-norm like GPT-2; the mask step stays to show that nothing is masked: an image's tokens
    // all see each other.
    static const std::vector<std::string> kSteps = {
        "embedding", "resid_pre", "ln_1",    "q",       "k",      "v",         "scores",   "scaled",
        "masked",    "minus_row_max", "exp", "row_sum", "weights", "output", "projected", "resid_mid"};
    return kSteps;
  }

 private:
  VitConfig config_;
  VitWeights weights_;
  ModelShape shape_;
};

}  // namespace

const Family& vitFamily() {
  static const Family family = familyEntry<Vit, parseVitConfig, readVitWeights, randomVitWeights>(
      "vit", {"vit", "deit", "dinov2", "dinov2_with_registers"},
      {"vit.embeddings.patch_embeddings.projection.weight", "deit.embeddings.patch_embeddings.projection.weight",
       "dinov2.embeddings.patch_embeddings.projection.weight",
       "dinov2_with_registers.embeddings.patch_embeddings.projection.weight",
       "embeddings.patch_embeddings.projection.weight"});
  return family;
}

}  // namespace attnviz::model
