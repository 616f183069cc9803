#pragma once
// Builders for the small (and deliberately broken) input files the reliability tests need.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace attnviz::testing {

// A .npy file with the given header dict (padded as NumPy pads it) and raw data bytes.
inline std::string npyWithHeader(std::string dict, const std::string& data, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  dict.append((64 - (prefix + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  std::string out("\x93NUMPY", 6);
  out += char(major);
  out += char(0);
  const std::uint32_t len = std::uint32_t(dict.size());
  out += char(len & 0xFF);
  out += char((len >> 8) & 0xFF);
  if (major != 1) {
    out += char((len >> 16) & 0xFF);
    out += char(len >> 24);
  }
  return out + dict + data;
}

inline std::string npyDict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
}

inline std::string floatBytes(const std::vector<float>& values) {
  std::string out(values.size() * sizeof(float), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

}  // namespace attnviz::testing
