#pragma once
// Floats written to JSON by attnviz (trace.json, sessions, numbers): nlohmann::json stores
// numbers as double, so 0.1f would be written as 0.10000000149011612. Every float goes through
// shortestDecimal first: the double nearest the float's shortest round-trip decimal, which
// nlohmann then prints as that decimal (0.1) and which reads back as the same float.
#include <charconv>

namespace attnviz {

inline double shortestDecimal(float f) {
  char buf[32];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, f);
  double d = f;  // non-finite values keep their value (nlohmann writes them as null)
  if (ec == std::errc()) std::from_chars(buf, ptr, d);
  return d;
}

}  // namespace attnviz
