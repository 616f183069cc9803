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

// A user-facing failure: what() is one line that names the file/matrix and the place.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Text from the input quoted in an Error, control characters escaped as \xNN so that the
// message stays one line. Defined in matrix_io.cpp.
std::string printable(std::string_view text);

// Documented size limits, checked before allocating.
inline constexpr long kMaxDimension = 65536;          // rows or columns of any input matrix
inline constexpr long kMaxMatrixElements = 1L << 27;  // 128 Mi elements (512 MiB float32) per input
inline constexpr long kMaxSequenceLength = 16384;     // n or m of an attention trace
inline constexpr long kMaxTraceElements = 1L << 28;   // heads·n·m: the trace keeps ~5 such matrices

}  // namespace attnviz
