#include "attention.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

namespace attnviz {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::string shortestText(float f) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, f);
  return std::string(buf, r.ptr);
}

void checkFinite(const Matrix& m, const char* name) {
  if (allFinite(m)) return;
  for (Eigen::Index r = 0; r < m.rows(); ++r)
    for (Eigen::Index c = 0; c < m.cols(); ++c)
      if (!std::isfinite(m(r, c))) {
        std::ostringstream msg;
        msg << name << "[" << r << ", " << c << "] is " << (std::isnan(m(r, c)) ? "NaN" : "infinite")
            << " (row " << r << ", column " << c << ", counting from 0)";
        throw Error(msg.str());
      }
}

// Rows scaled to unit length; a zero row stays zero so its cosine with anything is 0. The norm
// is taken in double: in float it overflows for entries above about 1e19 and underflows to 0
// below about 1e-19, which would turn those rows' cosines into 0.
Matrix normalizedRows(const Eigen::Ref<const Matrix>& m) {
  Matrix out = m;
  for (Eigen::Index r = 0; r < out.rows(); ++r) {
    const Eigen::RowVectorXd row = out.row(r).cast<double>();
    const double norm = row.norm();
    if (norm > 0) out.row(r) = (row / norm).cast<float>();
  }
  return out;
}

// Rows per block: a block's scores and weights (2 · rows · m floats, 2 MiB) stay in the 2 MiB
// per-core L2 while the block's softmax and its share of AV run, so the n×m matrices are written
// once; larger blocks also amortise packing V for AV (64 rows at m = 4096 measured fastest).
int rowsPerBlock(int m) { return std::clamp(262144 / std::max(m, 1), 4, 256); }

// Sets the cells of row i that the mask hides to `value`.
void fillMaskedCells(const AttentionOptions& opt, int n, int m, int i, Eigen::Ref<Eigen::RowVectorXf> row,
                     float value) {
  switch (opt.mask) {
    case MaskKind::None: break;
    case MaskKind::Causal:
    case MaskKind::CausalTopLeft: {
      const long shift = opt.mask == MaskKind::Causal ? long(m) - long(n) : 0;
      const long firstHidden = std::clamp<long>(long(i) + shift + 1, 0, m);
      if (firstHidden < m) row.tail(m - firstHidden).setConstant(value);
      break;
    }
    case MaskKind::Custom:
      for (int j = 0; j < m; ++j)
        if (!opt.customMask(i, j)) row(j) = value;
      break;
  }
}

void hideMaskedCells(const AttentionOptions& opt, int n, int m, int i, Eigen::Ref<Eigen::RowVectorXf> row) {
  fillMaskedCells(opt, n, m, i, row, kNegInf);
}

// exp of row i already shifted by its max. Masked cells are then set to exactly 0: Eigen's
// vectorised exp clamps its argument (to about -88 in the SSE build), so exp(-inf) there is a
// denormal; a select() would be exact too, but it stops Eigen vectorising the exp (5× slower).
void expOfShifted(const AttentionOptions& opt, int n, int m, int i, const Eigen::Ref<const Eigen::RowVectorXf>& shifted,
                  Eigen::Ref<Eigen::RowVectorXf> out) {
  out = shifted.array().exp().matrix();
  fillMaskedCells(opt, n, m, i, out, 0.0f);
}

struct HeadInputs {
  Matrix q, k;  // this head's Q and K (normalised rows for cosine)
};

HeadInputs headInputs(const AttentionInputs& in, const AttentionOptions& opt, int h, int dkh) {
  HeadInputs hi;
  if (opt.score == ScoreFunction::Cosine) {
    hi.q = normalizedRows(in.q.middleCols(h * dkh, dkh));
    hi.k = normalizedRows(in.k.middleCols(h * dkh, dkh));
  } else {
    hi.q = in.q.middleCols(h * dkh, dkh);
    hi.k = in.k.middleCols(h * dkh, dkh);
  }
  return hi;
}

// Scale, mask and softmax of query row i of one head, with its statistics, from the stored
// scores. The masked row is built in a per-thread buffer; exp values go straight into the
// weights. Returns false when every key is masked.
// The keys [0, end) that query row i may see under a causal mask (the rest are hidden); every key
// under the other masks.
int allowedKeyEnd(const AttentionOptions& opt, int n, int m, int i) {
  if (opt.mask != MaskKind::Causal && opt.mask != MaskKind::CausalTopLeft) return m;
  const long shift = opt.mask == MaskKind::Causal ? long(m) - long(n) : 0;
  return int(std::clamp<long>(long(i) + shift + 1, 0, m));
}

// Σ w_j·x_j over the cells with w_j > 0 (the others are masked, with x_j = −inf, or underflowed),
// j < length, in eight interleaved float sums: a single sum waits on each addition, and this is
// most of a row's softmax. A full row and its causal prefix give the same bits, as the cells past
// the prefix add nothing to any lane.
float positiveWeightedSum(const float* w, const float* x, int length) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const int full = length / 8 * 8;
  for (int j0 = 0; j0 < full; j0 += 8)
    for (int l = 0; l < 8; ++l) lane[l] += w[j0 + l] > 0 ? w[j0 + l] * x[j0 + l] : 0.0f;
  for (int j = full; j < length; ++j) lane[j - full] += w[j] > 0 ? w[j] * x[j] : 0.0f;
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// |v|² in double (float overflows for entries above about 1e19).
double squaredNormInDouble(const float* v, int length) {
  return interleavedSumInDouble(v, length, [](double value) { return value * value; });
}

