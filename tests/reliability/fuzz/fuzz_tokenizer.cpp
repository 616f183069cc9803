// The tokenizer in both modes (the first byte picks the mode). Every token must be non-empty,
// valid UTF-8 and free of whitespace, and the tokens must be exactly the input's non-space
// code points in order.
#include "fuzz_common.hpp"
#include "tokens.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto kind = (data[0] & 1) ? attnviz::TokenizerKind::Chars : attnviz::TokenizerKind::Words;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string> tokens;
  try {
    tokens = attnviz::tokenize(text, kind);
  } catch (const attnviz::Error& e) {
    attnviz::fuzz::checkError(e);
    return 0;
  }
  try {
    std::u32string joined;
    for (const std::string& t : tokens) {
      if (t.empty()) attnviz::fuzz::violated("empty token");
      const std::vector<char32_t> cps = attnviz::decodeUtf8(t);
      if (kind == attnviz::TokenizerKind::Chars && cps.size() != 1) attnviz::fuzz::violated("chars token is not one code point");
      joined.append(cps.begin(), cps.end());
    }
    std::u32string expected;
    for (char32_t c : attnviz::decodeUtf8(text)) {
      const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x85 ||
                         c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
                         c == 0x202F || c == 0x205F || c == 0x3000;
      if (!space) expected += c;
    }
    if (joined != expected) attnviz::fuzz::violated("tokens lost or invented characters");
  } catch (const attnviz::Error& e) {
    attnviz::fuzz::violated("valid input produced an invalid UTF-8 token:", e.what());
  }
  return 0;
}
