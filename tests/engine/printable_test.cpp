// The one-line rule: every message that quotes outside text (file names, option values, tokens,
// JSON keys) is one line of valid UTF-8 that cannot move a terminal, because that text goes
// through printable(), and Error applies it to every message it is given.
#include <gtest/gtest.h>

#include <string>

#include "types.hpp"
#include "utf8.hpp"

namespace attnviz {
namespace {

bool isOneSafeLine(const std::string& s) {
  for (const unsigned char c : s)
    if (c < 0x20 || c == 0x7F) return false;
  try {
    decodeUtf8(s);
  } catch (const Error&) {
    return false;
  }
  return s.find("\xC2\x85") == std::string::npos && s.find("\xC2\x9B") == std::string::npos;
}

TEST(OneLineRule, NamedEscapesForNewlineReturnAndTab) {
  EXPECT_EQ(printable("a\nb\rc\td"), "a\\nb\\rc\\td");
}

TEST(OneLineRule, OtherControlsAndDeleteAsHexBytes) {
  EXPECT_EQ(printable(std::string("x\x1b[2Jy\x7f\x01", 8)), "x\\x1B[2Jy\\x7F\\x01");
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
}

TEST(OneLineRule, InvalidUtf8EscapedBytewiseValidTextKept) {
  // A stray continuation byte, a truncated sequence, an overlong '/', a surrogate.
  EXPECT_EQ(printable("a\x80z"), "a\\x80z");
  EXPECT_EQ(printable("\xE2\x82"), "\\xE2\\x82");
  EXPECT_EQ(printable("\xC0\xAF"), "\\xC0\\xAF");
  EXPECT_EQ(printable("\xED\xA0\x80"), "\\xED\\xA0\\x80");
  EXPECT_EQ(printable("caf\xC3\xA9 \xE6\x96\x87 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xE6\x96\x87 \xF0\x9F\x98\x80");
}

TEST(OneLineRule, C1ControlsEscaped) {
  // U+009B is a one-character CSI to terminals that honour C1.
  EXPECT_EQ(printable("a\xC2\x9B" "2Jb"), "a\\xC2\\x9B2Jb");
  EXPECT_EQ(printable("\xC2\xA0"), "\xC2\xA0");  // U+00A0 is text, not a control
}

TEST(OneLineRule, IdempotentSoMessagesMayBeEscapedTwice) {
  const std::string nasty = std::string("dir\\x/\n\r\x1b[2J\xff\xC2\x85.npz");
  EXPECT_EQ(printable(printable(nasty)), printable(nasty));
  EXPECT_TRUE(isOneSafeLine(printable(nasty)));
}

TEST(OneLineRule, EveryErrorIsOneLine) {
  const std::string name = "a\nb\r\x1b[2J\xfe.npy";
  const Error e("cannot open " + name + ": no such file");
  EXPECT_TRUE(isOneSafeLine(e.what())) << e.what();
  EXPECT_EQ(std::string(e.what()), "cannot open a\\nb\\r\\x1B[2J\\xFE.npy: no such file");
}

}  // namespace
}  // namespace attnviz
