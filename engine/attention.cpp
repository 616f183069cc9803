#include "attention.hpp"

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

void checkFinite(const Matrix& m, const char* name) {
  if (m.allFinite()) return;
  for (Eigen::Index r = 0; r < m.rows(); ++r)
    for (Eigen::Index c = 0; c < m.cols(); ++c)
      if (!std::isfinite(m(r, c))) {
        std::ostringstream msg;
        msg << name << "[" << r << ", " << c << "] is " << (std::isnan(m(r, c)) ? "NaN" : "infinite")
            << " (row " << r << ", column " << c << ", counting from 0)";
        throw Error(msg.str());
      }
}

// Rows scaled to unit length; a zero row stays zero so its cosine with anything is 0.
Matrix normalizedRows(const Eigen::Ref<const Matrix>& m) {
  Matrix out = m;
  for (Eigen::Index r = 0; r < out.rows(); ++r) {
    const float norm = out.row(r).norm();
    if (norm > 0) out.row(r) /= norm;
  }
  return out;
}

void computeScores(const AttentionInputs& in, const AttentionOptions& opt, AttentionTrace& t) {
  const int dkh = t.headKeyWidth();
  for (int h = 0; h < t.heads; ++h) {
    auto qh = in.q.middleCols(h * dkh, dkh);
    auto kh = in.k.middleCols(h * dkh, dkh);
    HeadTrace& ht = t.head[h];
    ht.scores.resize(t.n, t.m);
    if (opt.score == ScoreFunction::Cosine)
      ht.scores.noalias() = normalizedRows(qh) * normalizedRows(kh).transpose();
    else
      ht.scores.noalias() = qh * kh.transpose();
  }
}

// Scale, mask, softmax and per-row statistics, one query row at a time so the row stays in cache.
void computeScaleMaskSoftmax(const AttentionOptions& opt, AttentionTrace& t,
                             double& scaleMaskMs, double& softmaxMs) {
  const int n = t.n, m = t.m;
  const auto start = std::chrono::steady_clock::now();
  for (int h = 0; h < t.heads; ++h) {
    HeadTrace& ht = t.head[h];
    ht.scale = effectiveScale(opt, t.headKeyWidth());
    ht.scaled.resize(n, m);
    ht.masked.resize(n, m);
    ht.expValues.resize(n, m);
    ht.weights.resize(n, m);
    ht.rowMax.resize(n);
    ht.rowSum.resize(n);
    ht.stats.entropy.resize(n);
    ht.stats.maxWeight.resize(n);
    ht.stats.argmax.resize(n);
    ht.stats.fullyMasked.assign(n, false);
    std::vector<char> fullyMasked(n, 0);  // vector<bool> is not safe to write from threads

#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; ++i) {
      ht.scaled.row(i) = ht.scores.row(i) * ht.scale;
      auto masked = ht.masked.row(i);
      masked = ht.scaled.row(i);
      switch (opt.mask) {
        case MaskKind::None: break;
        case MaskKind::Causal: {
          const long firstHidden = std::max<long>(0, long(i) + (m - n) + 1);
          for (long j = firstHidden; j < m; ++j) masked(j) = kNegInf;
          break;
        }
        case MaskKind::Custom:
          for (int j = 0; j < m; ++j)
            if (!opt.customMask(i, j)) masked(j) = kNegInf;
          break;
      }
      const float rowMax = masked.maxCoeff();
      ht.rowMax(i) = rowMax;
      auto e = ht.expValues.row(i);
      auto w = ht.weights.row(i);
      if (rowMax == kNegInf) {  // every key masked: zero weights, flagged, never NaN
        e.setZero();
        w.setZero();
        ht.rowSum(i) = 0;
        ht.stats.entropy(i) = 0;
        ht.stats.maxWeight(i) = 0;
        ht.stats.argmax(i) = -1;
        fullyMasked[i] = 1;
        continue;
      }
      // exp(-inf) is exactly 0, so masked cells contribute nothing.
      e = (masked.array() - rowMax).exp();
      const float sum = e.sum();
      ht.rowSum(i) = sum;
      w = e * (1.0f / sum);
      Eigen::Index arg = 0;
      ht.stats.maxWeight(i) = w.maxCoeff(&arg);
      ht.stats.argmax(i) = int(arg);
      float entropy = 0;
      for (int j = 0; j < m; ++j)
        if (w(j) > 0) entropy -= w(j) * std::log(w(j));
      ht.stats.entropy(i) = entropy;
    }
    for (int i = 0; i < n; ++i) ht.stats.fullyMasked[i] = fullyMasked[i] != 0;
  }
  // The loop fuses scaling, masking and softmax; report it as softmax time, with the scale
  // share estimated as zero rather than guessed.
  scaleMaskMs = 0;
  softmaxMs = millisecondsSince(start);
}