// softmaxRow for a lean trace whose row i holds scores only for keys [0, keyEnd), the causally
// allowed ones: the same operations on that prefix, so the weights and statistics are bit for bit
// those of softmaxRow (max is exact, exp is per cell, the sum still runs over the whole row,
// zeros included, and the entropy loop over the prefix adds the same terms in the same order).
bool softmaxAllowedPrefix(int m, HeadTrace& ht, int i, int keyEnd, Eigen::RowVectorXf& buffer) {
  auto w = ht.weights.row(i);
  if (keyEnd == 0) {  // every key masked: zero weights, flagged, never NaN
    w.setZero();
    ht.rowMax(i) = kNegInf;
    ht.rowSum(i) = 0;
    ht.stats.entropy(i) = 0;
    ht.stats.maxWeight(i) = 0;
    ht.stats.argmax(i) = -1;
    return false;
  }
  auto x = buffer.head(keyEnd);
  x = ht.scores.row(i).head(keyEnd) * ht.scale;
  const float rowMax = x.maxCoeff();
  ht.rowMax(i) = rowMax;
  x.array() -= rowMax;
  w.head(keyEnd) = x.array().exp().matrix();
  w.tail(m - keyEnd).setZero();
  const float sum = w.sum();
  ht.rowSum(i) = sum;
  const float inverseSum = 1.0f / sum;
  w.head(keyEnd) *= inverseSum;
  int arg = 0;
  while (arg + 1 < keyEnd && x(arg) != 0.0f) ++arg;
  ht.stats.maxWeight(i) = inverseSum;
  ht.stats.argmax(i) = arg;
  const float weighted = positiveWeightedSum(w.data(), x.data(), keyEnd);
  ht.stats.entropy(i) = std::max(0.0f, std::log(sum) - weighted);
  return true;
}

bool softmaxRow(const AttentionOptions& opt, int n, int m, HeadTrace& ht, bool keepDerived, int i,
                Eigen::RowVectorXf& buffer, bool skipMasked) {
  if (skipMasked) return softmaxAllowedPrefix(m, ht, i, allowedKeyEnd(opt, n, m, i), buffer);
  buffer = ht.scores.row(i) * ht.scale;
  if (keepDerived) ht.scaled.row(i) = buffer;
  hideMaskedCells(opt, n, m, i, buffer);
  if (keepDerived) ht.masked.row(i) = buffer;
  const float rowMax = buffer.maxCoeff();
  ht.rowMax(i) = rowMax;
  auto w = ht.weights.row(i);
  if (rowMax == kNegInf) {  // every key masked: zero weights, flagged, never NaN
    w.setZero();
    if (keepDerived) ht.expValues.row(i).setZero();
    ht.rowSum(i) = 0;
    ht.stats.entropy(i) = 0;
    ht.stats.maxWeight(i) = 0;
    ht.stats.argmax(i) = -1;
    return false;
  }
  buffer.array() -= rowMax;
  expOfShifted(opt, n, m, i, buffer, w);
  if (keepDerived) ht.expValues.row(i) = w;
  const float sum = w.sum();
  ht.rowSum(i) = sum;
  const float inverseSum = 1.0f / sum;
  w *= inverseSum;
  // The row's maximum sits where x - max == 0, so its weight is exp(0) / sum: no second
  // (scalar, index-tracking) pass over the row is needed.
  int arg = 0;
  while (arg + 1 < m && buffer(arg) != 0.0f) ++arg;
  ht.stats.maxWeight(i) = inverseSum;
  ht.stats.argmax(i) = arg;
  // -Σ w log w with log w = (x - max) - log(sum): one dot product instead of m logarithms.
  // Masked cells have w = 0 and x - max = -inf; skip them rather than multiply 0 by -inf.
  const float weighted = opt.mask == MaskKind::None ? w.dot(buffer) : positiveWeightedSum(w.data(), buffer.data(), m);
  ht.stats.entropy(i) = std::max(0.0f, std::log(sum) - weighted);
  return true;
}

// A float GEMM score carries a rounding error of about 2·sqrt(d)·u·|q_i|·max|k_j| (u = 2^-24),
// which moves weight w_ij by about w_ij times that error times the scale. Where this could exceed
// kWeightErrorGoal, those scores are recomputed as double dot products (stored correctly rounded)
// and the row's softmax is redone. Only large inputs with peaked rows refine, and only their few
// heavy cells; typical inputs refine nothing. Returns whether any score changed.
constexpr double kWeightErrorGoal = 1e-7;
constexpr long kExactScoreWork = 1L << 24;  // n·m·d up to which scores come from a double product

