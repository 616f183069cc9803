#pragma once
// Invariants every parser fuzz target checks beyond "no crash": a parse either throws
// attnviz::Error with a one-line message, or returns a matrix that is non-empty, within the
// documented limits and entirely finite. Any other exception escapes LLVMFuzzerTestOneInput,
// which libFuzzer reports as a crash (uncaught exception → abort).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "types.hpp"

namespace attnviz::fuzz {

[[noreturn]] inline void violated(const char* what, const char* detail = "") {
  std::fprintf(stderr, "invariant violated: %s %s\n", what, detail);
  std::abort();
}

inline void checkMatrix(const Matrix& m) {
  if (m.rows() < 1 || m.cols() < 1) violated("empty matrix returned");
  if (m.rows() > kMaxDimension || m.cols() > kMaxDimension || m.size() > kMaxMatrixElements)
    violated("matrix above the size limits returned");
  if (!m.allFinite()) violated("non-finite value returned");
}

inline void checkError(const Error& e) {
  const std::string_view what = e.what();
  if (what.empty()) violated("empty error message");
  if (what.find('\n') != std::string_view::npos) violated("error message is not one line:", e.what());
}

// Runs `parse`; Error is an accepted outcome, anything else propagates.
template <typename F>
void parseOrError(F&& parse) {
  try {
    parse();
  } catch (const Error& e) {
    checkError(e);
  }
}

}  // namespace attnviz::fuzz
