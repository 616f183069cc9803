#include "steps.hpp"

#include "figure/colormap.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace attnviz::gui {

namespace {

const std::array<StepInfo, kStepCount> kSteps{{
    {"1", "Similarity QKᵀ", "S = Q Kᵀ      s_ij = q_i · k_j = Σ_c q_ic k_jc",
     "Every query row is compared with every key row by a dot product.\n"
     "Large positive scores mean the query and key point the same way."},
    {"2", "Scale", "S' = S · scale / T      scale = 1/√d_k",
     "Dividing by √d_k keeps the scores' spread independent of the width d_k,\n"
     "so softmax does not saturate; the temperature T sharpens (T<1) or flattens (T>1)."},
    {"3", "Mask", "s'_ij = −∞  where query i may not see key j",
     "A causal or painted mask removes keys a query must not attend to.\n"
     "Masked cells become −∞ so their softmax weight is exactly zero (hatched)."},
    {"4a", "Softmax: subtract row max", "s'_ij − max_j s'_ij",
     "Subtracting each row's maximum changes nothing mathematically,\n"
     "but keeps exp() from overflowing: the largest entry of each row becomes 0."},
    {"4b", "Softmax: exp", "e_ij = exp(s'_ij − max_i)",
     "Exponentiation makes every allowed score positive and stretches differences:\n"
     "a gap of 1 in score becomes a factor of e ≈ 2.72 in weight."},
    {"4c", "Softmax: row sum", "Z_i = Σ_j e_ij",
     "Each row's exponentials are summed (shown right of the matrix);\n"
     "this sum is the normaliser of the row."},
    {"4d", "Softmax: normalise", "a_ij = e_ij / Z_i      Σ_j a_ij = 1",
     "Dividing by the row sum turns each row into a probability distribution:\n"
     "how much query i attends to each key."},
    {"5", "Weighted sum AV", "O = A V      o_i = Σ_j a_ij v_j",
     "Each output row is the attention-weighted average of the value rows,\n"
     "so a query takes its information mostly from the keys it attends to."},
    {"6", "Concatenate heads · W_O", "Y = [O_1 … O_H] W_O",
     "The heads' outputs are placed side by side and mixed by the output projection W_O,\n"
     "giving one d_model-wide vector per token."},
}};

}  // namespace

const StepInfo& stepInfo(StepId id) { return kSteps[std::size_t(id)]; }
StepId stepAt(int index) { return StepId(std::clamp(index, 0, kStepCount - 1)); }

int stepCount(const Document& doc) {
  return doc.session.mode == InputMode::Tokens ? kStepCount : kStepCount - 1;
}

const Matrix& stepMatrix(const Document& doc, StepId step, int head, Matrix& scratch) {
  return stepMatrix(doc.trace(), doc.projected, step, head, scratch);
}

const Matrix& stepMatrix(const AttentionTrace& t, const Matrix& projected, StepId step, int head,
                         Matrix& scratch) {
  if (step == StepId::Projection) return projected;
  const HeadTrace& h = t.head[std::size_t(std::clamp(head, 0, t.heads - 1))];
  switch (step) {
    case StepId::Scores: return h.scores;
    case StepId::Scale: return h.scaled;
    case StepId::Mask: return h.masked;
    case StepId::SubtractMax: {
      scratch.resize(h.masked.rows(), h.masked.cols());
      const float ninf = -std::numeric_limits<float>::infinity();
      for (Eigen::Index i = 0; i < h.masked.rows(); ++i) {
        const float mx = h.rowMax(i);
        for (Eigen::Index j = 0; j < h.masked.cols(); ++j) {
          const float v = h.masked(i, j);
          // A fully masked row has max −∞ and −∞ − (−∞) would be NaN: keep it masked.
          scratch(i, j) = std::isinf(v) && v < 0 ? ninf : v - mx;
        }
      }
      return scratch;
    }
    case StepId::Exp:
    case StepId::RowSum:
    case StepId::Normalise: {
      const Matrix& src = step == StepId::Normalise ? h.weights : h.expValues;
      if (t.options.mask == MaskKind::None) return src;
      // Masked cells stay visibly masked (−∞, hatched) instead of looking like a weight of 0.
      scratch = src;
      for (Eigen::Index i = 0; i < src.size(); ++i)
        if (std::isinf(h.masked.data()[i])) scratch.data()[i] = -std::numeric_limits<float>::infinity();
      return scratch;
    }
    case StepId::Output: return h.output;
    case StepId::Projection: break;
  }
  return h.weights;
}

