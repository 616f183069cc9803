// One test per crash or invariant violation the fuzzers found; each replays the saved input
// (tests/reliability/regressions/TARGET/NAME, also replayed by fuzz_replay.TARGET) or its
// minimal form, and checks the fixed behaviour.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "matrix_io.hpp"
#include "run_binary.hpp"
#include "session.hpp"
#include "tokens.hpp"

namespace attnviz {
namespace {

std::string regression(const std::string& name) {
  std::ifstream in(std::string(RELIABILITY_DIR) + "/regressions/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

template <typename F>
std::string errorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no attnviz::Error thrown";
  return {};
}

// nlohmann reports a number beyond double as out_of_range 406, not parse_error; it escaped the
// parsers as a foreign exception (and a message naming no file).
TEST(Regression, JsonNumberOverflowIsAnError) {
  EXPECT_EQ(errorOf([] { parseJsonMatrix("[[1, 1e400]]", "m.json"); }),
            "m.json: invalid JSON, number overflow parsing '1e400'");
  EXPECT_NE(errorOf([] { parseJsonMatrix(regression("json_matrix/number-overflow"), "m.json"); }), "");
  EXPECT_EQ(errorOf([] { parseSession("{\"version\": 1, \"options\": {\"temperature\": -1e999}}", "s.json"); }),
            "s.json: invalid JSON, number overflow parsing '-1e999'");
}

// A dtype string holding a newline was quoted raw, breaking the one-line message.
TEST(Regression, NpyDtypeWithControlCharactersStaysOneLine) {
  const std::string message = errorOf([] { parseNpy(regression("npy/newline-in-dtype"), "x.npy"); });
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find("unsupported dtype '<f4\\n"), std::string::npos) << message;
}

// A --tokenizer value (or a session's "tokenizer") holding a newline was quoted raw.
TEST(Regression, TokenizerNameWithControlCharactersStaysOneLine) {
  EXPECT_EQ(errorOf([] { parseTokenizerKind("c\\\n"); }), "unknown tokenizer \"c\\\\n\" (expected words or chars)");
  EXPECT_NE(regression("cli_args/newline-in-tokenizer").find("--tokenizer"), std::string::npos);
}

// heads · cols was computed before cols was bounded: signed overflow (UBSan) for a 3-D header.
TEST(Regression, NpyHugeColumnsDoNotOverflow) {
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 9223372036854775807), }";
  std::string npy = std::string("\x93NUMPY\x01\x00", 8) + char(dict.size()) + char(0) + dict;
  EXPECT_EQ(errorOf([&] { parseNpy(npy, "h.npy"); }),
            "h.npy: 3×9223372036854775807 is above the size limit (65536 rows or columns, 134217728 values)");
}

// "[1]]2[" balanced only in count, and was read as two rows.
TEST(Regression, ClipboardBracketsMustNest) {
  EXPECT_EQ(errorOf([] { parseClipboardMatrix("[1]]2["); }), "clipboard: unbalanced brackets");
  EXPECT_EQ(parseClipboardMatrix("[[1, 2], [3, 4]]").rows(), 2);
}

// from_chars reports underflow as result_out_of_range, and 1e-400 was refused as "infinite".
TEST(Regression, TextUnderflowIsZeroNotInfinite) {
  const Matrix m = parseDelimitedText("1e-400,-1e-400,1e-40\n", "u.csv");
  EXPECT_EQ(m(0, 0), 0.0f);
  EXPECT_EQ(m(0, 1), 0.0f);
  EXPECT_GT(m(0, 2), 0.0f);  // float32 subnormal
  EXPECT_EQ(errorOf([] { parseDelimitedText("1e400\n", "o.csv"); }),
            "o.csv: line 1, column 1: infinite value (only finite numbers are accepted)");
}

// The '+' was stripped before from_chars, which then read "+-1" as -1.
TEST(Regression, TextPlusMinusIsNotANumber) {
  EXPECT_EQ(errorOf([] { parseDelimitedText("1,2\n+-1,2\n", "p.csv"); }), "p.csv: line 2, column 1: \"+-1\" is not a number");
  EXPECT_EQ(parseDelimitedText("+1,-2\n", "p.csv")(0, 0), 1.0f);
}

// A sample name (from --sample) or a session key holding a newline was quoted raw.
TEST(Regression, SampleNameAndSessionKeyStayOneLine) {
  const std::string sample = errorOf([] { loadSample("artic\nles"); });
  EXPECT_EQ(sample.rfind("unknown sample \"artic\\nles\" (known: ", 0), 0u) << sample;
  EXPECT_EQ(errorOf([] { parseSession("{\"version\": 1, \"a\\nb\": 1}", "s.json"); }), "s.json: unknown key \"a\\nb\"");
}

// A --bundle file name holding a newline and control bytes was echoed raw (fuzz_cli_args, base64
// LS1idW5kbGUAYXJ0aWMKDg4ODg4tLXRva2VucwB0Dg5oDg4tDg4OaC0tey0=). Every flag that names a file
// or takes a value, through the real binary: stderr is one line with the text escaped.
TEST(Regression, EveryEchoedNameOrValueStaysOneLine) {
  EXPECT_NE(regression("cli_args/newline-in-bundle-name").find("--bundle"), std::string::npos);
  const std::string nasty = "x\ny\r\x1b[2J\xff\xc2\x9bz";
  const std::string escaped = "x\\ny\\r\\x1B[2J\\xFF\\xC2\\x9Bz";
  testing::TempDir dir;
  const std::vector<std::vector<std::string>> commands = {
      {"compute", "--bundle", dir.file(nasty + ".npz"), "--out", dir.file("o")},
      {"compute", "--session", dir.file(nasty + ".json"), "--out", dir.file("o")},
      {"compute", "--q", dir.file(nasty + ".npy"), "--k", dir.file("k.npy"), "--v", dir.file("v.npy"), "--out", dir.file("o")},
      {"compute", "--sample", nasty, "--out", dir.file("o")},
      {"compute", "--sample", "articles-1d", "--temperature", nasty, "--out", dir.file("o")},
      {"compute", "--model", dir.file(nasty), "--text", "hi", "--out", dir.file("o")},
      {"compute", "--sample", "articles-1d", "--out", dir.file(nasty) + "/sub/o"},  // succeeds: "wrote … to"
      {"export", "--sample", "articles-1d", "--png", dir.file(nasty + ".svg")},
      {"compute", nasty},
      {nasty},
      {"tokenize", "--model", nasty, "--text", "a"},
  };
  for (const auto& args : commands) {
    const testing::RunResult r = testing::runAttnviz(args);
    std::string joined;
    for (const auto& a : args) joined += printable(a) + " ";
    EXPECT_NE(r.exitCode, -1) << joined;
    ASSERT_FALSE(r.stderrText.empty()) << joined;
    EXPECT_EQ(r.stderrText.find('\n'), r.stderrText.size() - 1) << joined << "=> " << r.stderrText;
    EXPECT_EQ(printable(r.stderrText.substr(0, r.stderrText.size() - 1)), r.stderrText.substr(0, r.stderrText.size() - 1))
        << joined << "=> " << r.stderrText;
    EXPECT_NE(r.stderrText.find(escaped), std::string::npos) << joined << "=> " << r.stderrText;
  }
}

}  // namespace
}  // namespace attnviz
