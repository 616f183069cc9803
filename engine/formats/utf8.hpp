#pragma once
// UTF-8 for tokens, labels and fonts: one decoder, strict or lenient.
#include <string>
#include <string_view>
#include <vector>

namespace attnviz {

// Code points of `utf8`; throws Error("invalid UTF-8 at byte N") on a stray byte, a truncated
// or overlong sequence, a surrogate or a value above U+10FFFF.
std::vector<char32_t> decodeUtf8(std::string_view utf8);

// The same, but each invalid byte becomes U+FFFD (for drawing text that was never validated).
std::u32string decodeUtf8Lenient(std::string_view utf8);

void appendUtf8(std::string& out, char32_t c);
std::string encodeUtf8(std::u32string_view text);

}  // namespace attnviz