bool refineHeavyScores(const HeadInputs& hi, const Eigen::VectorXd& qNorms, double kNormMax, int i, HeadTrace& ht) {
  const int d = int(hi.q.cols());
  const double scoreError =
      std::abs(double(ht.scale)) * 2 * std::sqrt(double(d)) * 0x1p-24 * double(qNorms(i)) * double(kNormMax);
  const double heavy = kWeightErrorGoal / scoreError;  // weights above this need exact scores
  if (!(ht.stats.maxWeight(i) > heavy)) return false;
  bool changed = false;
  const float* q = hi.q.row(i).data();
  const float* weights = ht.weights.row(i).data();
  float* scores = ht.scores.row(i).data();
  const long m = long(ht.weights.cols());
  // Heavy cells are a few per row: a vectorised maximum passes over the chunks without any, where
  // a test per cell had cost more than the refinement itself.
  constexpr long kChunk = 16;
  for (long j0 = 0; j0 < m; j0 += kChunk) {
    const long j1 = std::min(m, j0 + kChunk);
    const float largest = j1 - j0 == kChunk
                              ? Eigen::Map<const Eigen::Array<float, kChunk, 1>>(weights + j0).maxCoeff()
                              : Eigen::Map<const Eigen::ArrayXf>(weights + j0, j1 - j0).maxCoeff();
    if (!(double(largest) > heavy)) continue;
    for (long j = j0; j < j1; ++j) {
      if (!(double(weights[j]) > heavy)) continue;
      // Eigen's dot of a float row cast to double is one chain of dependent scalar additions.
      const float exact = float(interleavedDotInDouble(q, hi.k.row(j).data(), d));
      changed |= exact != scores[j];
      scores[j] = exact;
    }
  }
  return changed;
}

// Per head: its inputs and what the row blocks fill in, kept apart so that one parallel loop can
// run the blocks of every head.
struct HeadWork {
  HeadInputs hi;
  Eigen::VectorXd qNorms;  // in double: float norms overflow for entries above about 1e19
  double kNormMax = 0;
  double scale = 1;
  bool exactScores = false;
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> kExact;  // row-major like K: a plain widening copy
  std::vector<char> fullyMasked;  // vector<bool> is not safe to write from threads
  std::vector<ExactRow> exact;
  std::vector<char> inDouble;
};

// The float path where it is exact enough (softmaxNeedsDouble, rowNeedsDouble), else the row
// in double; `w.exact[i]` receives the rows computed in double.
void softmaxRows(const AttentionInputs& in, const AttentionOptions& opt, int h, int n, int m, HeadTrace& ht,
                 bool keepDerived, bool skipMasked, int r0, int r1, Eigen::RowVectorXf& buffer, HeadWork& w) {
  for (int i = r0; i < r1; ++i) {
    bool inDouble = softmaxNeedsDouble(w.scale, w.qNorms(i), w.kNormMax);
    if (!inDouble) {
      const bool attends = softmaxRow(opt, n, m, ht, keepDerived, i, buffer, skipMasked);
      w.fullyMasked[i] = !attends;
      // Scores from the double product are already what refining would make them.
      if (attends && !w.exactScores && refineHeavyScores(w.hi, w.qNorms, w.kNormMax, i, ht))
        softmaxRow(opt, n, m, ht, keepDerived, i, buffer, skipMasked);
      inDouble = attends && rowNeedsDouble(ht.rowMax(i));
    }
    if (inDouble) w.fullyMasked[i] = !exactSoftmaxRow(in, opt, h, i, ht, keepDerived, w.exact[std::size_t(i)]);
  }
}

void resizeHead(HeadTrace& ht, int n, int m, int dvh, bool keepDerived) {
  ht.scores.resize(n, m);
  ht.weights.resize(n, m);
  if (keepDerived) {
    ht.scaled.resize(n, m);
    ht.masked.resize(n, m);
    ht.expValues.resize(n, m);
  } else {
    ht.scaled.resize(0, 0);
    ht.masked.resize(0, 0);
    ht.expValues.resize(0, 0);
  }
  ht.rowMax.resize(n);
  ht.rowSum.resize(n);
  ht.stats.entropy.resize(n);
  ht.stats.maxWeight.resize(n);
  ht.stats.argmax.resize(n);
  ht.output.resize(n, dvh);
}

void prepareHead(Stage from, const AttentionInputs& in, const AttentionOptions& opt, AttentionTrace& t, int h,
                 HeadWork& w) {
  const int n = t.n, m = t.m, dkh = t.headKeyWidth();
  HeadTrace& ht = t.head[h];
  ht.scale = effectiveScale(opt, dkh);
  w.scale = exactScale(opt, dkh);
  if (from <= Stage::Scale) {
    w.hi = headInputs(in, opt, h, dkh);
    w.qNorms.resize(n);
    for (int i = 0; i < n; ++i) w.qNorms(i) = std::sqrt(squaredNormInDouble(w.hi.q.row(i).data(), dkh));
    for (int j = 0; j < m; ++j) w.kNormMax = std::max(w.kNormMax, std::sqrt(squaredNormInDouble(w.hi.k.row(j).data(), dkh)));
  }
  // Small problems get exact (correctly rounded) scores from a double product: it costs
  // little there, and their scores then never change when a temperature edit refines cells.
  w.exactScores = from == Stage::Scores && long(n) * m * dkh <= kExactScoreWork;
  if (w.exactScores) w.kExact = w.hi.k.cast<double>();
  w.fullyMasked.assign(std::size_t(n), 0);
  if (from == Stage::Output)
    for (int i = 0; i < n; ++i) w.fullyMasked[i] = ht.stats.fullyMasked[i];
  w.exact.assign(from <= Stage::Scale ? std::size_t(n) : 0, ExactRow());
  w.inDouble.assign(std::size_t(n), 0);
  if (from == Stage::Output)
    for (int i : ht.exactRows) w.inDouble[std::size_t(i)] = 1;
}

