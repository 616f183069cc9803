#pragma once
// Core value types shared by every part of attnviz. Row-major throughout: matrices are handed
// to GL as-is and written to .npy in C order.
#include <Eigen/Core>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace attnviz {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXf;
using IndexVector = Eigen::VectorXi;
// 1 = the query may attend to the key, 0 = masked (PyTorch SDPA boolean-mask convention).
using MaskMatrix = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Whether every value is finite, in one vectorised pass: a NaN or ±∞ times 0 is NaN, and a NaN
// carries through the sum. (Eigen's allFinite() tests value by value: it took an eighth of
// attention at n = 128.)
template <typename Derived>
bool allFinite(const Eigen::DenseBase<Derived>& m) {
  using Scalar = typename Derived::Scalar;
  const Scalar sum = (m.derived().array() * Scalar(0)).sum();
  return sum == sum;
}

// Σ term(j) for j < n, in eight interleaved double sums: a single sum waits on every addition,
// and Eigen does not vectorise a float-to-double reduction (the norms were scalar loops).
template <typename Term>
double interleavedSum(long n, Term term) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const long full = n / 8 * 8;
  for (long j0 = 0; j0 < full; j0 += 8)
    for (int l = 0; l < 8; ++l) lane[l] += term(j0 + l);
  for (long j = full; j < n; ++j) lane[j - full] += term(j);
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// Σ term(v_j) over n floats, in double.
template <typename Term>
double interleavedSumInDouble(const float* v, long n, Term term) {
  return interleavedSum(n, [&](long j) { return term(double(v[j])); });
}

// Σ a_j·b_j over n floats, in double: each product of two floats is exact in double, so only
// the additions round.
inline double interleavedDotInDouble(const float* a, const float* b, long n) {
  return interleavedSum(n, [&](long j) { return double(a[j]) * double(b[j]); });
}

// The one rule for text that came from outside (file names, option values, tokens, JSON keys,
// file contents) on its way into a message: the result is one line of valid UTF-8 that cannot
// move a terminal. \n, \r and \t are written as such; every other C0 control, DEL, C1 control
// (U+0080..U+009F, which terminals also obey) and byte that is not part of valid UTF-8 is
// written as \xNN, one per byte. Valid UTF-8 otherwise passes unchanged. A backslash is kept as
// it is, so applying the function twice changes nothing: messages may be escaped where they are
// built and again where they are shown. Defined in utf8.cpp.
std::string printable(std::string_view text);

// A user-facing failure: what() is one line that names the file/matrix and the place. The
// message goes through printable(), so no input quoted in it can break the line.
class Error : public std::runtime_error {
 public:
  explicit Error(std::string_view what) : std::runtime_error(printable(what)) {}
  explicit Error(const char* what) : Error(std::string_view(what)) {}
  explicit Error(const std::string& what) : Error(std::string_view(what)) {}
};

// Documented size limits, checked before allocating.
inline constexpr long kMaxDimension = 65536;          // rows or columns of any input matrix
inline constexpr long kMaxMatrixElements = 1L << 27;  // 128 Mi elements (512 MiB float32) per input
inline constexpr long kMaxSequenceLength = 16384;     // n or m of an attention trace
inline constexpr long kMaxTraceElements = 1L << 28;   // heads·n·m: the trace keeps ~5 such matrices

}  // namespace attnviz