void computeOutput(const AttentionInputs& in, AttentionTrace& t) {
  const int dvh = t.headValueWidth();
  t.concatenated.resize(t.n, t.dv);
  for (int h = 0; h < t.heads; ++h) {
    HeadTrace& ht = t.head[h];
    ht.output.resize(t.n, dvh);
    ht.output.noalias() = ht.weights * in.v.middleCols(h * dvh, dvh);
    t.concatenated.middleCols(h * dvh, dvh) = ht.output;
  }
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
    case MaskKind::Custom: return "custom";
  }
  return "?";
}

ScoreFunction parseScoreFunction(const std::string& s) {
  if (s == "scaled") return ScoreFunction::Scaled;
  if (s == "dot") return ScoreFunction::Dot;
  if (s == "cosine") return ScoreFunction::Cosine;
  throw Error("unknown score function \"" + s + "\" (expected scaled, dot or cosine)");
}

MaskKind parseMaskKind(const std::string& s) {
  if (s == "none") return MaskKind::None;
  if (s == "causal") return MaskKind::Causal;
  throw Error("unknown mask \"" + s + "\" (expected none, causal or a mask file)");
}

bool AttentionOptions::operator==(const AttentionOptions& o) const {
  const bool sameMask = customMask.rows() == o.customMask.rows() &&
                        customMask.cols() == o.customMask.cols() && customMask == o.customMask;
  return score == o.score && scaleOverride == o.scaleOverride && temperature == o.temperature &&
         mask == o.mask && heads == o.heads && sameMask;
}

float effectiveScale(const AttentionOptions& options, int headKeyWidth) {
  float base = 1.0f;
  if (options.scaleOverride)
    base = *options.scaleOverride;
  else if (options.score == ScoreFunction::Scaled)
    base = 1.0f / std::sqrt(float(headKeyWidth));
  return base / options.temperature;
}

bool isAllowed(const AttentionOptions& options, int n, int m, int i, int j) {
  switch (options.mask) {
    case MaskKind::None: return true;
    case MaskKind::Causal: return long(j) <= long(i) + (long(m) - long(n));
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
    throw Error("temperature must be a finite number > 0 (got " + std::to_string(opt.temperature) + ")");
  if (opt.scaleOverride && !std::isfinite(*opt.scaleOverride))
    throw Error("scale must be a finite number");
  if (opt.mask == MaskKind::Custom &&
      (opt.customMask.rows() != in.q.rows() || opt.customMask.cols() != in.k.rows()))
    throw Error("the mask is " + std::to_string(opt.customMask.rows()) + "×" +
                std::to_string(opt.customMask.cols()) + " but attention is " +
                std::to_string(in.q.rows()) + "×" + std::to_string(in.k.rows()) + " (n×m)");
  checkFinite(in.q, "Q");
  checkFinite(in.k, "K");
  checkFinite(in.v, "V");
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

const AttentionTrace& AttentionPipeline::run() {
  lastRecomputedFrom_ = dirty_;
  if (dirty_ == Stage::Done) return trace_;
  validate(inputs_, options_);
  const auto start = std::chrono::steady_clock::now();
  AttentionTrace& t = trace_;
  StageTimings& tm = t.timings;
  if (dirty_ == Stage::Scores) {
    t.n = int(inputs_.q.rows());
    t.m = int(inputs_.k.rows());
    t.dk = int(inputs_.q.cols());
    t.dv = int(inputs_.v.cols());
    t.heads = options_.heads;
    t.head.resize(t.heads);
    tm = {};
    const auto s = std::chrono::steady_clock::now();
    computeScores(inputs_, options_, t);
    tm.scoresMs = millisecondsSince(s);
  } else {
    tm.scoresMs = 0;
  }
  t.options = options_;
  if (dirty_ <= Stage::Scale) {
    computeScaleMaskSoftmax(options_, t, tm.scaleMaskMs, tm.softmaxMs);
  } else {
    tm.scaleMaskMs = tm.softmaxMs = 0;
  }
  const auto o = std::chrono::steady_clock::now();
  computeOutput(inputs_, t);
  tm.outputMs = millisecondsSince(o);
  tm.totalMs = millisecondsSince(start);
  dirty_ = Stage::Done;
  return t;
}

AttentionTrace computeAttention(const AttentionInputs& inputs, const AttentionOptions& options) {
  AttentionPipeline pipeline;
  pipeline.setInputs(inputs);
  pipeline.setOptions(options);
  pipeline.run();
  return pipeline.trace();
}

}  // namespace attnviz
