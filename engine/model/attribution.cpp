#include "attribution.hpp"

#include <cmath>
#include <string>

namespace attnviz::model {
namespace {

// A record of this model's full text pass, a position and tokens inside it; throws Error.
void checkInput(const Architecture& model, const ForwardRecord& record, int position, const std::vector<int>& tokens) {
  const ModelShape& s = model.shape();
  if (record.ids.empty() || record.resid.size() != std::size_t(s.layers) + 1 || record.layers.size() != std::size_t(s.layers))
    throw Error("direct logit attribution needs a text model's full forward pass (every layer's residual stream)");
  const int n = int(record.ids.size());
  if (position < 0 || position >= n)
    throw Error("position " + std::to_string(position) + " is outside the text's " + std::to_string(n) +
                " tokens (0 to " + std::to_string(n - 1) + ")");
  for (int t : tokens)
    if (t < 0 || t >= s.vocabSize)
      throw Error("token id " + std::to_string(t) + " is outside the vocabulary (0 to " + std::to_string(s.vocabSize - 1) + ")");
}

// The model's own logits at the position (1 × vocab): the readout the forward pass uses.
Matrix logitsAt(const Architecture& model, const ForwardRecord& record, int position) {
  return model.readout(Matrix(record.resid.back().row(position)));
}

}  // namespace

void checkAttributable(const Architecture& model) { (void)model.readoutWeights({}); }

int topPrediction(const Architecture& model, const ForwardRecord& record, int position) {
  checkAttributable(model);
  checkInput(model, record, position, {});
  const Matrix logits = logitsAt(model, record, position);
  Eigen::Index best = 0;
  for (Eigen::Index v = 1; v < logits.cols(); ++v)
    if (logits(0, v) > logits(0, best)) best = v;  // strict: ties keep the smaller id
  return int(best);
}

LogitAttribution directLogitAttribution(const Architecture& model, const ForwardRecord& record, int position,
                                        int target, std::optional<int> contrast) {
  std::vector<int> tokens = {target};
  if (contrast) tokens.push_back(*contrast);
  checkAttributable(model);  // encoders and vision models are refused before anything else
  checkInput(model, record, position, tokens);
  const ReadoutWeights w = model.readoutWeights(tokens);
  const ModelShape& s = model.shape();
  const long d = s.dModel;

  LogitAttribution a;
  a.position = position;
  a.target = target;
  a.contrast = contrast;
  a.norm = w.norm;

  // u = W_U[t] − W_U[c]; the frozen norm's scale from resid_final.
  Eigen::VectorXd u = w.rows.row(0).transpose().cast<double>();
  double bias = w.bias(0);
  if (contrast) {
    u -= w.rows.row(1).transpose().cast<double>();
    bias -= w.bias(1);
  }
  const Eigen::VectorXd last = record.resid.back().row(position).transpose().cast<double>();
  Eigen::VectorXd direction = w.gamma.cast<double>().cwiseProduct(u);
  if (w.norm == NormKind::LayerNorm) {
    const double mean = last.mean();
    a.scale = std::sqrt((last.array() - mean).square().sum() / double(d) + w.epsilon);
    // (v − mean(v)) · g = v · (g − mean(g)): the centring moves onto the direction.
    direction /= a.scale;
    direction.array() -= direction.mean();
    a.normBias = w.beta.cast<double>().dot(u);
  } else {
    a.scale = std::sqrt(last.squaredNorm() / double(d) + w.epsilon);
    direction /= a.scale;
  }
  a.unembeddingBias = bias;

  // Row `position` of an n × d record entry, in double.
  const auto rowOf = [position](const Matrix& m) -> Eigen::VectorXd { return m.row(position).transpose().cast<double>(); };
  a.embeddings = rowOf(record.resid.front()).dot(direction);
  a.heads.resize(s.layers, s.heads);
  a.mlps.resize(s.layers);
  for (int l = 0; l < s.layers; ++l) {
    const LayerRecord& L = record.layers[std::size_t(l)];
    const Matrix wO = model.attentionOutputWeight(l);  // H·d_head × d
    const long dh = wO.rows() / s.heads;
    if (L.z.rows() != long(record.ids.size()) || L.z.cols() != wO.rows() || L.attnOut.rows() != L.z.rows())
      throw Error("direct logit attribution needs every layer's head outputs (z) in the forward pass");
    // Head h writes z_h · W_O[h rows]; its share is z_h · (W_O[h rows] · direction).
    const Eigen::VectorXd read = wO.cast<double>() * direction;
    const Eigen::VectorXd z = rowOf(L.z);
    for (int h = 0; h < s.heads; ++h) a.heads(l, h) = z.segment(h * dh, dh).dot(read.segment(h * dh, dh));
    a.attentionBiases += model.attentionOutputBias(l).cast<double>().dot(direction);
    // The MLP's output as the block added it: resid_post − resid_pre − attn_out.
    const Eigen::VectorXd mlp = rowOf(record.resid[std::size_t(l) + 1]) - rowOf(record.resid[std::size_t(l)]) - rowOf(L.attnOut);
    a.mlps(l) = mlp.dot(direction);
  }

  const Matrix logits = logitsAt(model, record, position);
  a.logitTarget = logits(0, target);
  if (contrast) a.logitContrast = logits(0, *contrast);
  return a;
}

}  // namespace attnviz::model
