// The Llama family (llama, mistral, qwen2) behind the one model interface (family.hpp): its
// shape, forward pass, and the steps around each layer's attention, the rotation included.
#include <cmath>

#include <nlohmann/json.hpp>

#include "blocks.hpp"
#include "family.hpp"
#include "llama.hpp"

namespace attnviz::model {
namespace {

class Llama final : public Architecture {
 public:
  Llama(LlamaConfig config, LlamaWeights weights)
      : config_(std::move(config)), weights_(std::move(weights)), shape_(shapeOf(config_)) {}

  const ModelShape& shape() const override { return shape_; }
  long parameterCount() const override { return config_.parameterCount(); }
  std::size_t weightBytes() const override {
    std::size_t bytes = 0;
    for (const auto& [name, w] : weights_.named()) bytes += w->bytes();
    return bytes;
  }

  std::string configJson() const override {
    const LlamaConfig& c = config_;
    nlohmann::json scaling = nullptr;
    if (c.ropeScaling)
      scaling = {{"rope_type", "llama3"},
                 {"factor", c.ropeScaling->factor},
                 {"low_freq_factor", c.ropeScaling->lowFreqFactor},
                 {"high_freq_factor", c.ropeScaling->highFreqFactor},
                 {"original_max_position_embeddings", c.ropeScaling->originalMaxPositions}};
    nlohmann::json window = nlohmann::json::array();
    for (int l = 0; l < c.layers; ++l)
      window.push_back(c.layerWindow(l) ? nlohmann::json(*c.layerWindow(l)) : nlohmann::json(nullptr));
    return nlohmann::json{{"model_type", c.modelType},
                          {"vocab_size", c.vocabSize},
                          {"max_position_embeddings", c.positions},
                          {"hidden_size", c.dModel},
                          {"intermediate_size", c.inner},
                          {"num_hidden_layers", c.layers},
                          {"num_attention_heads", c.heads},
                          {"num_key_value_heads", c.kvHeads},
                          {"head_dim", c.headDim},
                          {"rms_norm_eps", c.rmsNormEpsilon},
                          {"rope_theta", c.ropeTheta},
                          {"rope_scaling", scaling},
                          {"tie_word_embeddings", c.tieWordEmbeddings},
                          {"qkv_bias", c.qkvBias},
                          {"o_proj_bias", c.oBias},
                          {"sliding_window_per_layer", window}}
        .dump();
  }

  ForwardRecord forward(const std::vector<int>& ids, const ForwardOptions& options) const override {
    return model::forward(config_, weights_, ids, options);
  }
  Matrix readout(const Matrix& hidden) const override { return model::readout(config_, weights_, hidden); }
  Matrix forwardCached(const std::vector<int>& ids, KvCache& cache, bool append) const override {
    return model::forwardCached(config_, weights_, ids, cache, append);
  }
  // model.norm (RMSNorm, no β) and lm_head (or the tied embed_tokens), which has no bias.
  ReadoutWeights readoutWeights(const std::vector<int>& tokens) const override {
    ReadoutWeights r;
    r.norm = NormKind::RmsNorm;
    r.epsilon = config_.rmsNormEpsilon;
    r.gamma = weights_.norm;
    r.rows.resize(Eigen::Index(tokens.size()), config_.dModel);
    for (std::size_t k = 0; k < tokens.size(); ++k) weights_.unembedding().rowsToFloat(tokens[k], 1, r.rows.row(Eigen::Index(k)).data());
    r.bias = Vector::Zero(Eigen::Index(tokens.size()));
    return r;
  }
  // o_proj's bias (attention_bias: llama, mistral; never qwen2), else zeros.
  Vector attentionOutputBias(int layer) const override {
    const Vector& b = weights_.blocks.at(std::size_t(layer)).oBias;
    return b.size() ? b : Vector(Vector::Zero(config_.dModel));
  }

  // Q, K, V (KV heads), the H heads' scores and AV, o_proj and the three MLP products.
  double forwardFlops(long n, long logitRows) const override {
    const LlamaConfig& c = config_;
    const double d = c.dModel, inner = c.inner, nn = double(n), q = double(c.heads) * c.headDim,
                 kv = double(c.kvHeads) * c.headDim;
    const double perLayer = 2 * nn * d * (q + 2 * kv) + 2 * 2 * nn * nn * q + 2 * nn * q * d + 3 * 2 * nn * d * inner;
    return c.layers * perLayer + 2.0 * double(logitRows) * d * c.vocabSize;
  }

