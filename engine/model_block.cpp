#include "model_block.hpp"

#include <cmath>

#include "gpt2.hpp"
#include "model.hpp"

namespace attnviz {

ModelBlock gpt2Block(const model::Gpt2Model& m, const model::ForwardRecord& rec, int layer) {
  const model::Gpt2Config& c = m.config;
  const model::Gpt2Block& b = m.weights.blocks.at(std::size_t(layer));
  const int n = int(rec.ids.size()), d = c.dModel;
  ModelBlock block;
  block.layer = layer;
  block.tokenIds = rec.ids;
  block.residPre = rec.resid.at(std::size_t(layer));
  if (layer == 0) {
    block.tokenEmbedding.resize(n, d);
    for (int i = 0; i < n; ++i) block.tokenEmbedding.row(i) = m.weights.wte.row(rec.ids[std::size_t(i)]);
    block.positionEmbedding = m.weights.wpe.topRows(n);
  } else {
    block.previousResidMid = model::blockResidMid(rec, layer - 1);
    block.previousMlpOut = block.residPre - block.previousResidMid;
  }
  // The same statistics as model::layerNorm (double, population variance).
  block.norm = ModelBlock::Norm::LayerNorm;
  block.epsilon = c.layerNormEpsilon;
  block.rowMean.resize(n);
  block.rowScale.resize(n);
  for (int i = 0; i < n; ++i) {
    const auto row = block.residPre.row(i).cast<double>();
    const double mean = row.sum() / double(d);
    const double variance = (row.array() - mean).square().sum() / double(d);
    block.rowMean(i) = float(mean);
    block.rowScale(i) = float(1.0 / std::sqrt(variance + c.layerNormEpsilon));
  }
  block.gamma = b.ln1Weight;
  block.beta = b.ln1Bias;
  block.biasQ = b.attnBias.segment(0, d);
  block.biasK = b.attnBias.segment(d, d);
  block.biasV = b.attnBias.segment(2 * d, d);
  block.biasO = b.attnProjBias;
  block.heads = block.kvHeads = c.heads;  // every head its own K and V; no rotation
  block.headDim = c.headWidth();
  const model::LayerRecord& L = rec.layers.at(std::size_t(layer));
  block.attnOut = L.attnOut;
  block.residMid = block.residPre + L.attnOut;
  return block;
}

// The steps around a Llama-family layer's attention (model_block.hpp): RMSNorm statistics as
// model::rmsNorm computes them, biases repeated to the query heads like K and V. Llama has no
// position embeddings (the position enters through the rotation), so they are zeros here.
namespace {

ModelBlock llamaBlock(const model::Model& m, const model::ForwardRecord& rec, int layer) {
  const model::LlamaConfig& c = m.llama;
  const model::LlamaBlock& b = m.llamaWeights.blocks.at(std::size_t(layer));
  const int n = int(rec.ids.size()), d = c.dModel, dh = c.headDim, width = c.heads * dh;
  ModelBlock block;
  block.layer = layer;
  block.tokenIds = rec.ids;
  block.residPre = rec.resid.at(std::size_t(layer));
  if (layer == 0) {
    block.tokenEmbedding = block.residPre;  // no position embedding: positions enter through RoPE
  } else {
    block.previousResidMid = model::blockResidMid(rec, layer - 1);
    block.previousMlpOut = block.residPre - block.previousResidMid;
  }
  block.norm = ModelBlock::Norm::RmsNorm;
  block.epsilon = c.rmsNormEpsilon;
  block.rowScale.resize(n);
  for (int i = 0; i < n; ++i)
    block.rowScale(i) = float(1.0 / std::sqrt(block.residPre.row(i).cast<double>().squaredNorm() / d + c.rmsNormEpsilon));
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
  const model::LayerRecord& L = rec.layers.at(std::size_t(layer));
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

}  // namespace

ModelBlock modelBlock(const model::Model& m, const model::ForwardRecord& record, int layer) {
  return m.family == model::Family::Gpt2 ? gpt2Block(m.gpt2, record, layer) : llamaBlock(m, record, layer);
}

}  // namespace attnviz
