#pragma once
// The one layout for numbers (README "File formats"): what `attnviz compute --out DIR` and the
// app's File ▸ Export numbers both write, from the trace they hold.
//
//   q, k, v          [H, n or m, d_head]   the inputs split into heads
//   <stage name>     one file per stage of the registry (stages.hpp) the trace has:
//                    [H, n, m] · row_sum [H, n] · output [H, n, d_v/H] · projected [n, d_out]
//   trace.json       shapes, options (scale stated once), per-row statistics, backend, timings
//   tokens.json      token mode: the query and key tokens
//
// .npy files hold these shapes; CSV files hold the same C-order numbers with the head axis
// stacked (H·n rows).
#include <string>

#include "attention.hpp"
#include "session.hpp"

namespace attnviz {

enum class NumbersFormat { Npy, Csv };
NumbersFormat parseNumbersFormat(const std::string& name);  // "npy" | "csv"; throws Error

struct NumbersSource {
  std::string name;                   // the session's name ("" when none)
  InputMode mode = InputMode::Matrices;
  std::string backend;                // which backend computed the trace
  const TokenModel* tokens = nullptr;  // token mode
};

// Writes every file above into `directory` (created when missing), each atomically. Returns
// how many files were written. Throws Error naming the path.
int writeNumbers(const std::string& directory, const AttentionTrace& trace, const AttentionInputs& inputs,
                 const NumbersSource& source, NumbersFormat format);

}  // namespace attnviz