  Matrix attentionInput(const ForwardRecord& record, int layer) const override {
    return blockInputNorm(config_, weights_, record, layer);
  }

  ProjectionWeights attentionProjections(int layer) const override {
    const LlamaConfig& c = config_;
    const LlamaBlock& b = weights_.blocks.at(std::size_t(layer));
    const int dh = c.headDim;
    ProjectionWeights p;
    p.wQ = b.qProj.toFloat().transpose();
    p.wK.resize(c.dModel, Eigen::Index(c.heads) * dh);
    p.wV.resize(c.dModel, Eigen::Index(c.heads) * dh);
    for (int h = 0; h < c.heads; ++h) {
      p.wK.middleCols(Eigen::Index(h) * dh, dh) = b.kProj.rowsToFloat(long(c.kvHeadOf(h)) * dh, dh).transpose();
      p.wV.middleCols(Eigen::Index(h) * dh, dh) = b.vProj.rowsToFloat(long(c.kvHeadOf(h)) * dh, dh).transpose();
    }
    return p;
  }

  Matrix attentionOutputWeight(int layer) const override {
    return weights_.blocks.at(std::size_t(layer)).oProj.toFloat().transpose();
  }

  // RMSNorm statistics as rmsNorm computes them, biases repeated to the query heads like K and
  // V. Llama has no position embeddings (the position enters through the rotation).
  ModelBlock block(const ForwardRecord& rec, int layer) const override {
    const LlamaConfig& c = config_;
    const LlamaBlock& b = weights_.blocks.at(std::size_t(layer));
    const int n = int(rec.ids.size()), d = c.dModel, dh = c.headDim, width = c.heads * dh;
    ModelBlock block;
    block.layer = layer;
    block.tokenIds = rec.ids;
    block.residPre = rec.resid.at(std::size_t(layer));
    if (layer == 0) {
      block.tokenEmbedding = block.residPre;
    } else {
      block.previousResidMid = blockResidMid(rec, layer - 1);
      block.previousMlpOut = block.residPre - block.previousResidMid;
    }
    block.norm = ModelBlock::Norm::RmsNorm;
    block.epsilon = c.rmsNormEpsilon;
    block.rowScale.resize(n);
    for (int i = 0; i < n; ++i)
      block.rowScale(i) = rmsNormScale(block.residPre.row(i).data(), long(block.residPre.cols()), c.rmsNormEpsilon);
    block.gamma = b.inputLayernorm;
    const auto repeated = [&](const Vector& bias) {
      Vector out = Vector::Zero(width);
      if (bias.size() == width) return Vector(bias);
      if (bias.size())
        for (int h = 0; h < c.heads; ++h) out.segment(h * dh, dh) = bias.segment(c.kvHeadOf(h) * dh, dh);
      return out;
    };
    block.biasQ = repeated(b.qBias);
    block.biasK = repeated(b.kBias);
    block.biasV = repeated(b.vBias);
    block.biasO = b.oBias.size() ? b.oBias : Vector(Vector::Zero(d));
    const LayerRecord& L = rec.layers.at(std::size_t(layer));
    block.qUnrotated = L.qUnrotated;
    block.kUnrotated = L.kUnrotated;
    block.qRotated = L.qkv.q;
    block.kRotated = L.qkv.k;
    block.ropeInverseFrequencies = rec.ropeFrequencies;
    for (int i = 0; i < n; ++i) block.positions.push_back(i);  // one sequence from 0: no cache offset
    block.heads = c.heads;
    block.kvHeads = c.kvHeads;
    block.headDim = dh;
    block.slidingWindow = L.slidingWindow;
    block.attnOut = L.attnOut;
    block.residMid = block.residPre + L.attnOut;
    return block;
  }

  const std::vector<std::string>& steps() const override {
    // Pre-norm with the rotation between the projections and the scores; no position embedding.
    static const std::vector<std::string> kSteps = {
        "embedding", "resid_pre", "ln_1",    "q",       "k",      "v",         "rope",     "scores", "scaled",
        "masked",    "minus_row_max", "exp", "row_sum", "weights", "output", "projected", "resid_mid"};
    return kSteps;
  }

 private:
  LlamaConfig config_;
  LlamaWeights weights_;
  ModelShape shape_;
};

}  // namespace

const Family& llamaFamily() {
  static const Family family = familyEntry<Llama, parseLlamaConfig, readLlamaWeights, randomLlamaWeights>(
      "llama", {"llama", "mistral", "qwen2"}, {"model.embed_tokens.weight", "embed_tokens.weight"});
  return family;
}

}  // namespace attnviz::model
