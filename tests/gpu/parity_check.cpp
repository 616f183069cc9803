#include "parity_check.hpp"

#include <cmath>
#include <sstream>

namespace attnviz::test {
namespace {

constexpr int kReportedCells = 5;

// Collects the first few mismatches and a count of all of them.
class Mismatches {
 public:
  explicit Mismatches(std::string what) : what_(std::move(what)) {}
  void check(long row, long column, double gpu, double cpu, double allowed) {
    const bool same = (std::isinf(cpu) || std::isinf(gpu)) ? gpu == cpu : std::abs(gpu - cpu) <= allowed;
    if (same && !std::isnan(gpu)) return;
    if (count_++ < kReportedCells)
      detail_ << "\n  " << what_ << "[" << row << ", " << column << "]: gpu " << gpu << ", cpu " << cpu
              << " (|diff| " << std::abs(gpu - cpu) << " > " << allowed << ")";
  }
  std::string report() const {
    if (!count_) return {};
    return what_ + ": " + std::to_string(count_) + " cells differ" + detail_.str() + "\n";
  }

 private:
  std::string what_;
  long count_ = 0;
  std::ostringstream detail_;
};

std::string shapeMismatch(const std::string& what, long gr, long gc, long cr, long cc) {
  if (gr == cr && gc == cc) return {};
  return what + ": gpu is " + std::to_string(gr) + "×" + std::to_string(gc) + ", cpu is " +
         std::to_string(cr) + "×" + std::to_string(cc) + "\n";
}

template <class A, class B>
std::string compareCells(const std::string& what, const A& gpu, const B& cpu, Tolerance tol,
                         const Matrix* bound = nullptr, double boundFactor = 0) {
  if (auto shape = shapeMismatch(what, gpu.rows(), gpu.cols(), cpu.rows(), cpu.cols()); !shape.empty())
    return shape;
  Mismatches mismatches(what);
  for (long i = 0; i < cpu.rows(); ++i)
    for (long j = 0; j < cpu.cols(); ++j) {
      double allowed = tol.absolute + tol.relative * std::abs(double(cpu(i, j)));
      if (bound) allowed += boundFactor * (*bound)(i, j);
      mismatches.check(i, j, gpu(i, j), cpu(i, j), allowed);
    }
  return mismatches.report();
}

// |Q_h|·|K_h|ᵀ: the size of the terms summed into each score, which bounds its rounding
// error whatever order the sum is taken in (cosine rows are unit length: the bound is 1·1).
Matrix scoreMagnitudes(const AttentionInputs& in, const AttentionOptions& opt, int h, int dkh) {
  if (opt.score == ScoreFunction::Cosine)
    return Matrix::Ones(in.q.rows(), in.k.rows());
  return in.q.middleCols(h * dkh, dkh).cwiseAbs() * in.k.middleCols(h * dkh, dkh).cwiseAbs().transpose();
}

}  // namespace

std::string compareMatrices(const char* what, const Matrix& gpu, const Matrix& cpu, Tolerance tolerance) {
  return compareCells(what, gpu, cpu, tolerance);
}

std::string compareTraces(const AttentionTrace& gpu, const AttentionTrace& cpu, const AttentionInputs& in) {
  std::string report;
  if (gpu.n != cpu.n || gpu.m != cpu.m || gpu.dk != cpu.dk || gpu.dv != cpu.dv || gpu.heads != cpu.heads)
    return "trace shapes differ\n";
  if (gpu.head.size() != cpu.head.size()) return "head counts differ\n";
  // Summation order differs from Eigen's: a few float ulps of the summed magnitudes.
  const double scoreUlps = 4 * std::sqrt(double(std::max(gpu.headKeyWidth(), 1))) * 6e-8;
  for (int h = 0; h < gpu.heads; ++h) {
    const HeadTrace& g = gpu.head[h];
    const HeadTrace& c = cpu.head[h];
    const std::string head = "head " + std::to_string(h) + " ";
    const Matrix magnitude = scoreMagnitudes(in, cpu.options, h, gpu.headKeyWidth());
    const Matrix scaledMagnitude = magnitude * std::abs(c.scale);
    if (g.scale != c.scale) report += head + "scale differs\n";
    report += compareCells(head + "scores", g.scores, c.scores, {1e-6, 0}, &magnitude, scoreUlps);
    report += compareCells(head + "scaled", g.scaled, c.scaled, {1e-6, 0}, &scaledMagnitude, scoreUlps);
    report += compareCells(head + "masked", g.masked, c.masked, {1e-6, 0}, &scaledMagnitude, scoreUlps);
    report += compareCells(head + "expValues", g.expValues, c.expValues, kWeightTolerance);
    report += compareCells(head + "weights", g.weights, c.weights, kWeightTolerance);
    report += compareCells(head + "output", g.output, c.output, kOutputTolerance);
    const auto column = [](const auto& v) { return Eigen::MatrixXf(v.template cast<float>()); };
    const Matrix rowMagnitude = scaledMagnitude.rowwise().maxCoeff();
    report += compareCells(head + "rowMax", column(g.rowMax), column(c.rowMax), {1e-6, 0}, &rowMagnitude, scoreUlps);
    report += compareCells(head + "rowSum", column(g.rowSum), column(c.rowSum), {1e-5, 1e-5});
    report += compareCells(head + "entropy", column(g.stats.entropy), column(c.stats.entropy), {1e-4, 1e-5});
    report += compareCells(head + "maxWeight", column(g.stats.maxWeight), column(c.stats.maxWeight), kWeightTolerance);
    Mismatches argmax(head + "argmax");
    for (int i = 0; i < cpu.n; ++i) {
      const int ga = g.stats.argmax(i), ca = c.stats.argmax(i);
      if (ga == ca) continue;
      // Near-ties may resolve differently; the weights there must agree, not the index.
      const bool tie = ga >= 0 && ca >= 0 && std::abs(c.weights(i, ga) - c.weights(i, ca)) <= 2e-5;
      if (!tie) argmax.check(i, 0, ga, ca, 0);
    }
    report += argmax.report();
    if (g.stats.fullyMasked != c.stats.fullyMasked) report += head + "fullyMasked flags differ\n";
  }
  report += compareCells("concatenated", gpu.concatenated, cpu.concatenated, kOutputTolerance);
  return report;
}

}  // namespace attnviz::test
