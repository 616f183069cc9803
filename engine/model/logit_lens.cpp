#include "logit_lens.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace attnviz::model {

LogitLens logitLens(const Architecture& model, const ForwardRecord& record, int topK) {
  if (record.resid.empty() || record.ids.empty()) throw Error("the logit lens needs a text model's forward pass");
  LogitLens lens;
  lens.entries = int(record.resid.size());
  lens.positions = int(record.ids.size());
  const int n = lens.positions;
  lens.top.resize(std::size_t(lens.entries) * n);
  lens.nextTokenProbability = Matrix::Zero(lens.entries, std::max(0, n - 1));
  for (int e = 0; e < lens.entries; ++e) {
    const Matrix logits = model.readout(record.resid[std::size_t(e)]);
    const long vocab = logits.cols();
    const int k = int(std::min<long>(topK, vocab));
    std::vector<int> order(static_cast<std::size_t>(vocab));
    for (int i = 0; i < n; ++i) {
      const float* row = logits.data() + std::size_t(i) * vocab;
      double top = -INFINITY;
      for (long v = 0; v < vocab; ++v) top = std::max(top, double(row[v]));
      double sum = 0;
      for (long v = 0; v < vocab; ++v) sum += std::exp(double(row[v]) - top);
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [row](int a, int b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
      LensGuess& g = lens.top[std::size_t(e) * n + i];
      for (int t = 0; t < k; ++t) {
        g.ids.push_back(order[std::size_t(t)]);
        g.probabilities.push_back(std::exp(double(row[order[std::size_t(t)]]) - top) / sum);
      }
      if (i + 1 < n) {
        const int next = record.ids[std::size_t(i) + 1];
        lens.nextTokenProbability(e, i) = float(std::exp(double(row[next]) - top) / sum);
      }
    }
  }
  return lens;
}

}  // namespace attnviz::model
