#pragma once
// The parity harness: compares a GPU trace (or flash output) with the CPU engine element by
// element with tolerance abs + rel·|ref| and names the first differing indices.
#include <string>

#include "attention.hpp"

namespace attnviz::test {

struct Tolerance {
  double absolute = 0;
  double relative = 0;
};

inline constexpr Tolerance kWeightTolerance{1e-5, 0};
inline constexpr Tolerance kOutputTolerance{1e-5, 1e-4};

// Empty when every stage of `gpu` matches `cpu`; otherwise what differs and where (the first
// few indices per stage). `inputs` bound the expected rounding of the score stages.
std::string compareTraces(const AttentionTrace& gpu, const AttentionTrace& cpu, const AttentionInputs& inputs);

// Empty when `gpu` matches `cpu` within `tolerance`, else the first differing cells of `what`.
std::string compareMatrices(const char* what, const Matrix& gpu, const Matrix& cpu, Tolerance tolerance);

}  // namespace attnviz::test
