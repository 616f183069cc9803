#include "derivation.hpp"

#include <cmath>
#include <cstdio>

#include "steps.hpp"

namespace attnviz::gui {

namespace {

constexpr int kTermsShown = 4;  // longer sums show the first three and the last term

std::string paren(float v) { return v < 0 ? "(" + formatValue(v) + ")" : formatValue(v); }

// "a₁b₁ + a₂b₂ + … + aₙbₙ" written out with the numbers, abbreviated when long.
template <typename TermFn>
std::string sumOfProducts(int count, TermFn term) {
  std::string s;
  for (int c = 0; c < count; ++c) {
    if (count > kTermsShown && c == kTermsShown - 1 && c != count - 1) {
      s += " + … (" + std::to_string(count - kTermsShown) + " more)";
      c = count - 2;
      continue;
    }
    if (!s.empty()) s += " + ";
    s += term(c);
  }
  return s;
}

}  // namespace

std::string formatValue(float v) {
  if (std::isinf(v)) return v < 0 ? "−∞" : "+∞";
  if (std::isnan(v)) return "NaN";
  char buf[32];
  const float a = std::fabs(v);
  if (a != 0 && (a >= 1e4f || a < 1e-3f))
    std::snprintf(buf, sizeof buf, "%.2e", double(v));
  else
    std::snprintf(buf, sizeof buf, "%.3f", double(v));
  std::string s = buf;
  if (s[0] == '-') s = "−" + s.substr(1);  // a real minus sign reads better in formulas
  return s;
}

std::string queryLabel(const Document& doc, int i) {
  const auto& l = doc.prepared.queryLabels;
  return i >= 0 && i < int(l.size()) ? l[std::size_t(i)] : "?";
}

std::string keyLabel(const Document& doc, int j) {
  const auto& l = doc.prepared.keyLabels;
  return j >= 0 && j < int(l.size()) ? l[std::size_t(j)] : "?";
}

std::vector<std::string> deriveCell(const Document& doc, StageId step, int head, int i, int j) {
  std::vector<std::string> out;
  const AttentionTrace& t = doc.trace();
  if (t.head.empty() || i < 0 || i >= t.n) return out;
  const int h = std::clamp(head, 0, t.heads - 1);
  const HeadTrace& ht = t.head[std::size_t(h)];
  const int dkh = t.headKeyWidth(), dvh = t.headValueWidth();
  const AttentionInputs& in = doc.front->inputs();
  // Indices from 0, like the views, `attnviz export --head`, and the .npy files.
  const std::string I = std::to_string(i), J = std::to_string(j);
  const bool keyCell = step != StageId::Output && step != StageId::Projected;
  if (keyCell && (j < 0 || j >= t.m)) return out;
  const std::string sIJ = "s_" + I + "," + J;
  const std::string scaledName = "s'_" + I + "," + J;

  switch (step) {
    case StageId::Scores: {
      auto q = in.q.row(i).segment(h * dkh, dkh);
      auto k = in.k.row(j).segment(h * dkh, dkh);
      if (t.options.score == ScoreFunction::Cosine) {
        const float dot = q.dot(k), nq = q.norm(), nk = k.norm();
        out.push_back(sIJ + " = cos(q_" + I + ", k_" + J + ") = q·k / (‖q‖ ‖k‖)");
        out.push_back("= " + formatValue(dot) + " / (" + formatValue(nq) + " · " + formatValue(nk) + ")");
      } else {
        out.push_back(sIJ + " = q_" + I + " · k_" + J + " = Σ_c q_" + I + ",c k_" + J + ",c  (c = 0…" +
                      std::to_string(dkh - 1) + ")");
        out.push_back("= " + sumOfProducts(dkh, [&](int c) { return paren(q(c)) + "·" + paren(k(c)); }));
      }
      out.push_back("= " + formatValue(ht.scores(i, j)));
      break;
    }
    case StageId::Scaled: {
      const float base = ht.scale * t.options.temperature;
      std::string scaleText = t.options.scaleOverride ? formatValue(*t.options.scaleOverride)
                              : t.options.score == ScoreFunction::Scaled ? "1/√" + std::to_string(dkh)
                                                                         : "1";
      out.push_back(scaledName + " = s · scale / T = " + sIJ + " · " + scaleText + " / " +
                    formatValue(t.options.temperature));
      out.push_back("= " + formatValue(ht.scores(i, j)) + " · " + formatValue(base) + " / " +
                    formatValue(t.options.temperature) + " = " + formatValue(ht.scaled(i, j)));
      break;
    }
    case StageId::Masked: {
      if (isAllowed(t.options, t.n, t.m, i, j)) {
        out.push_back("allowed: " + scaledName + " stays " + formatValue(ht.masked(i, j)));
      } else {
        const char* why = t.options.mask == MaskKind::Causal ? "causal: key comes after the query"
                                                             : "painted mask";
        out.push_back(std::string("masked (") + why + ") → −∞, weight 0");
      }
      break;
    }
    case StageId::MinusRowMax: {
      const float v = ht.masked(i, j), mx = ht.rowMax(i);
      if (std::isinf(v)) { out.push_back("masked: stays −∞"); break; }
      int arg = 0;
      for (int c = 0; c < t.m; ++c) if (ht.masked(i, c) == mx) { arg = c; break; }
      out.push_back(scaledName + " − max_" + I + " = " + formatValue(v) + " − " + formatValue(mx) + " = " +
                    formatValue(v - mx));
      out.push_back("row max at key " + std::to_string(arg) + " \"" + keyLabel(doc, arg) + "\"");
      break;
    }
    case StageId::Exp: {
      const float v = ht.masked(i, j), mx = ht.rowMax(i);
      if (std::isinf(v)) { out.push_back("masked: exp(−∞) = 0"); break; }
      out.push_back("e_" + I + "," + J + " = exp(" + scaledName + " − max_" + I + ") = exp(" +
                    formatValue(v - mx) + ") = " + formatValue(ht.expValues(i, j)));
      break;
    }
    case StageId::RowSum: {
      out.push_back("Z_" + I + " = Σ_j exp(s'_" + I + ",j − max_" + I + ")");
      out.push_back("= " + sumOfProducts(t.m, [&](int c) { return formatValue(ht.expValues(i, c)); }) +
                    " = " + formatValue(ht.rowSum(i)));
      out.push_back("this cell: e_" + I + "," + J + " = " + formatValue(ht.expValues(i, j)));
      break;
    }
    case StageId::Weights: {
      if (ht.stats.fullyMasked[std::size_t(i)]) { out.push_back("fully masked row: all weights 0"); break; }
      out.push_back("a_" + I + "," + J + " = exp(" + scaledName + " − max_" + I + ") / Σ_j exp(s'_" + I +
                    ",j − max_" + I + ")");
      out.push_back("= " + formatValue(ht.expValues(i, j)) + " / " + formatValue(ht.rowSum(i)) + " = " +
                    formatValue(ht.weights(i, j)));
      break;
    }
    case StageId::Output: {
      if (j < 0 || j >= dvh) return out;
      const int col = h * dvh + j;
      out.push_back("o_" + I + "," + J + " = Σ_j a_" + I + ",j v_j," + J + "  (j = 0…" + std::to_string(t.m - 1) + ")");
      out.push_back("= " + sumOfProducts(t.m, [&](int c) {
                      return formatValue(ht.weights(i, c)) + "·" + paren(in.v(c, col));
                    }));
      out.push_back("= " + formatValue(ht.output(i, j)));
      break;
    }
    case StageId::Projected: {
      const Matrix& wo = in.wO;
      if (t.projected.size() == 0 || j < 0 || j >= t.projected.cols()) return out;
      out.push_back("y_" + I + "," + J + " = Σ_c concat_" + I + ",c W_O[c," + J + "]  (c = 0…" +
                    std::to_string(t.dv - 1) + ")");
      out.push_back("= " + sumOfProducts(t.dv, [&](int c) {
                      return paren(t.concatenated(i, c)) + "·" + paren(wo(c, j));
                    }));
      out.push_back("= " + formatValue(t.projected(i, j)));
      break;
    }
  }
  return out;
}

}  // namespace attnviz::gui