std::vector<std::string> columnLabels(const Document& doc, StepId step) {
  if (step != StepId::Output && step != StepId::Projection) return doc.prepared.keyLabels;
  const Eigen::Index cols = step == StepId::Projection ? doc.projected.cols()
                                                       : doc.trace().headValueWidth();
  std::vector<std::string> labels;
  for (Eigen::Index c = 0; c < cols; ++c) labels.push_back("d" + std::to_string(c));  // from 0, like every index in the app
  return labels;
}

StepRange stepRange(const Matrix& values, StepId step, const ViewSettings& view) {
  StepRange r;
  if (step == StepId::Exp || step == StepId::RowSum || step == StepId::Normalise) {
    // Probabilities and exp(s − max) lie in [0, 1]; by default the top of the scale is the
    // largest value so that rows of small weights are still told apart.
    r.colormap = view.sequential;
    if (!view.probabilitiesZeroToOne) {
      float hi = 0;
      for (Eigen::Index i = 0; i < values.size(); ++i)
        if (std::isfinite(values.data()[i])) hi = std::max(hi, values.data()[i]);
      r.vmax = hi > 0 ? hi : 1;
    }
    return r;
  }
  // The exporters' automatic range, so a figure exported from this view has the same colours.
  const bool diverging = view.divergingForSigned;
  const ValueRange a = autoRange(values.data(), std::size_t(values.size()), diverging);
  r.vmin = a.lo;
  r.vmax = a.hi;
  r.signedValues = true;
  r.colormap = diverging ? ColormapId::RdBu : view.sequential;
  return r;
}

std::uint64_t stepRevision(const Document& doc, StepId step) {
  switch (step) {
    case StepId::Scores: return doc.scoresRev;
    case StepId::Output:
    case StepId::Projection: return doc.outputRev;
    default: return doc.scaleRev;
  }
}

}  // namespace attnviz::gui

#include <map>

namespace attnviz::gui {

namespace {
struct CachedStep {
  std::uint64_t revision = ~0ull;
  int settings = -1;
  const void* pipeline = nullptr;
  Matrix scratch;
  StepView view;
};
}  // namespace

StepView stepView(const Document& doc, const ViewSettings& view, StepId step, int head) {
  static std::map<std::pair<int, int>, CachedStep> cache;
  const int h = step == StepId::Projection ? 0 : std::clamp(head, 0, std::max(0, doc.trace().heads - 1));
  CachedStep& c = cache[{int(step), h}];
  const std::uint64_t rev = stepRevision(doc, step);
  const int settings = int(view.sequential) * 4 + int(view.divergingForSigned) * 2 + int(view.probabilitiesZeroToOne);
  if (c.revision == rev && c.settings == settings && c.pipeline == doc.front.get()) return c.view;
  c.revision = rev;
  c.settings = settings;
  c.pipeline = doc.front.get();
  const Matrix& m = stepMatrix(doc, step, h, c.scratch);
  c.view.values = &m;
  c.view.range = stepRange(m, step, view);
  c.view.anyMasked = false;
  for (Eigen::Index i = 0; i < m.size() && !c.view.anyMasked; ++i) c.view.anyMasked = std::isinf(m.data()[i]);
  c.view.key = "step" + std::to_string(int(step)) + ":" + std::to_string(h);
  c.view.revision = rev;
  return c.view;
}

}  // namespace attnviz::gui
