// GPT-2's step for generation: the new tokens' rows through every block, their attention
// reading the cached keys and values of the earlier positions. The same blocks and the same
// attention engine as forward() (gpt2.cpp), on the new rows only: the engine's causal mask is
// bottom-right aligned, so new row i sees every cached key and the new keys up to its own.
#include "blocks.hpp"
#include "checkpoint.hpp"
#include "gpt2.hpp"

namespace attnviz::model {

Matrix forwardCached(const Gpt2Config& c, const Gpt2Weights& w, const std::vector<int>& ids, KvCache& cache,
                     bool append) {
  checkCachedInput(ids, cache, c.vocabSize, c.positions, "n_positions");
  const int m = int(ids.size()), first = cache.length, d = c.dModel, dh = c.headWidth();
  const ForwardOptions plain;
  Matrix x(m, d);
  for (int i = 0; i < m; ++i) w.wte.rowsToFloat(ids[std::size_t(i)], 1, x.row(i).data());
  x += w.wpe.rowsToFloat(first, m);
  for (int l = 0; l < c.layers; ++l) {
    const Gpt2Block& b = w.blocks[std::size_t(l)];
    Matrix k, v;
    LayerRecord L;
    conv1dInThirds(layerNorm(x, b.ln1Weight, b.ln1Bias, c.layerNormEpsilon), b.attnWeight, b.attnBias, L.qkv.q, k, v);
    L.qkv.k = KvCache::joined(cache.keys, std::size_t(l), first, k);
    L.qkv.v = KvCache::joined(cache.values, std::size_t(l), first, v);
    L.attention = layerAttentionOptions(c, l, plain);
    runAttention(L, l, dh, plain);
    x += conv1d(L.z, b.attnProjWeight, b.attnProjBias);
    Matrix mlp = conv1d(layerNorm(x, b.ln2Weight, b.ln2Bias, c.layerNormEpsilon), b.fcWeight, b.fcBias);
    activate(mlp, c.activation);
    x += conv1d(mlp, b.mlpProjWeight, b.mlpProjBias);
    if (append) cache.put(std::size_t(l), k, v);
  }
  if (append) cache.commit(m);
  Matrix logits = readout(c, w, Matrix(x.bottomRows(1)));
  if (!allFinite(logits)) checkFiniteWeights(w.named());
  return logits;
}

}  // namespace attnviz::model
