#include "gpt2.hpp"

#include <chrono>
#include <cmath>

#include "blocks.hpp"
#include "checkpoint.hpp"
#include "tokens.hpp"

namespace attnviz::model {

Gpt2Weights readGpt2Weights(const TensorStore& store, const Gpt2Config& c, const std::string& weightsName) {
  TensorReader read{store, ""};
  if (store.find("transformer.wte.weight").info) read.prefix = "transformer.";
  else if (!store.find("wte.weight").info)
    throw Error(weightsName + ": the checkpoint has no tensor \"wte.weight\" (nor \"transformer.wte.weight\"): "
                "not a GPT-2 checkpoint?");
  const long d = c.dModel, inner = c.inner;
  Gpt2Weights w;
  w.wte = read.weight("wte.weight", c.vocabSize, d);
  w.wpe = read.weight("wpe.weight", c.positions, d);
  w.blocks.resize(c.layers);
  for (int l = 0; l < c.layers; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    Gpt2Block& b = w.blocks[l];
    b.ln1Weight = read.vector(h + "ln_1.weight", d);
    b.ln1Bias = read.vector(h + "ln_1.bias", d);
    b.attnWeight = read.weight(h + "attn.c_attn.weight", d, 3 * d);
    b.attnBias = read.vector(h + "attn.c_attn.bias", 3 * d);
    b.attnProjWeight = read.weight(h + "attn.c_proj.weight", d, d);
    b.attnProjBias = read.vector(h + "attn.c_proj.bias", d);
    b.ln2Weight = read.vector(h + "ln_2.weight", d);
    b.ln2Bias = read.vector(h + "ln_2.bias", d);
    b.fcWeight = read.weight(h + "mlp.c_fc.weight", d, inner);
    b.fcBias = read.vector(h + "mlp.c_fc.bias", inner);
    b.mlpProjWeight = read.weight(h + "mlp.c_proj.weight", inner, d);
    b.mlpProjBias = read.vector(h + "mlp.c_proj.bias", d);
  }
  w.lnfWeight = read.vector("ln_f.weight", d);
  w.lnfBias = read.vector("ln_f.bias", d);
  if (store.find("lm_head.weight").info) w.lmHead = TensorReader{store, ""}.weight("lm_head.weight", c.vocabSize, d);
  return w;
}

std::vector<std::pair<std::string, const WeightMatrix*>> Gpt2Weights::named() const {
  std::vector<std::pair<std::string, const WeightMatrix*>> out = {{"wte.weight", &wte}, {"wpe.weight", &wpe}};
  for (std::size_t l = 0; l < blocks.size(); ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    const Gpt2Block& b = blocks[l];
    out.insert(out.end(), {{h + "attn.c_attn.weight", &b.attnWeight},
                           {h + "attn.c_proj.weight", &b.attnProjWeight},
                           {h + "mlp.c_fc.weight", &b.fcWeight},
                           {h + "mlp.c_proj.weight", &b.mlpProjWeight}});
  }
  out.push_back({"lm_head.weight", &lmHead});
  return out;
}

Gpt2Weights randomGpt2Weights(const Gpt2Config& c, std::uint64_t seed, DType dtype) {
  const long d = c.dModel, inner = c.inner;
  auto ones = [](long n) { return Vector::Ones(n); };
  auto small = [&seed](long n) {
    return Vector(glorotUniform(1, int(n), ++seed).row(0).transpose() * 0.1f);
  };
  Gpt2Weights w;
  w.wte = WeightMatrix(glorotUniform(c.vocabSize, int(d), ++seed)).storedAs(dtype);
  w.wpe = WeightMatrix(glorotUniform(c.positions, int(d), ++seed)).storedAs(dtype);
  w.blocks.resize(c.layers);
  for (Gpt2Block& b : w.blocks) {
    b.ln1Weight = ones(d);
    b.ln1Bias = small(d);
    b.attnWeight = WeightMatrix(glorotUniform(int(d), int(3 * d), ++seed)).storedAs(dtype);
    b.attnBias = small(3 * d);
    b.attnProjWeight = WeightMatrix(glorotUniform(int(d), int(d), ++seed)).storedAs(dtype);
    b.attnProjBias = small(d);
    b.ln2Weight = ones(d);
    b.ln2Bias = small(d);
    b.fcWeight = WeightMatrix(glorotUniform(int(d), int(inner), ++seed)).storedAs(dtype);
    b.fcBias = small(inner);
    b.mlpProjWeight = WeightMatrix(glorotUniform(int(inner), int(d), ++seed)).storedAs(dtype);
    b.mlpProjBias = small(d);
  }
  w.lnfWeight = ones(d);
  w.lnfBias = small(d);
  return w;
}

AttentionOptions layerAttentionOptions(const Gpt2Config& c, int layer, const ForwardOptions& options) {
  AttentionOptions a;
  a.score = ScoreFunction::Scaled;
  float base = c.scaleAttnWeights ? 1.0f / std::sqrt(float(c.headWidth())) : 1.0f;
  if (c.scaleAttnByInverseLayerIdx) base /= float(layer + 1);
  a.scaleOverride = options.scale.value_or(base);
  a.temperature = options.temperature;
  a.mask = options.mask.value_or(MaskKind::Causal);
  a.heads = c.heads;
  return a;
}

ForwardRecord forward(const Gpt2Config& c, const Gpt2Weights& w, const std::vector<int>& ids,
                      const ForwardOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  checkForwardInput(ids, c.vocabSize, c.positions, "n_positions", c.layers, c.heads, options);

  const int n = int(ids.size()), d = c.dModel, dh = c.headWidth();
  ForwardRecord rec;
  rec.ids = ids;
  rec.norm = NormKind::LayerNorm;
  rec.heads = rec.kvHeads = c.heads;
  Matrix x(n, d);
  for (int i = 0; i < n; ++i) w.wte.rowsToFloat(ids[i], 1, x.row(i).data());
  x += w.wpe.rowsToFloat(0, n);
  applyResidualPatches(x, 0, options);
  rec.resid.push_back(x);
  rec.layers.resize(c.layers);
  for (int l = 0; l < c.layers; ++l) {
    const Gpt2Block& b = w.blocks[l];
    LayerRecord& L = rec.layers[l];
    const Matrix h = layerNorm(x, b.ln1Weight, b.ln1Bias, c.layerNormEpsilon);
    conv1dInThirds(h, b.attnWeight, b.attnBias, L.qkv.q, L.qkv.k, L.qkv.v);
    L.attention = layerAttentionOptions(c, l, options);
    runAttention(L, l, dh, options);
    L.attnOut = conv1d(L.z, b.attnProjWeight, b.attnProjBias);
    x += L.attnOut;
    Matrix mlp = conv1d(layerNorm(x, b.ln2Weight, b.ln2Bias, c.layerNormEpsilon), b.fcWeight, b.fcBias);
    activate(mlp, c.activation);
    x += conv1d(mlp, b.mlpProjWeight, b.mlpProjBias);
    applyResidualPatches(x, l + 1, options);
    rec.resid.push_back(x);
  }
  rec.logits = readout(c, w, options.allLogits ? x : Matrix(x.bottomRows(1)));
  if (!allFinite(rec.logits)) checkFiniteWeights(w.named());
  rec.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return rec;
}

Matrix readout(const Gpt2Config& c, const Gpt2Weights& w, const Matrix& hidden) {
  return linear(layerNorm(hidden, w.lnfWeight, w.lnfBias, c.layerNormEpsilon), w.unembedding(), Vector());
}

Matrix blockLn1(const Gpt2Config& c, const Gpt2Weights& w, const ForwardRecord& rec, int layer) {
  const Gpt2Block& b = w.blocks.at(layer);
  return layerNorm(rec.resid.at(layer), b.ln1Weight, b.ln1Bias, c.layerNormEpsilon);
}


}  // namespace attnviz::model
