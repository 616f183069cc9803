#pragma once
// A decoder's keys and values of the positions it has read, per layer, for generation
// (generation.hpp, Architecture::forwardCached): the next token's attention reads them instead
// of a forward pass over the whole text recomputing them, so each new token costs one new row of
// attention.
#include <algorithm>
#include <string>
#include <vector>

#include "types.hpp"

namespace attnviz::model {

struct KvCache {
  int length = 0;  // positions held: the next token is at position `length`
  // Per layer, rows [0, length) (the matrices may hold more rows, as room for the next ones):
  // K after the rotary embedding (rotary models), and K/V heads only (KV · d_head columns; with
  // grouped-query attention they are expanded to the query heads at each step, as repeat_kv).
  std::vector<Matrix> keys, values;

  // Layer l's K and V of the next rows [length, length + k.rows()), written past `length`
  // (room grows by doubling); `length` moves on only in `commit`, once every layer is written,
  // so a step that throws half-way leaves the cache as it was.
  void put(std::size_t layer, const Matrix& k, const Matrix& v) {
    if (keys.size() <= layer) {
      keys.resize(layer + 1);
      values.resize(layer + 1);
    }
    const Eigen::Index need = Eigen::Index(length) + k.rows();
    if (keys[layer].rows() < need) {
      const Eigen::Index rows = std::max<Eigen::Index>(need, 2 * keys[layer].rows());
      keys[layer].conservativeResize(rows, k.cols());
      values[layer].conservativeResize(rows, v.cols());
    }
    keys[layer].middleRows(length, k.rows()) = k;
    values[layer].middleRows(length, v.rows()) = v;
  }
  void commit(int added) { length += added; }
  // Layer l's cached K (or V) followed by `next`: what the new rows' attention reads.
  static Matrix joined(const std::vector<Matrix>& cached, std::size_t layer, int length, const Matrix& next) {
    Matrix out(Eigen::Index(length) + next.rows(), next.cols());
    if (length > 0) out.topRows(length) = cached.at(layer).topRows(length);
    out.bottomRows(next.rows()) = next;
    return out;
  }
};

// What every family's cached step checks first: some ids, each in the vocabulary, and room for
// them after the cache within the model's context (`positionsKey` names the config key).
inline void checkCachedInput(const std::vector<int>& ids, const KvCache& cache, int vocabSize, long positions,
                             const char* positionsKey) {
  if (ids.empty()) throw Error("no tokens to run the model on (the text is empty)");
  if (long(cache.length) + long(ids.size()) > positions)
    throw Error("the text would be " + std::to_string(long(cache.length) + long(ids.size())) +
                " tokens, but the model takes at most " + std::to_string(positions) + " (" + positionsKey + ")");
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocabSize)
      throw Error("token id " + std::to_string(ids[i]) + " (position " + std::to_string(cache.length + long(i)) +
                  ") is not in the vocabulary (ids 0 to " + std::to_string(vocabSize - 1) + ")");
}

}  // namespace attnviz::model