// Rows r0 … r0 + rows − 1 of one head. With `skipMasked` (a causal mask, lean trace) only the
// keys the block's last row may see enter QKᵀ and AV; the scores of hidden cells are set to 0.
void computeBlock(Stage from, const AttentionInputs& in, const AttentionOptions& opt, bool keepDerived,
                  bool skipMasked, AttentionTrace& t, int h, int r0, int rows, HeadWork& w,
                  Eigen::RowVectorXf& buffer) {
  const int n = t.n, m = t.m, dvh = t.headValueWidth();
  HeadTrace& ht = t.head[h];
  const int keyEnd = skipMasked ? allowedKeyEnd(opt, n, m, r0 + rows - 1) : m;
  const auto vh = in.v.middleCols(h * dvh, dvh);
  if (from == Stage::Scores) {
    auto scores = ht.scores.block(r0, 0, rows, keyEnd);
    if (w.exactScores)
      scores = (w.hi.q.middleRows(r0, rows).cast<double>() * w.kExact.topRows(keyEnd).transpose()).cast<float>();
    else
      scores.noalias() = w.hi.q.middleRows(r0, rows) * w.hi.k.topRows(keyEnd).transpose();
    if (skipMasked)  // hidden cells hold 0, also those the block's product did compute
      for (int i = r0; i < r0 + rows; ++i) {
        const int rowEnd = allowedKeyEnd(opt, n, m, i);
        ht.scores.row(i).tail(m - rowEnd).setZero();
      }
  }
  if (from <= Stage::Scale) {
    softmaxRows(in, opt, h, n, m, ht, keepDerived, skipMasked, r0, r0 + rows, buffer, w);
    for (int i = r0; i < r0 + rows; ++i) w.inDouble[std::size_t(i)] = w.exact[std::size_t(i)].row >= 0;
  }
  if (keyEnd == 0) ht.output.middleRows(r0, rows).setZero();
  else
    ht.output.middleRows(r0, rows).noalias() = ht.weights.block(r0, 0, rows, keyEnd) * vh.topRows(keyEnd);
  // A float sum of values near float's range can round up to ∞; such rows, and the rows
  // whose softmax ran in double, take their output from a double sum.
  for (int i = r0; i < r0 + rows; ++i)
    if (w.inDouble[std::size_t(i)] || !allFinite(ht.output.row(i))) exactOutputRow(in, opt, h, i, ht);
}

