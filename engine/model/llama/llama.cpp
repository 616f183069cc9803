#include "llama.hpp"

#include <chrono>
#include <cmath>

#include "blocks.hpp"
#include "checkpoint.hpp"
#include "tokens.hpp"

namespace attnviz::model {
LlamaWeights readLlamaWeights(const TensorStore& store, const LlamaConfig& c, const std::string& weightsName) {
  TensorReader read{store, "model."};
  if (!store.find("model.embed_tokens.weight").info) {
    if (store.find("embed_tokens.weight").info) read.prefix = "";
    else
      throw Error(weightsName + ": the checkpoint has no tensor \"model.embed_tokens.weight\": not a " + c.modelType +
                  " checkpoint?");
  }
  const long d = c.dModel, q = long(c.heads) * c.headDim, kv = long(c.kvHeads) * c.headDim, inner = c.inner;
  LlamaWeights w;
  w.embedTokens = read.weight("embed_tokens.weight", c.vocabSize, d);
  w.blocks.resize(c.layers);
  for (int l = 0; l < c.layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    LlamaBlock& b = w.blocks[l];
    b.inputLayernorm = read.vector(p + "input_layernorm.weight", d);
    b.qProj = read.weight(p + "self_attn.q_proj.weight", q, d);
    b.kProj = read.weight(p + "self_attn.k_proj.weight", kv, d);
    b.vProj = read.weight(p + "self_attn.v_proj.weight", kv, d);
    b.oProj = read.weight(p + "self_attn.o_proj.weight", d, q);
    if (c.qkvBias) {
      b.qBias = read.vector(p + "self_attn.q_proj.bias", q);
      b.kBias = read.vector(p + "self_attn.k_proj.bias", kv);
      b.vBias = read.vector(p + "self_attn.v_proj.bias", kv);
    }
    if (c.oBias) b.oBias = read.vector(p + "self_attn.o_proj.bias", d);
    b.postAttentionLayernorm = read.vector(p + "post_attention_layernorm.weight", d);
    b.gateProj = read.weight(p + "mlp.gate_proj.weight", inner, d);
    b.upProj = read.weight(p + "mlp.up_proj.weight", inner, d);
    b.downProj = read.weight(p + "mlp.down_proj.weight", d, inner);
  }
  w.norm = read.vector("norm.weight", d);
  // Tied checkpoints may still carry lm_head.weight (a copy); Hugging Face ties it regardless.
  if (!c.tieWordEmbeddings) w.lmHead = TensorReader{store, ""}.weight("lm_head.weight", c.vocabSize, d);
  return w;
}

std::vector<std::pair<std::string, const WeightMatrix*>> LlamaWeights::named() const {
  std::vector<std::pair<std::string, const WeightMatrix*>> out = {{"model.embed_tokens.weight", &embedTokens}};
  for (std::size_t l = 0; l < blocks.size(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const LlamaBlock& b = blocks[l];
    out.insert(out.end(), {{p + "self_attn.q_proj.weight", &b.qProj},
                           {p + "self_attn.k_proj.weight", &b.kProj},
                           {p + "self_attn.v_proj.weight", &b.vProj},
                           {p + "self_attn.o_proj.weight", &b.oProj},
                           {p + "mlp.gate_proj.weight", &b.gateProj},
                           {p + "mlp.up_proj.weight", &b.upProj},
                           {p + "mlp.down_proj.weight", &b.downProj}});
  }
  out.push_back({"lm_head.weight", &lmHead});
  return out;
}

LlamaWeights randomLlamaWeights(const LlamaConfig& c, std::uint64_t seed, DType dtype) {
  const int d = c.dModel, q = c.heads * c.headDim, kv = c.kvHeads * c.headDim, inner = c.inner;
  auto small = [&seed](int n) { return Vector(glorotUniform(1, n, ++seed).row(0).transpose() * 0.1f); };
  LlamaWeights w;
  w.embedTokens = WeightMatrix(glorotUniform(c.vocabSize, d, ++seed)).storedAs(dtype);
  w.blocks.resize(c.layers);
  for (LlamaBlock& b : w.blocks) {
    b.inputLayernorm = Vector::Ones(d);
    b.qProj = WeightMatrix(glorotUniform(q, d, ++seed)).storedAs(dtype);
    b.kProj = WeightMatrix(glorotUniform(kv, d, ++seed)).storedAs(dtype);
    b.vProj = WeightMatrix(glorotUniform(kv, d, ++seed)).storedAs(dtype);
    b.oProj = WeightMatrix(glorotUniform(d, q, ++seed)).storedAs(dtype);
    if (c.qkvBias) {
      b.qBias = small(q);
      b.kBias = small(kv);
      b.vBias = small(kv);
    }
    if (c.oBias) b.oBias = small(d);
    b.postAttentionLayernorm = Vector::Ones(d);
    b.gateProj = WeightMatrix(glorotUniform(inner, d, ++seed)).storedAs(dtype);
    b.upProj = WeightMatrix(glorotUniform(inner, d, ++seed)).storedAs(dtype);
    b.downProj = WeightMatrix(glorotUniform(d, inner, ++seed)).storedAs(dtype);
  }
  w.norm = Vector::Ones(d);
  if (!c.tieWordEmbeddings) w.lmHead = WeightMatrix(glorotUniform(c.vocabSize, d, ++seed)).storedAs(dtype);
  return w;
}

std::vector<double> ropeInverseFrequencies(const LlamaConfig& c) {
  const int half = c.headDim / 2;
  std::vector<double> inv(half);
  for (int i = 0; i < half; ++i) inv[i] = std::pow(c.ropeTheta, -2.0 * i / c.headDim);
  if (!c.ropeScaling) return inv;
  const Llama3RopeScaling& s = *c.ropeScaling;
  const double lowFreqWavelength = s.originalMaxPositions / s.lowFreqFactor;
  const double highFreqWavelength = s.originalMaxPositions / s.highFreqFactor;
  for (double& f : inv) {
    const double wavelength = 2 * M_PI / f;
    if (wavelength > lowFreqWavelength) {
      f /= s.factor;
    } else if (wavelength >= highFreqWavelength) {  // between the two: blend
      const double smooth = (s.originalMaxPositions / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      f = (1 - smooth) * f / s.factor + smooth * f;
    }
  }
  return inv;
}

AttentionOptions layerAttentionOptions(const LlamaConfig& c, int layer, int n, const ForwardOptions& options) {
  AttentionOptions a;
  a.score = ScoreFunction::Scaled;
  a.scaleOverride = options.scale.value_or(1.0f / std::sqrt(float(c.headDim)));
  a.temperature = options.temperature;
  a.mask = options.mask.value_or(MaskKind::Causal);
  a.heads = c.heads;
  const std::optional<int> window = c.layerWindow(layer);
  if (a.mask == MaskKind::Causal && window && *window < n) {
    // Hugging Face's sliding-window causal mask: key j is seen by query i when i − w < j ≤ i.
    a.mask = MaskKind::Custom;
    a.customMask = MaskMatrix::Zero(n, n);
    for (int i = 0; i < n; ++i)
      for (int j = std::max(0, i - *window + 1); j <= i; ++j) a.customMask(i, j) = 1;
  }
  return a;
}

ForwardRecord forward(const LlamaConfig& c, const LlamaWeights& w, const std::vector<int>& ids,
                      const ForwardOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  checkForwardInput(ids, c.vocabSize, c.positions, "max_position_embeddings", c.layers, c.heads, options);

  const int n = int(ids.size()), d = c.dModel, dh = c.headDim, group = c.queryHeadsPerKvHead();
  const std::vector<double> inv = ropeInverseFrequencies(c);
  const RopeTable rope(Eigen::Index(ids.size()), inv);
  ForwardRecord rec;
  rec.ids = ids;
  rec.norm = NormKind::RmsNorm;
  rec.heads = c.heads;
  rec.kvHeads = c.kvHeads;
  rec.ropeFrequencies.resize(Eigen::Index(inv.size()));
  for (size_t i = 0; i < inv.size(); ++i) rec.ropeFrequencies(Eigen::Index(i)) = float(inv[i]);
  Matrix x(n, d);
  for (int i = 0; i < n; ++i) w.embedTokens.rowsToFloat(ids[i], 1, x.row(i).data());
  applyResidualPatches(x, 0, options);
  rec.resid.push_back(x);
  rec.layers.resize(c.layers);
  for (int l = 0; l < c.layers; ++l) {
    const LlamaBlock& b = w.blocks[l];
    LayerRecord& L = rec.layers[l];
    const Matrix h = rmsNorm(x, b.inputLayernorm, c.rmsNormEpsilon);
    L.qUnrotated = linear(h, b.qProj, b.qBias);
    const Matrix k = linear(h, b.kProj, b.kBias);
    L.qkv.q = rotate(L.qUnrotated, c.heads, rope);
    L.qkv.k = expandKvHeads(rotate(k, c.kvHeads, rope), c.kvHeads, group, dh);
    L.qkv.v = expandKvHeads(linear(h, b.vProj, b.vBias), c.kvHeads, group, dh);
    L.kUnrotated = expandKvHeads(k, c.kvHeads, group, dh);
    L.attention = layerAttentionOptions(c, l, n, options);
    L.slidingWindow = c.layerWindow(l);
    runAttention(L, l, dh, options);
    L.attnOut = linear(L.z, b.oProj, b.oBias);
    x += L.attnOut;
    const Matrix h2 = rmsNorm(x, b.postAttentionLayernorm, c.rmsNormEpsilon);
    Matrix gate = linear(h2, b.gateProj, Vector());
    siluTimes(gate, linear(h2, b.upProj, Vector()));
    x += linear(gate, b.downProj, Vector());
    applyResidualPatches(x, l + 1, options);
    rec.resid.push_back(x);
  }
  rec.logits = readout(c, w, options.allLogits ? x : Matrix(x.bottomRows(1)));
  if (!allFinite(rec.logits)) checkFiniteWeights(w.named());
  rec.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return rec;
}

Matrix readout(const LlamaConfig& c, const LlamaWeights& w, const Matrix& hidden) {
  return linear(rmsNorm(hidden, w.norm, c.rmsNormEpsilon), w.unembedding(), Vector());
}

Matrix blockInputNorm(const LlamaConfig& c, const LlamaWeights& w, const ForwardRecord& rec, int layer) {
  return rmsNorm(rec.resid.at(layer), w.blocks.at(layer).inputLayernorm, c.rmsNormEpsilon);
}

}  // namespace attnviz::model
