#include "derivation.hpp"
#include "record.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cell_text.hpp"
#include "model_block.hpp"
#include "steps.hpp"

namespace attnviz::gui {

namespace {

constexpr int kTermsShown = 4;  // longer sums show the first three and the last term
// Set by deriveCell for the sums it writes: every term instead of "(N more)".
thread_local bool gAllTerms = false;

std::string paren(float v) { return v < 0 ? "(" + formatValue(v) + ")" : formatValue(v); }

// "a₁b₁ + a₂b₂ + … + aₙbₙ" written out with the numbers, abbreviated when long.
template <typename TermFn>
std::string sumOfProducts(int count, TermFn term) {
  std::string s;
  for (int c = 0; c < count; ++c) {
    if (!gAllTerms && count > kTermsShown && c == kTermsShown - 1 && c != count - 1) {
      s += " + … (" + std::to_string(count - kTermsShown) + " more; every term: T or Options ▸ every term)";
      c = count - 2;
      continue;
    }
    if (!s.empty()) s += " + ";
    s += term(c);
  }
  return s;
}

constexpr int kLargestTermsShown = 5;

// q_ic = Σ_t h_it W[t, col] + b[col]: the largest products by magnitude, the rest as one sum,
// the bias, and the total, so the lines add up to the cell.
std::vector<std::string> formatAddingUp(const std::vector<double>& terms, double result);

// Sorts `terms` (value, index) by magnitude, largest first, and returns the summands a derivation
// prints: the first `shown` terms, then the sum of the rest when there is a rest.
std::vector<double> largestTermsAndRest(std::vector<std::pair<double, int>>& terms, int shown) {
  std::sort(terms.begin(), terms.end(), [](auto a, auto b) { return std::fabs(a.first) > std::fabs(b.first); });
  std::vector<double> summands;
  double rest = 0;
  for (std::size_t k = 0; k < terms.size(); ++k) {
    if (int(k) < shown) summands.push_back(terms[k].first);
    else rest += terms[k].first;
  }
  if (int(terms.size()) > shown) summands.push_back(rest);
  return summands;
}

void deriveProjection(std::vector<std::string>& out, const std::string& name, const char* weight,
                      const Matrix& x, const Matrix& w, const Vector& bias, int i, int col, float shown) {
  const int d = int(x.cols());
  std::vector<std::pair<double, int>> terms;
  for (int t = 0; t < d; ++t) terms.push_back({x(i, t) * w(t, col), t});  // float products, as before
  const int shownTerms = gAllTerms ? d : std::min(d, kLargestTermsShown);
  std::vector<double> summands = largestTermsAndRest(terms, shownTerms);
  out.push_back(name + " = Σ_t h_" + std::to_string(i) + ",t " + weight + "[t," + std::to_string(col) +
                "] + b[" + std::to_string(col) + "]  (t = 0…" + std::to_string(d - 1) + "), " +
                (gAllTerms ? "every term:" : "largest terms:"));
  // The printed products, the rest and the bias add up to the printed result (formatAddingUp).
  const float b = bias.size() > col ? bias(col) : 0.0f;
  summands.push_back(b);
  const std::vector<std::string> f = formatAddingUp(summands, shown);
  for (int k = 0; k < shownTerms; ++k) {
    const int t = terms[std::size_t(k)].second;
    out.push_back("  t=" + std::to_string(t) + ": " + paren(x(i, t)) + "·" + paren(w(t, col)) + " = " + f[std::size_t(k)]);
  }
  if (d > shownTerms)
    out.push_back("  the other " + std::to_string(d - shownTerms) + " terms: " + f[std::size_t(shownTerms)] +
                  "  (every term: T or Options ▸ every term)");
  out.push_back("  bias: " + f[f.size() - 2]);
  out.push_back("= " + f.back());
}

// "a + b + … = r" with the decimals at which the printed terms add up to the printed result
// (decimalsThatAddUp); values beyond the fixed-point range keep formatValue's form.
std::vector<std::string> formatAddingUp(const std::vector<double>& terms, double result) {
  bool fixedRange = std::fabs(result) < 1e4;
  for (double t : terms) fixedRange = fixedRange && std::isfinite(t) && std::fabs(t) < 1e4;
  std::vector<std::string> out;
  const int d = fixedRange && std::isfinite(result) ? decimalsThatAddUp(terms, result) : -1;
  for (double t : terms) out.push_back(d < 0 ? formatValue(float(t)) : formatFixed(t, d));
  out.push_back(d < 0 ? formatValue(float(result)) : formatFixed(result, d));
  return out;
}

std::string parenText(const std::string& t) { return t.rfind("\u2212", 0) == 0 ? "(" + t + ")" : t; }

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
  if (s == "-0.000") return "0.000";  // a value that rounds to zero has no sign
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

std::optional<RopePair> ropePair(const Document& doc, int head, int i, int j) {
  const PreparedSession& p = doc.prepared;
  if (!p.block || !p.block->rotary()) return std::nullopt;
  const ModelBlock& b = *p.block;
  const int n = int(b.qRotated.rows()), dh = b.headDim, half = dh / 2;
  if (i < 0 || i >= n || j < 0 || j >= dh || half == 0 || int(b.positions.size()) != n) return std::nullopt;
  const RopeShown shown = doc.session.view.rope;
  RopePair r;
  r.head = std::clamp(head, 0, std::max(0, b.heads - 1));
  r.kvHead = b.kvHeadOf(r.head);
  r.key = shown == RopeShown::KeyRotated || shown == RopeShown::KeyUnrotated;
  r.rotatedShown = shown == RopeShown::QueryRotated || shown == RopeShown::KeyRotated;
  r.position = b.positions[std::size_t(i)];
  r.column = j;
  r.pair = j % half;
  r.partner = r.pair + half;
  r.headDim = dh;
  r.invFreq = double(b.ropeInverseFrequencies(r.pair));
  r.theta = double(r.position) * r.invFreq;
  r.cosTheta = float(std::cos(r.theta));
  r.sinTheta = float(std::sin(r.theta));
  const Matrix& before = r.key ? b.kUnrotated : b.qUnrotated;
  const Matrix& after = r.key ? b.kRotated : b.qRotated;
  const int base = r.head * dh;
  r.before[0] = before(i, base + r.pair);
  r.before[1] = before(i, base + r.partner);
  // In float, as the forward pass turns them (model/llama.cpp: rotate).
  r.after[0] = r.before[0] * r.cosTheta - r.before[1] * r.sinTheta;
  r.after[1] = r.before[1] * r.cosTheta + r.before[0] * r.sinTheta;
  r.shown = (r.rotatedShown ? after : before)(i, base + j);
  return r;
}

namespace {

std::string degrees(double radians) {
  char buf[96];
  const double deg = radians * 180.0 / M_PI;
  if (deg < 360) std::snprintf(buf, sizeof buf, "%.3f rad = %.1f°", radians, deg);
  else std::snprintf(buf, sizeof buf, "%.3f rad = %.1f° ≡ %.1f° (mod 360°)", radians, deg, std::fmod(deg, 360.0));
  return buf;
}

// The RoPE step's cell: its pair, θ, and the 2×2 rotation applied to the unrotated pair.
void deriveRope(std::vector<std::string>& out, const Document& doc, int head, int i, int j) {
  const auto r = ropePair(doc, head, i, j);
  if (!r) return;
  const std::string x = r->key ? "k" : "q", I = std::to_string(i);
  const std::string c = std::to_string(r->pair), c2 = std::to_string(r->partner);
  out.push_back(std::string(r->key ? "K of K/V head " + std::to_string(r->kvHead) + ", read by query head " +
                                         std::to_string(r->head)
                                   : "Q of query head " + std::to_string(r->head) + " (reads K/V head " +
                                         std::to_string(r->kvHead) + ")") +
                ": position " + std::to_string(r->position) + ", dimension " + std::to_string(j) + " is in pair (" + c +
                ", " + c2 + ")");
  out.push_back("θ = i · ω_" + c + " = " + std::to_string(r->position) + " · " + formatValue(float(r->invFreq)) + " = " +
                degrees(r->theta));
  out.push_back("cos θ = " + formatValue(r->cosTheta) + ", sin θ = " + formatValue(r->sinTheta));
  const std::string a = paren(r->before[0]), b = paren(r->before[1]);
  out.push_back("rot " + x + "_" + I + "," + c + " = " + x + "_" + I + "," + c + "·cos θ − " + x + "_" + I + "," + c2 +
                "·sin θ = " + a + "·" + paren(r->cosTheta) + " − " + b + "·" + paren(r->sinTheta) + " = " +
                formatValue(r->after[0]));
  out.push_back("rot " + x + "_" + I + "," + c2 + " = " + x + "_" + I + "," + c2 + "·cos θ + " + x + "_" + I + "," + c +
                "·sin θ = " + b + "·" + paren(r->cosTheta) + " + " + a + "·" + paren(r->sinTheta) + " = " +
                formatValue(r->after[1]));
  if (r->rotatedShown)
    out.push_back("= " + formatValue(r->shown) + "  (this cell: rot " + x + "_" + I + "," + std::to_string(j) + ", after the rotation)");
  else
    out.push_back("this cell: " + x + "_" + I + "," + std::to_string(j) + " = " + formatValue(r->shown) +
                  " before the rotation (the projection's output); RoPE turns it to " +
                  formatValue(r->column == r->pair ? r->after[0] : r->after[1]));
}

// A patch's embedding x_ij = Σ_k W_patch[j, k]·pixel_k + b_patch[j] + W_P[i, j]: the largest
// products with their pixel (channel, y, x), the rest as one sum, the bias and the position
// embedding, adding up to the cell. False when the block does not keep the patch embedding.
bool derivePatchEmbedding(std::vector<std::string>& out, const ModelBlock& b, const model::PatchGrid& grid,
                          int patchIndex, int i, int j) {
  const int inputs = int(b.patchPixels.cols());
  if (b.patchChannels <= 0 || patchIndex >= b.patchPixels.rows() || j >= b.patchWeight.rows() ||
      b.patchWeight.cols() != inputs || inputs != b.patchChannels * grid.patch * grid.patch)
    return false;
  const int P = grid.patch, r = patchIndex / grid.cols, c = patchIndex % grid.cols;
  std::vector<std::pair<double, int>> terms;
  for (int k = 0; k < inputs; ++k) terms.push_back({double(b.patchWeight(j, k)) * b.patchPixels(patchIndex, k), k});
  const int shown = gAllTerms ? inputs : std::min(inputs, kLargestTermsShown);
  std::vector<double> summands = largestTermsAndRest(terms, shown);
  summands.push_back(b.patchBias.size() > j ? double(b.patchBias(j)) : 0.0);
  summands.push_back(double(b.positionEmbedding(i, j)));
  const std::vector<std::string> f = formatAddingUp(summands, double(b.residPre(i, j)));
  out.push_back("the patch: input pixels y " + std::to_string(r * P) + "–" + std::to_string(r * P + P - 1) + ", x " +
                std::to_string(c * P) + "–" + std::to_string(c * P + P - 1) + ", " + std::to_string(b.patchChannels) +
                "×" + std::to_string(P) + "×" + std::to_string(P) + " = " + std::to_string(inputs) +
                " values after the processor's rescale and normalisation");
  out.push_back(std::string(gAllTerms ? "every term" : "largest terms") + " W_patch[" + std::to_string(j) +
                ", (ch, y, x)]·pixel:");
  static const char* kChannel[] = {"R", "G", "B"};
  for (int k = 0; k < shown; ++k) {
    const int at = terms[std::size_t(k)].second, ch = at / (P * P), y = at / P % P, x = at % P;
    const std::string channel = b.patchChannels == 3 ? kChannel[ch] : std::to_string(ch);
    out.push_back("  (" + channel + ", " + std::to_string(r * P + y) + ", " + std::to_string(c * P + x) + "): " +
                  paren(b.patchWeight(j, at)) + "·" + paren(b.patchPixels(patchIndex, at)) + " = " + f[std::size_t(k)]);
  }
  if (inputs > shown)
    out.push_back("  the other " + std::to_string(inputs - shown) + " terms: " + f[std::size_t(shown)] +
                  "  (every term: T or Options ▸ every term)");
  out.push_back("  b_patch[" + std::to_string(j) + "]: " + f[f.size() - 3]);
  out.push_back("  W_P[" + std::to_string(i) + ", " + std::to_string(j) + "] (position embedding): " + f[f.size() - 2]);
  out.push_back("= " + f.back());
  out.push_back("W_patch[" + std::to_string(j) + ", ·]: filter " + std::to_string(j) +
                " of patch_embeddings.projection, a convolution with stride " + std::to_string(P));
  return true;
}

}  // namespace

std::vector<std::string> deriveModelCell(const Document& doc, StageId step, int head, int i, int j) {
  std::vector<std::string> out;
  const PreparedSession& p = doc.prepared;
  if (!p.block || !p.model || i < 0 || j < 0) return out;
  const ModelBlock& b = *p.block;
  const int n = int(b.residPre.rows()), d = int(b.residPre.cols());
  if (i >= n) return out;
  const std::string I = std::to_string(i), J = std::to_string(j), cell = "_" + I + "," + J;
  const int heads = std::max(1, p.modelHeads), width = b.headDim > 0 ? b.headDim : d / heads, h = std::clamp(head, 0, heads - 1);
  switch (step) {
    case StageId::Embedding: {
      if (j >= d) return out;
      if (i >= int(b.tokenIds.size())) {  // a vision model: a patch (or [CLS], [DIST], a register), no token id
        if (b.tokenEmbedding.rows() <= i || b.positionEmbedding.rows() <= i) return out;
        const auto& grid = p.forward ? p.forward->grid : std::nullopt;
        const int prefix = grid ? int(grid->prefix.size()) : 0;
        const std::string name = queryLabel(doc, i);
        if (grid && i >= prefix) {
          const int r = (i - prefix) / grid->cols, c = (i - prefix) % grid->cols;
          out.push_back("x" + cell + " = (W_patch · pixels of patch (" + std::to_string(r) + ", " + std::to_string(c) +
                        "))[" + J + "] + b_patch[" + J + "] + W_P[" + I + ", " + J + "]   (\"" + name + "\")");
          if (derivePatchEmbedding(out, b, *grid, i - prefix, i, j)) break;
        } else {
          out.push_back("x" + cell + " = " + name + "[" + J + "] + W_P[" + I + ", " + J + "]   (a learned token)");
        }
        const auto f = formatAddingUp({b.tokenEmbedding(i, j), b.positionEmbedding(i, j)}, b.residPre(i, j));
        out.push_back("= " + f[0] + " + " + parenText(f[1]) + " = " + f[2]);
        if (grid && i >= prefix)
          out.push_back("W_patch: the " + std::to_string(grid->patch) + "×" + std::to_string(grid->patch) +
                        "×3 filter j of patch_embeddings.projection, a convolution with stride " +
                        std::to_string(grid->patch));
        break;
      }
      const int id = b.tokenIds[std::size_t(i)];
      const std::string token = "(token id " + std::to_string(id) + " \"" + queryLabel(doc, i) + "\", position " + I + ")";
      if (b.positionEmbedding.size() == 0) {  // Llama family: the position enters through RoPE later
        out.push_back("x" + cell + " = W_E[" + std::to_string(id) + ", " + J + "] = " + formatValue(b.residPre(i, j)) +
                      "   " + token);
        out.push_back("no position embedding: the rotation of q and k carries the position");
        break;
      }
      const Matrix& sum = b.embeddingSum.size() ? b.embeddingSum : b.residPre;
      const std::string position = "W_P[" + std::to_string(i + b.positionOffset) + ", " + J + "]";
      if (b.typeEmbedding.size()) {
        const int type = b.typeEmbedding.rows() > i && doc.prepared.forward && i < int(doc.prepared.forward->typeIds.size())
                             ? doc.prepared.forward->typeIds[std::size_t(i)] : 0;
        out.push_back("x" + cell + " = W_E[" + std::to_string(id) + ", " + J + "] + " + position + " + W_T[" +
                      std::to_string(type) + ", " + J + "]   " + token + ", type " + std::to_string(type));
        const auto f = formatAddingUp({b.tokenEmbedding(i, j), b.positionEmbedding(i, j), b.typeEmbedding(i, j)}, sum(i, j));
        out.push_back("= " + f[0] + " + " + parenText(f[1]) + " + " + parenText(f[2]) + " = " + f[3]);
      } else {
        out.push_back("x" + cell + " = W_E[" + std::to_string(id) + ", " + J + "] + " + position + "   " + token);
        const auto f = formatAddingUp({b.tokenEmbedding(i, j), b.positionEmbedding(i, j)}, sum(i, j));
        out.push_back("= " + f[0] + " + " + parenText(f[1]) + " = " + f[2]);
      }
      if (b.embeddingSum.size()) out.push_back("the LayerNorm step (embeddings.LayerNorm) normalises these rows next");
      break;
    }
    case StageId::ResidPre: {
      if (j >= d) return out;
      if (b.postNorm) {  // the previous block's MLP add and its LayerNorm are not kept, only its output
        out.push_back("x" + cell + " = LayerNorm(h' + MLP(h')) of layer " + std::to_string(b.layer - 1) +
                      ": that block's output (h' its post_ln rows)");
        out.push_back("= " + formatValue(b.residPre(i, j)));
        break;
      }
      out.push_back("x" + cell + " = resid_mid + mlp_out of layer " + std::to_string(b.layer - 1));
      const auto f = formatAddingUp({b.previousResidMid(i, j), b.previousMlpOut(i, j)}, b.residPre(i, j));
      out.push_back("= " + f[0] + " + " + parenText(f[1]) + " = " + f[2]);
      break;
    }
    case StageId::LayerNorm: {
      if (j >= d) return out;
      const float x = b.embeddingSum.size() ? b.embeddingSum(i, j) : b.residPre(i, j), g = b.gamma(j);
      if (b.embeddingSum.size()) out.push_back("the embeddings' LayerNorm (embeddings.LayerNorm); x is the embedding step's sum");
      const float beta = b.beta.size() > j ? b.beta(j) : 0.0f;
      if (b.norm == ModelBlock::Norm::LayerNorm) {
        out.push_back("h" + cell + " = (x" + cell + " − μ_" + I + ") · s_" + I + " · γ_" + J + " + β_" + J +
                      "   s = 1/√(σ² + ε)");
        const double sd = 1.0 / double(b.rowScale(i));
        out.push_back("row " + I + ": μ = " + formatValue(b.rowMean(i)) + ", σ = " +
                      formatValue(float(std::sqrt(std::max(0.0, sd * sd - b.epsilon)))) + ", s = " +
                      formatValue(b.rowScale(i)));
        out.push_back("= (" + formatValue(x) + " − " + paren(b.rowMean(i)) + ") · " + formatValue(b.rowScale(i)) +
                      " · " + paren(g) + " + " + paren(beta) + " = " + formatValue(p.model->xQuery(i, j)));
      } else {
        out.push_back("h" + cell + " = x" + cell + " · s_" + I + " · γ_" + J + "   s = 1/√(mean(x²) + ε)");
        out.push_back("= " + formatValue(x) + " · " + formatValue(b.rowScale(i)) + " · " + paren(g) + " = " +
                      formatValue(p.model->xQuery(i, j)));
      }
      break;
    }
    case StageId::Query:
    case StageId::Key:
    case StageId::Value: {
      if (j >= width) return out;
      const int col = h * width + j;
      const bool q = step == StageId::Query, k = step == StageId::Key;
      const Matrix& w = q ? p.model->wQ : k ? p.model->wK : p.model->wV;
      const Vector& bias = q ? b.biasQ : k ? b.biasK : b.biasV;
      // A rotary model's projections give Q and K before the rotation (the RoPE step turns them).
      const Matrix& full = q ? (b.rotary() ? b.qUnrotated : p.inputs.q) : k ? (b.rotary() ? b.kUnrotated : p.inputs.k) : p.inputs.v;
      out.push_back(std::string(q ? "q" : k ? "k" : "v") + cell + " is column " + std::to_string(col) +
                    " of the layer's " + (q ? "Q" : k ? "K" : "V") + " (head " + std::to_string(h) + ")");
      deriveProjection(out, q ? "q" + cell : k ? "k" + cell : "v" + cell, q ? "W_Q" : k ? "W_K" : "W_V",
                       p.model->xQuery, w, bias, i, col, full(i, col));
      break;
    }
    case StageId::Rope: deriveRope(out, doc, head, i, j); break;
    case StageId::ResidMid: {
      const AttentionTrace& t = doc.trace();
      if (j >= d || t.projected.rows() <= i || t.projected.cols() <= j) return out;
      out.push_back("x'" + cell + " = x" + cell + " + Y" + cell + " + b_O[" + J + "]   (Y = heads · W_O, step 6)");
      const auto f = formatAddingUp({b.residPre(i, j), t.projected(i, j), b.biasO(j)}, b.residMid(i, j));
      out.push_back("= " + f[0] + " + " + parenText(f[1]) + " + " + parenText(f[2]) + " = " + f[3]);
      if (b.postNorm) out.push_back("post-norm: the LayerNorm step after this one normalises these rows");
      break;
    }
    case StageId::PostNorm: {
      if (j >= d || !b.postNorm) return out;
      out.push_back("h'" + cell + " = (x'" + cell + " − μ_" + I + ") · s_" + I + " · γ_" + J + " + β_" + J +
                    "   s = 1/√(σ² + ε), ε = " + formatValue(float(b.epsilon)));
      const double sd = 1.0 / double(b.postNormScale(i));
      out.push_back("row " + I + ": μ = " + formatValue(b.postNormMean(i)) + ", σ = " +
                    formatValue(float(std::sqrt(std::max(0.0, sd * sd - b.epsilon)))) + ", s = " +
                    formatValue(b.postNormScale(i)));
      out.push_back("= (" + formatValue(b.residMid(i, j)) + " − " + paren(b.postNormMean(i)) + ") · " +
                    formatValue(b.postNormScale(i)) + " · " + paren(b.postNormGamma(j)) + " + " + paren(b.postNormBeta(j)) +
                    " = " + formatValue(b.postNormed(i, j)));
      break;
    }
    default: break;
  }
  return out;
}

std::vector<std::string> deriveCell(const Document& doc, StageId step, int head, int i, int j, bool allTerms) {
  gAllTerms = allTerms;
  if (stageInfo(step).needsModel) return deriveModelCell(doc, step, head, i, j);
  std::vector<std::string> out;
  const AttentionTrace& t = doc.trace();
  if (t.head.empty() || i < 0 || i >= t.n) return out;
  const int h = std::clamp(head, 0, t.heads - 1);
  const HeadTrace& ht = t.head[std::size_t(h)];
  const int dkh = t.headKeyWidth(), dvh = t.headValueWidth();
  // A bundle of weights alone computed nothing: its V (when given) is in the prepared inputs.
  const AttentionInputs& in = doc.givenTrace ? doc.prepared.inputs : doc.front->inputs();
  // Indices from 0, like the views, `attnviz export --head`, and the .npy files.
  const std::string I = std::to_string(i), J = std::to_string(j);
  const bool keyCell = stageColumnsAreKeys(step);
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
      const float base = baseScale(t.options, dkh);
      std::string scaleText = t.options.scaleOverride ? formatValue(*t.options.scaleOverride)
                              : t.options.score == ScoreFunction::Scaled ? "1/√" + std::to_string(dkh)
                                                                         : "1";
      out.push_back(scaledName + " = s · scale / T = " + sIJ + " · " + scaleText + " / " +
                    formatValue(t.options.temperature));
      out.push_back("= " + formatValue(ht.scores(i, j)) + " · " + formatValue(base) + " / " +
                    formatValue(t.options.temperature) + " = " + formatValue(ht.scaled(i, j)));
      if (std::isinf(ht.scaled(i, j)))  // extreme scale, temperature or inputs (engine: softmaxNeedsDouble)
        out.push_back("beyond float32's ±3.4e38, so shown as ±∞; the softmax subtracts the row's top score "
                      "before scaling, so the weights stay exact");
      break;
    }
    case StageId::Masked: {
      // A model layer's sliding window, when it is the mask in use (engine: modelLayerOptions).
      const auto& blk = doc.prepared.block;
      const std::optional<int> window = blk && blk->slidingWindow && t.options.mask == MaskKind::Custom &&
                                                doc.session.options.mask == MaskKind::Causal
                                            ? blk->slidingWindow
                                            : std::nullopt;
      if (isAllowed(t.options, t.n, t.m, i, j)) {
        out.push_back("allowed: " + scaledName + " stays " + formatValue(ht.masked(i, j)));
      } else {
        std::string why = t.options.mask == MaskKind::Custom ? "painted mask" : "causal: key comes after the query";
        if (window && j > i) why = "causal: key comes after the query";
        else if (window)
          why = "outside the sliding window of " + std::to_string(*window) + " tokens: key " + J + " is " +
                std::to_string(i - j) + " positions back";
        out.push_back("masked (" + why + ") → −∞, weight 0");
      }
      if (window && isAllowed(t.options, t.n, t.m, i, j))
        out.push_back("within the sliding window of " + std::to_string(*window) + " tokens (keys " +
                      std::to_string(std::max(0, i - *window + 1)) + "…" + I + ")");
      break;
    }
    case StageId::MinusRowMax: {
      const float v = ht.masked(i, j), mx = ht.rowMax(i);
      if (!isAllowed(t.options, t.n, t.m, i, j) || ht.stats.fullyMasked[std::size_t(i)]) { out.push_back("masked: stays −∞"); break; }
      const int arg = std::max(0, ht.stats.argmax(i));
      // Rows in double (extreme values) hold the shifted score itself: scale·(s − s_max).
      const double shifted = shiftedScore(ht, t.options, i, j);
      if (std::isfinite(v) && std::isfinite(mx)) {
        // Printed so that the two numbers shown give the result shown (−0.712 − 0.617 = −1.329).
        const auto f = formatAddingUp({double(v), -double(mx)}, shifted);
        const std::string minus = f[1].rfind("\u2212", 0) == 0 ? " − " + f[1].substr(3) : " + " + f[1];
        out.push_back(scaledName + " − max_" + I + " = " + f[0] + minus + " = " + f[2]);
      } else {
        out.push_back(scaledName + " − max_" + I + " = " + formatValue(v) + " − " + formatValue(mx) + " = " +
                      formatValue(float(shifted)));
      }
      out.push_back("row max at key " + std::to_string(arg) + " \"" + keyLabel(doc, arg) + "\"");
      break;
    }
    case StageId::Exp: {
      if (!isAllowed(t.options, t.n, t.m, i, j) || ht.stats.fullyMasked[std::size_t(i)]) { out.push_back("masked: exp(−∞) = 0"); break; }
      out.push_back("e_" + I + "," + J + " = exp(" + scaledName + " − max_" + I + ") = exp(" +
                    formatValue(shiftedScore(ht, t.options, i, j)) + ") = " + formatValue(ht.expValues(i, j)));
      break;
    }
    case StageId::RowSum: {
      out.push_back("Z_" + I + " = Σ_j exp(s'_" + I + ",j − max_" + I + ")");
      std::vector<double> terms;
      for (int c = 0; c < t.m; ++c) terms.push_back(isAllowed(t.options, t.n, t.m, i, c) ? ht.expValues(i, c) : 0.0);
      const auto f = formatAddingUp(terms, ht.rowSum(i));
      out.push_back("= " + sumOfProducts(t.m, [&](int c) { return f[std::size_t(c)]; }) + " = " + f.back());
      out.push_back("this cell: e_" + I + "," + J + " = " + formatValue(ht.expValues(i, j)));
      break;
    }
    case StageId::Weights: {
      if (ht.stats.fullyMasked[std::size_t(i)]) { out.push_back("fully masked row: all weights 0"); break; }
      if (doc.givenTrace) {  // given by the bundle: no scores to derive them from
        out.push_back("a_" + I + "," + J + " = " + formatValue(ht.weights(i, j)) + "  (given by the bundle; row " + I +
                      " sums to " + formatValue(ht.rowSum(i)) + ")");
        break;
      }
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
    default: break;
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