// Recomputes stages from `from` on, one block of query rows at a time; the blocks of all heads
// share one parallel loop (a head at n = 128 is a single block, so a loop per head left one core
// idle), heaviest first when causal skipping makes the late blocks the long ones. Eigen's
// products run single-threaded inside the parallel region.
void computeFrom(Stage from, const AttentionInputs& in, const AttentionOptions& opt, bool keepDerived,
                 bool skipMasked, AttentionTrace& t) {
  const int n = t.n, m = t.m, dvh = t.headValueWidth(), heads = t.heads;
  // With causal skipping, a head of a few hundred rows splits in four blocks at least: each skips
  // the products with the keys its rows cannot see (5/8 of the products remain, against 3/4 with
  // two blocks), and the blocks balance the cores (two blocks made a model's pass at n = 128
  // 7–9% faster than one; four made SmolLM's attention about 10% faster than two).
  const int block = skipMasked ? std::min(rowsPerBlock(m), std::max(16, (n + 3) / 4)) : rowsPerBlock(m);
  const int blocks = (n + block - 1) / block;
  t.concatenated.resize(n, t.dv);
  // Allocated here, not in the parallel loop: memory a worker thread allocates comes from that
  // thread's arena, whose heaps glibc unmaps as soon as they are empty, whatever the trim
  // threshold, so half of every pass's trace was faulted in and zeroed again.
  if (from == Stage::Scores)
    for (HeadTrace& ht : t.head) resizeHead(ht, n, m, dvh, keepDerived);
  std::vector<HeadWork> work(static_cast<std::size_t>(heads));
  // An exception must not leave an OpenMP region (that terminates the program): the first one
  // (say bad_alloc for a trace too large for this machine) is kept, the rest of the work
  // skipped, and it is thrown again after the region.
  std::exception_ptr failure;
  std::atomic<bool> failed{false};
  const auto guarded = [&](auto&& step) {
    if (failed.load(std::memory_order_relaxed)) return;
    try {
      step();
    } catch (...) {
      if (!failed.exchange(true)) failure = std::current_exception();
    }
  };
#pragma omp parallel
  {
#pragma omp for schedule(dynamic, 1)
    for (int h = 0; h < heads; ++h) guarded([&] { prepareHead(from, in, opt, t, h, work[std::size_t(h)]); });
    Eigen::RowVectorXf buffer;
    guarded([&] { buffer.resize(m); });
#pragma omp for schedule(dynamic, 1)
    for (int item = 0; item < heads * blocks; ++item) {
      const int h = item % heads, b = skipMasked ? blocks - 1 - item / heads : item / heads;
      const int r0 = b * block, rows = std::min(block, n - r0);
      guarded([&] { computeBlock(from, in, opt, keepDerived, skipMasked, t, h, r0, rows, work[std::size_t(h)], buffer); });
    }
#pragma omp for schedule(dynamic, 1)
    for (int h = 0; h < heads; ++h)
      guarded([&] {
        HeadTrace& ht = t.head[h];
        HeadWork& w = work[std::size_t(h)];
        if (from <= Stage::Scale) storeExactRows(ht, w.exact);
        ht.stats.fullyMasked.assign(w.fullyMasked.begin(), w.fullyMasked.end());
        t.concatenated.middleCols(h * dvh, dvh) = ht.output;
      });
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

const char* toString(ScoreFunction f) {
  switch (f) {
    case ScoreFunction::Scaled: return "scaled";
    case ScoreFunction::Dot: return "dot";
    case ScoreFunction::Cosine: return "cosine";
  }
  return "?";
}

const char* toString(MaskKind k) {
  switch (k) {
    case MaskKind::None: return "none";
    case MaskKind::Causal: return "causal";
    case MaskKind::CausalTopLeft: return "causal-top-left";
    case MaskKind::Custom: return "custom";
  }
  return "?";
}

ScoreFunction parseScoreFunction(const std::string& s) {
  if (s == "scaled") return ScoreFunction::Scaled;
  if (s == "dot") return ScoreFunction::Dot;
  if (s == "cosine") return ScoreFunction::Cosine;
  throw Error("unknown score function \"" + printable(s) + "\" (expected scaled, dot or cosine)");
}

MaskKind parseMaskKind(const std::string& s) {
  if (s == "none") return MaskKind::None;
  if (s == "causal") return MaskKind::Causal;
  if (s == "causal-top-left") return MaskKind::CausalTopLeft;
  throw Error("unknown mask \"" + printable(s) + "\" (expected " + maskKindNames() + ")");
}

const char* maskKindNames() { return "none, causal or causal-top-left"; }

bool AttentionOptions::operator==(const AttentionOptions& o) const {
  const bool sameMask = customMask.rows() == o.customMask.rows() &&
                        customMask.cols() == o.customMask.cols() && customMask == o.customMask;
  return score == o.score && scaleOverride == o.scaleOverride && temperature == o.temperature &&
         mask == o.mask && heads == o.heads && sameMask;
}

float baseScale(const AttentionOptions& options, int headKeyWidth) {
  if (options.scaleOverride) return *options.scaleOverride;
  return options.score == ScoreFunction::Scaled ? 1.0f / std::sqrt(float(headKeyWidth)) : 1.0f;
}

float effectiveScale(const AttentionOptions& options, int headKeyWidth) {
  return baseScale(options, headKeyWidth) / options.temperature;
}

double exactScale(const AttentionOptions& options, int headKeyWidth) {
  return double(baseScale(options, headKeyWidth)) / double(options.temperature);
}

bool isAllowed(const AttentionOptions& options, int n, int m, int i, int j) {
  switch (options.mask) {
    case MaskKind::None: return true;
    case MaskKind::Causal: return long(j) <= long(i) + (long(m) - long(n));
    case MaskKind::CausalTopLeft: return j <= i;
    case MaskKind::Custom: return options.customMask(i, j) != 0;
  }
  return true;
}

void validate(const AttentionInputs& in, const AttentionOptions& opt) {
  const auto shape = [](const Matrix& m) {
    return std::to_string(m.rows()) + "×" + std::to_string(m.cols());
  };
  if (in.q.size() == 0) throw Error("Q is empty");
  if (in.k.size() == 0) throw Error("K is empty");
  if (in.v.size() == 0) throw Error("V is empty");
  if (in.q.cols() != in.k.cols())
    throw Error("Q is " + shape(in.q) + " but K is " + shape(in.k) +
                ": Q and K need the same number of columns (d_k)");
  if (in.k.rows() != in.v.rows())
    throw Error("K is " + shape(in.k) + " but V is " + shape(in.v) +
                ": K and V need the same number of rows (m)");
  if (in.q.rows() > kMaxSequenceLength || in.k.rows() > kMaxSequenceLength)
    throw Error("sequence too long: n = " + std::to_string(in.q.rows()) + ", m = " +
                std::to_string(in.k.rows()) + " (the limit is " + std::to_string(kMaxSequenceLength) + ")");
  if (opt.heads < 1) throw Error("heads must be at least 1 (got " + std::to_string(opt.heads) + ")");
  if (in.q.cols() % opt.heads != 0)
    throw Error("d_k = " + std::to_string(in.q.cols()) + " does not divide into " +
                std::to_string(opt.heads) + " heads");
  if (in.v.cols() % opt.heads != 0)
    throw Error("d_v = " + std::to_string(in.v.cols()) + " does not divide into " +
                std::to_string(opt.heads) + " heads");
  if (long(opt.heads) * in.q.rows() * in.k.rows() > kMaxTraceElements)
    throw Error("heads × n × m = " + std::to_string(long(opt.heads) * in.q.rows() * in.k.rows()) +
                " is above the limit of " + std::to_string(kMaxTraceElements) + " cells per stage");
  if (!(opt.temperature > 0) || !std::isfinite(opt.temperature))
    throw Error("temperature must be a finite number > 0 (got " + shortestText(opt.temperature) + ")");
  if (opt.scaleOverride && !std::isfinite(*opt.scaleOverride))
    throw Error("scale must be a finite number");
  if (opt.mask == MaskKind::Custom &&
      (opt.customMask.rows() != in.q.rows() || opt.customMask.cols() != in.k.rows()))
    throw Error("the mask is " + std::to_string(opt.customMask.rows()) + "×" +
                std::to_string(opt.customMask.cols()) + " but attention is " +
                std::to_string(in.q.rows()) + "×" + std::to_string(in.k.rows()) + " (n×m)");
  if (in.wO.size() && in.wO.rows() != in.v.cols())
    throw Error("W_O is " + shape(in.wO) + " but V is " + shape(in.v) +
                ": W_O needs as many rows as V has columns (d_v)");
  checkFinite(in.q, "Q");
  checkFinite(in.k, "K");
  checkFinite(in.v, "V");
  checkFinite(in.wO, "W_O");
}

void finishTrace(AttentionTrace& t, const AttentionInputs& in) {
  if (t.concatenated.rows() != t.n || t.concatenated.cols() != t.dv) {
    t.concatenated.resize(t.n, t.dv);
    for (int h = 0; h < t.heads; ++h)
      t.concatenated.middleCols(h * t.headValueWidth(), t.headValueWidth()) = t.head[std::size_t(h)].output;
  }
  if (in.wO.size() == 0) t.projected.resize(0, 0);
  else t.projected.noalias() = t.concatenated * in.wO;
}

void AttentionPipeline::setInputs(AttentionInputs inputs) {
  inputs_ = std::move(inputs);
  dirty_ = Stage::Scores;
}

void AttentionPipeline::setValues(Matrix v) {
  const bool sameShape = v.rows() == inputs_.v.rows() && v.cols() == inputs_.v.cols();
  inputs_.v = std::move(v);
  dirty_ = std::min(dirty_, sameShape ? Stage::Output : Stage::Scores);
}

void AttentionPipeline::setOptions(const AttentionOptions& options) {
  if (options == options_) return;
  const bool scoresChange = options.heads != options_.heads || options.score != options_.score;
  options_ = options;
  dirty_ = std::min(dirty_, scoresChange ? Stage::Scores : Stage::Scale);
}

void AttentionPipeline::keepDerivedStages(bool keep) {
  if (keep != keepDerived_) dirty_ = Stage::Scores;
  keepDerived_ = keep;
}

AttentionTrace AttentionPipeline::takeTrace() {
  dirty_ = Stage::Scores;
  return std::move(trace_);
}

AttentionInputs AttentionPipeline::takeInputs() {
  dirty_ = Stage::Scores;
  return std::move(inputs_);
}

void AttentionPipeline::skipMaskedScores(bool skip) {
  if (skip != skipMasked_) dirty_ = Stage::Scores;
  skipMasked_ = skip;
}

bool AttentionPipeline::skippingMaskedScores() const {
  return skipMasked_ && !keepDerived_ &&
         (options_.mask == MaskKind::Causal || options_.mask == MaskKind::CausalTopLeft);
}

const AttentionTrace& AttentionPipeline::run() {
  // Scores that were skipped would be needed by another mask or a full re-softmax: recompute them.
  if (skipMasked_ && dirty_ == Stage::Scale) dirty_ = Stage::Scores;
  lastRecomputedFrom_ = dirty_;
  if (dirty_ == Stage::Done) return trace_;
  validate(inputs_, options_);
  const auto start = std::chrono::steady_clock::now();
  AttentionTrace& t = trace_;
  if (dirty_ == Stage::Scores) {
    t.n = int(inputs_.q.rows());
    t.m = int(inputs_.k.rows());
    t.dk = int(inputs_.q.cols());
    t.dv = int(inputs_.v.cols());
    t.heads = options_.heads;
    t.head.resize(t.heads);
  }
  t.options = options_;
  computeFrom(dirty_, inputs_, options_, keepDerived_, skippingMaskedScores(), t);
  finishTrace(t, inputs_);
  t.timings = {};
  t.timings.totalMs = millisecondsSince(start);
  dirty_ = Stage::Done;
  return t;
}

AttentionTrace computeAttention(const AttentionInputs& inputs, const AttentionOptions& options,
                                bool keepDerivedStages, MaskedScores maskedScores) {
  AttentionInputs copy = inputs;
  return computeAttentionOnLent(copy, options, keepDerivedStages, maskedScores);
}

AttentionTrace computeAttentionOnLent(AttentionInputs& inputs, const AttentionOptions& options,
                                      bool keepDerivedStages, MaskedScores maskedScores) {
  AttentionPipeline pipeline;
  pipeline.keepDerivedStages(keepDerivedStages);
  pipeline.skipMaskedScores(maskedScores == MaskedScores::Skipped);
  pipeline.setInputs(std::move(inputs));
  pipeline.setOptions(options);
  try {
    pipeline.run();
  } catch (...) {
    inputs = pipeline.takeInputs();
    throw;
  }
  inputs = pipeline.takeInputs();
  return pipeline.takeTrace();
}

namespace {

// Where row i of the head sits in exactRows, or -1.
int exactIndex(const HeadTrace& head, int i) {
  const auto it = std::lower_bound(head.exactRows.begin(), head.exactRows.end(), i);
  return it != head.exactRows.end() && *it == i ? int(it - head.exactRows.begin()) : -1;
}

}  // namespace

Matrix deriveScaled(const HeadTrace& head) {
  Matrix scaled = head.scores * head.scale;
  for (std::size_t k = 0; k < head.exactRows.size(); ++k) scaled.row(head.exactRows[k]) = head.exactScaled.row(Eigen::Index(k));
  return scaled;
}

Matrix deriveMasked(const HeadTrace& head, const AttentionOptions& options) {
  Matrix masked = deriveScaled(head);
  const int n = int(masked.rows()), m = int(masked.cols());
  for (int i = 0; i < n; ++i) hideMaskedCells(options, n, m, i, masked.row(i));
  return masked;
}

Matrix deriveExp(const HeadTrace& head, const AttentionOptions& options) {
  Matrix e = deriveMasked(head, options);
  const int n = int(e.rows()), m = int(e.cols());
  for (std::size_t k = 0; k < head.exactRows.size(); ++k) {
    const int i = head.exactRows[k];
    for (int j = 0; j < m; ++j)
      e(i, j) = isAllowed(options, n, m, i, j) ? float(std::exp(double(head.exactShifted(Eigen::Index(k), j)))) : 0.0f;
  }
  for (Eigen::Index i = 0; i < e.rows(); ++i) {
    if (exactIndex(head, int(i)) >= 0) continue;
    if (head.rowMax(i) == kNegInf) e.row(i).setZero();
    else {
      const Eigen::RowVectorXf shifted = e.row(i).array() - head.rowMax(i);
      expOfShifted(options, int(e.rows()), int(e.cols()), int(i), shifted, e.row(i));
    }
  }
  return e;
}

}  // namespace attnviz

namespace attnviz {

Matrix deriveShifted(const HeadTrace& head, const AttentionOptions& options) {
  Matrix x = head.masked.size() == head.scores.size() ? head.masked : deriveMasked(head, options);
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    // A fully masked row has max −∞ and −∞ − (−∞) would be NaN: it stays −∞.
    if (head.rowMax(i) == kNegInf) x.row(i).setConstant(kNegInf);
    else x.row(i).array() -= head.rowMax(i);
  }
  for (std::size_t k = 0; k < head.exactRows.size(); ++k) x.row(head.exactRows[k]) = head.exactShifted.row(Eigen::Index(k));
  return x;
}

float shiftedScore(const HeadTrace& head, const AttentionOptions& options, int i, int j) {
  if (const int k = exactIndex(head, i); k >= 0) return head.exactShifted(k, j);
  const int n = int(head.scores.rows()), m = int(head.scores.cols());
  if (!isAllowed(options, n, m, i, j) || head.rowMax(i) == kNegInf) return kNegInf;
  const float scaled = head.masked.size() == head.scores.size() ? head.masked(i, j) : head.scores(i, j) * head.scale;
  return scaled - head.rowMax(i);
}

bool softmaxNeedsDouble(double scale, double qNorm, double kNormMax) {
  // A quarter of float's range leaves room for the float GEMM's rounding.
  constexpr double kRange = double(std::numeric_limits<float>::max()) / 4;
  const double bound = qNorm * kNormMax;  // Cauchy–Schwarz: |s_ij| ≤ |q_i|·|k_j|
  return !(std::abs(scale) <= 0x1p100) || !(bound <= kRange) || !(std::abs(scale) * bound <= kRange);
}

bool rowNeedsDouble(float rowMax) { return rowMax != kNegInf && !(std::abs(rowMax) <= kFloatRowMaxLimit); }

bool exactSoftmaxRow(const AttentionInputs& in, const AttentionOptions& opt, int h, int i, HeadTrace& ht,
                     bool keepDerived, ExactRow& kept) {
  const int n = int(in.q.rows()), m = int(in.k.rows()), dkh = int(in.q.cols()) / opt.heads;
  const double scale = exactScale(opt, dkh);
  const Eigen::RowVectorXd q = in.q.row(i).segment(h * dkh, dkh).cast<double>();
  const double qNorm = q.norm();
  kept.row = i;
  kept.scaled.resize(m);
  kept.shifted.resize(m);
  std::vector<double> s(static_cast<std::size_t>(m));
  std::vector<char> allowed(static_cast<std::size_t>(m));
  int best = -1;  // the allowed key with the largest scale·s (first of ties)
  for (int j = 0; j < m; ++j) {
    const auto k = in.k.row(j).segment(h * dkh, dkh).cast<double>();
    double score = q.dot(k);
    if (opt.score == ScoreFunction::Cosine) {
      const double kNorm = k.norm();
      score = qNorm > 0 && kNorm > 0 ? score / (qNorm * kNorm) : 0.0;
    }
    s[std::size_t(j)] = score;
    ht.scores(i, j) = float(score);  // ±inf beyond float's range (IEEE rounding)
    kept.scaled(j) = float(scale * score);
    allowed[std::size_t(j)] = isAllowed(opt, n, m, i, j);
    if (allowed[std::size_t(j)] && (best < 0 || scale * (score - s[std::size_t(best)]) > 0)) best = j;
  }
  if (keepDerived) ht.scaled.row(i) = kept.scaled;
  auto w = ht.weights.row(i);
  if (best < 0) {  // every key masked: zero weights, flagged, never NaN
    kept.shifted.setConstant(kNegInf);
    w.setZero();
    if (keepDerived) {
      ht.masked.row(i).setConstant(kNegInf);
      ht.expValues.row(i).setZero();
    }
    ht.rowMax(i) = kNegInf;
    ht.rowSum(i) = 0;
    ht.stats.entropy(i) = 0;
    ht.stats.maxWeight(i) = 0;
    ht.stats.argmax(i) = -1;
    ht.output.row(i).setZero();
    return false;
  }
  const double sMax = s[std::size_t(best)];
  ht.rowMax(i) = float(scale * sMax);
  // Subtracting before scaling keeps every shifted score ≤ 0 and finite in double (|scale| ≤
  // 2^150·3.4e38 and |s| ≤ 65536·(3.4e38)²); exp is then taken of the float value the
  // minus_row_max stage shows, so the exp stage is exactly exp of what is shown.
  std::vector<double>& e = s;
  double sum = 0;
  for (int j = 0; j < m; ++j) {
    const std::size_t c = std::size_t(j);
    if (allowed[c]) {
      kept.shifted(j) = float(scale * (s[c] - sMax));
      e[c] = std::exp(double(kept.shifted(j)));
    } else {
      kept.shifted(j) = kNegInf;
      e[c] = 0;
    }
    sum += e[c];
  }
  ht.rowSum(i) = float(sum);
  double weighted = 0, maxWeight = -1;
  int arg = best;
  for (int j = 0; j < m; ++j) {
    const double wj = e[std::size_t(j)] / sum;
    w(j) = float(wj);
    if (wj > 0) weighted += wj * double(kept.shifted(j));
    if (wj > maxWeight) maxWeight = wj, arg = j;
  }
  if (keepDerived) {
    ht.masked.row(i) = kept.scaled;
    for (int j = 0; j < m; ++j) {
      if (!allowed[std::size_t(j)]) ht.masked(i, j) = kNegInf;
      ht.expValues(i, j) = float(e[std::size_t(j)]);
    }
  }
  ht.stats.maxWeight(i) = float(maxWeight);
  ht.stats.argmax(i) = arg;
  ht.stats.entropy(i) = float(std::max(0.0, std::log(sum) - weighted));
  exactOutputRow(in, opt, h, i, ht);
  return true;
}

void exactOutputRow(const AttentionInputs& in, const AttentionOptions& opt, int h, int i, HeadTrace& ht) {
  const int dvh = int(in.v.cols()) / opt.heads;
  Eigen::RowVectorXd o = Eigen::RowVectorXd::Zero(dvh);
  for (Eigen::Index j = 0; j < ht.weights.cols(); ++j)
    if (const double wj = ht.weights(i, j); wj != 0) o += wj * in.v.row(j).segment(h * dvh, dvh).cast<double>();
  ht.output.row(i) = o.cast<float>();
}

void storeExactRows(HeadTrace& ht, std::vector<ExactRow>& rows) {
  std::vector<const ExactRow*> kept;
  for (const ExactRow& r : rows)
    if (r.row >= 0) kept.push_back(&r);
  std::sort(kept.begin(), kept.end(), [](const ExactRow* a, const ExactRow* b) { return a->row < b->row; });
  const Eigen::Index m = ht.scores.cols();
  ht.exactRows.clear();
  ht.exactScaled.resize(Eigen::Index(kept.size()), m);
  ht.exactShifted.resize(Eigen::Index(kept.size()), m);
  for (std::size_t k = 0; k < kept.size(); ++k) {
    ht.exactRows.push_back(kept[k]->row);
    ht.exactScaled.row(Eigen::Index(k)) = kept[k]->scaled;
    ht.exactShifted.row(Eigen::Index(k)) = kept[k]->shifted;
  }
}

}  // namespace attnviz
