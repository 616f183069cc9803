// The Llama family's step for generation: the new tokens' rows through every block, rotated at
// their own positions (the cache's length on), their attention reading the cached keys (already
// rotated) and values of the K/V heads, expanded to the query heads as forward() expands them
// (llama.cpp). The same blocks and attention engine; the engine's causal mask is bottom-right
// aligned, so new row i sees every cached key and the new keys up to its own; a sliding window
// shorter than the text becomes the same custom mask as in forward(), cut to the new rows.
#include <algorithm>

#include "blocks.hpp"
#include "checkpoint.hpp"
#include "llama.hpp"

namespace attnviz::model {

Matrix forwardCached(const LlamaConfig& c, const LlamaWeights& w, const std::vector<int>& ids, KvCache& cache,
                     bool append) {
  checkCachedInput(ids, cache, c.vocabSize, c.positions, "max_position_embeddings");
  const int m = int(ids.size()), first = cache.length, total = first + m, d = c.dModel, dh = c.headDim,
            group = c.queryHeadsPerKvHead();
  const ForwardOptions plain;
  const RopeTable rope(m, ropeInverseFrequencies(c), first);
  Matrix x(m, d);
  for (int i = 0; i < m; ++i) w.embedTokens.rowsToFloat(ids[std::size_t(i)], 1, x.row(i).data());
  for (int l = 0; l < c.layers; ++l) {
    const LlamaBlock& b = w.blocks[std::size_t(l)];
    const Matrix h = rmsNorm(x, b.inputLayernorm, c.rmsNormEpsilon);
    const Matrix k = rotate(linear(h, b.kProj, b.kBias), c.kvHeads, rope), v = linear(h, b.vProj, b.vBias);
    LayerRecord L;
    L.qkv.q = rotate(linear(h, b.qProj, b.qBias), c.heads, rope);
    L.qkv.k = expandKvHeads(KvCache::joined(cache.keys, std::size_t(l), first, k), c.kvHeads, group, dh);
    L.qkv.v = expandKvHeads(KvCache::joined(cache.values, std::size_t(l), first, v), c.kvHeads, group, dh);
    L.attention = layerAttentionOptions(c, l, 0, plain);  // causal, bottom-right aligned
    if (const std::optional<int> window = c.layerWindow(l); window && *window < total) {
      // forward()'s sliding window: key j is seen by the query at position p when p − w < j ≤ p.
      L.attention.mask = MaskKind::Custom;
      L.attention.customMask = MaskMatrix::Zero(m, total);
      for (int i = 0; i < m; ++i) {
        const int p = first + i;
        for (int j = std::max(0, p - *window + 1); j <= p; ++j) L.attention.customMask(i, j) = 1;
      }
    }
    runAttention(L, l, dh, plain);
    x += linear(L.z, b.oProj, b.oBias);
    const Matrix h2 = rmsNorm(x, b.postAttentionLayernorm, c.rmsNormEpsilon);
    Matrix gate = linear(h2, b.gateProj, Vector());
    siluTimes(gate, linear(h2, b.upProj, Vector()));
    x += linear(gate, b.downProj, Vector());
    if (append) cache.put(std::size_t(l), k, v);
  }
  if (append) cache.commit(m);
  Matrix logits = readout(c, w, Matrix(x.bottomRows(1)));
  if (!allFinite(logits)) checkFiniteWeights(w.named());
  return logits;
}

}  // namespace attnviz::model
