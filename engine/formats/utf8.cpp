#include "utf8.hpp"

#include "types.hpp"

namespace attnviz {
namespace {

// Decodes the sequence starting at s[i]; returns its length, or 0 when it is invalid.
int decodeOne(std::string_view s, std::size_t i, char32_t& c) {
  const auto b = static_cast<unsigned char>(s[i]);
  const int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < len; ++k) {
    const auto cont = static_cast<unsigned char>(s[i + k]);
    if ((cont & 0xC0) != 0x80) return 0;
    c = (c << 6) | (cont & 0x3F);
  }
  // Overlong forms and surrogates are as invalid as stray bytes.
  const bool overlong = (len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000);
  if (overlong || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  return len;
}

void appendByteEscape(std::string& out, unsigned char byte) {
  out += "\\x";
  out += "0123456789ABCDEF"[byte >> 4];
  out += "0123456789ABCDEF"[byte & 15];
}

}  // namespace

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b == '\n') { out += "\\n"; ++i; continue; }
    if (b == '\r') { out += "\\r"; ++i; continue; }
    if (b == '\t') { out += "\\t"; ++i; continue; }
    if (b < 0x20 || b == 0x7F) { appendByteEscape(out, b); ++i; continue; }
    if (b < 0x80) { out += char(b); ++i; continue; }
    char32_t c = 0;
    const int len = decodeOne(s, i, c);
    if (len == 0 || (c >= 0x80 && c <= 0x9F)) {
      // An invalid byte is escaped alone so that the valid text after it survives; a C1
      // control is escaped as its two bytes.
      const int n = len == 0 ? 1 : len;
      for (int k = 0; k < n; ++k) appendByteEscape(out, static_cast<unsigned char>(s[i + k]));
      i += std::size_t(n);
      continue;
    }
    out.append(s.substr(i, std::size_t(len)));
    i += std::size_t(len);
  }
  return out;
}

std::vector<char32_t> decodeUtf8(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char32_t c = 0;
    const int len = decodeOne(s, i, c);
    if (len == 0) throw Error("invalid UTF-8 at byte " + std::to_string(i));
    out.push_back(c);
    i += std::size_t(len);
  }
  return out;
}

std::u32string decodeUtf8Lenient(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char32_t c = 0;
    const int len = decodeOne(s, i, c);
    out.push_back(len ? c : char32_t(0xFFFD));
    i += std::size_t(len ? len : 1);
  }
  return out;
}

void appendUtf8(std::string& out, char32_t c) {
  if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = 0xFFFD;  // not a scalar value: never invalid UTF-8
  if (c < 0x80) {
    out += char(c);
  } else if (c < 0x800) {
    out += char(0xC0 | (c >> 6));
    out += char(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += char(0xE0 | (c >> 12));
    out += char(0x80 | ((c >> 6) & 0x3F));
    out += char(0x80 | (c & 0x3F));
  } else {
    out += char(0xF0 | (c >> 18));
    out += char(0x80 | ((c >> 12) & 0x3F));
    out += char(0x80 | ((c >> 6) & 0x3F));
    out += char(0x80 | (c & 0x3F));
  }
}

std::string encodeUtf8(std::u32string_view text) {
  std::string out;
  for (const char32_t c : text) appendUtf8(out, c);
  return out;
}

}  // namespace attnviz
