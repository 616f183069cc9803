#pragma once
// Numbers and text as the views print them: one precision for all the cells of a matrix, no
// "-0.00", sums whose printed terms add up to their printed result, and wrapping that breaks
// only at spaces (Dear ImGui's own wrapping may break after a '.', splitting "8.851").
// Pure functions (no ImGui), so tests can check them directly.
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace attnviz::gui {

// Decimals for every cell of a matrix whose largest |value| is maxAbs: 2 below 10, 1 below
// 100, 0 from there. One rule per matrix, so a column of numbers lines up and reads alike.
inline int cellDecimals(float maxAbs) { return maxAbs >= 100 ? 0 : maxAbs >= 10 ? 1 : 2; }

// v with `decimals` places and a real minus sign; a value that rounds to zero prints without
// a sign ("0.00", never "-0.00").
inline std::string formatFixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s[0] == '-') {
    if (s.find_first_not_of("-0.") == std::string::npos) return s.substr(1);
    s = "\u2212" + s.substr(1);
  }
  return s;
}

// The fewest decimals (3 to 7) at which the terms, each rounded, add up to the rounded result;
// 7 when none does (a sum of float32 values is not exact beyond that).
inline int decimalsThatAddUp(const std::vector<double>& terms, double result) {
  for (int d = 3; d < 7; ++d) {
    const double unit = std::pow(10.0, -d);
    double sum = 0;
    for (double t : terms) sum += std::round(t / unit);
    if (std::fabs(sum - std::round(result / unit)) < 0.5) return d;
  }
  return 7;
}

// Lines of at most `width` (as `measure` sizes them), broken at spaces only; a word wider than
// the line stays whole on its own line.
inline std::vector<std::string> wrapAtSpaces(std::string_view text, float width,
                                             const std::function<float(std::string_view)>& measure) {
  std::vector<std::string> lines;
  std::string line;
  std::size_t i = 0;
  while (i <= text.size()) {
    const std::size_t end = std::min(text.find_first_of(" \n", i), text.size());
    const std::string_view word = text.substr(i, end - i);
    const std::string candidate = line.empty() ? std::string(word) : line + " " + std::string(word);
    if (!line.empty() && measure(candidate) > width) {
      lines.push_back(line);
      line = std::string(word);
    } else {
      line = candidate;
    }
    if (end < text.size() && text[end] == '\n') {
      lines.push_back(line);
      line.clear();
    }
    i = end + 1;
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

}  // namespace attnviz::gui
