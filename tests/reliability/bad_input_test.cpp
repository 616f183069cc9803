// The bad-input table (README.md), row by row: each case runs the real attnviz binary
// in a scratch directory (so paths in messages are short and stable) and checks the exit code
// and the exact one-line message. A last test checks that every message here appears verbatim
// in README.md, so the table cannot drift from what attnviz prints.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "matrix_io.hpp"
#include "run_binary.hpp"
#include "test_files.hpp"

namespace attnviz::testing {
namespace {

struct BadInput {
  const char* id;  // the README.md row
  std::function<void(const TempDir&)> setup;
  std::vector<std::string> args;
  int exitCode;
  std::string message;  // stderr, without the trailing newline
};

const std::string kQ = "1,0\n0,1\n", kK = "1,0\n0,1\n", kV = "1,2\n3,4\n";

void writeQkv(const TempDir& d) {
  d.write("q.csv", kQ);
  d.write("k.csv", kK);
  d.write("v.csv", kV);
}

std::vector<std::string> compute(std::vector<std::string> input) {
  std::vector<std::string> args{"compute"};
  args.insert(args.end(), input.begin(), input.end());
  args.insert(args.end(), {"--out", "out"});
  return args;
}

const std::vector<std::string> kQkvArgs{"--q", "q.csv", "--k", "k.csv", "--v", "v.csv"};

// Q, K, V as CSV, with one of them replaced.
std::function<void(const TempDir&)> withFile(std::string name, std::string bytes) {
  return [name, bytes](const TempDir& d) {
    writeQkv(d);
    d.write(name, bytes);
  };
}

std::vector<std::string> qkvWith(const std::string& flag, const std::string& file) {
  std::vector<std::string> a = kQkvArgs;
  for (size_t i = 0; i + 1 < a.size(); i += 2)
    if (a[i] == flag) a[i + 1] = file;
  return compute(a);
}

std::string session(const std::string& fields) {
  return "{\"format\": \"attnviz-session\", " + fields +
         ", \"mode\": \"tokens\", \"tokens\": {\"text\": \"a b\"}}";
}

const std::vector<BadInput>& cases() {
  static const std::vector<BadInput> table = {
      // Shapes
      {"wrong shape (Q/K columns)", withFile("k.csv", "1,0,0\n0,1,0\n"), compute(kQkvArgs), 1,
       "attnviz compute: Q is 2×2 but K is 2×3: Q and K need the same number of columns (d_k)"},
      {"wrong shape (K/V rows)", withFile("v.csv", "1,2\n3,4\n5,6\n"), compute(kQkvArgs), 1,
       "attnviz compute: K is 2×2 but V is 3×2: K and V need the same number of rows (m)"},
      {"heads do not divide d_k", writeQkv, compute({"--q", "q.csv", "--k", "k.csv", "--v", "v.csv", "--heads", "3"}), 1,
       "attnviz compute: d_k = 2 does not divide into 3 heads"},
      {"mask of the wrong shape", withFile("mask.csv", "1,0,1\n"), compute({"--q", "q.csv", "--k", "k.csv", "--v", "v.csv", "--mask", "mask.csv"}), 1,
       "attnviz compute: the mask is 1×3 but attention is 2×2 (n×m)"},
      {"mask value not 0/1", withFile("mask.csv", "1,0.5\n1,1\n"), compute({"--q", "q.csv", "--k", "k.csv", "--v", "v.csv", "--mask", "mask.csv"}), 1,
       "attnviz compute: mask.csv: mask value at [0, 1] is 0.500000 (a mask holds 1 = attend or 0 = masked)"},
      // Text cells
      {"ragged rows", withFile("q.csv", "1,2,3\n4,5\n"), qkvWith("--q", "q.csv"), 1,
       "attnviz compute: q.csv: line 2: 2 values, but line 1 has 3 (rows must all have the same length)"},
      {"NaN in text", withFile("q.csv", "1,2\nnan,4\n"), qkvWith("--q", "q.csv"), 1,
       "attnviz compute: q.csv: line 2, column 1: NaN (only finite numbers are accepted)"},
      {"Inf in text", withFile("q.csv", "1,2\n3,-inf\n"), qkvWith("--q", "q.csv"), 1,
       "attnviz compute: q.csv: line 2, column 2: infinite value (only finite numbers are accepted)"},
      {"number beyond float32", withFile("q.csv", "1,2\n3,1e39\n"), qkvWith("--q", "q.csv"), 1,
       "attnviz compute: q.csv: line 2, column 2: infinite value (only finite numbers are accepted)"},
      {"non-numeric cell", withFile("q.csv", "1,2\n3,abc\n"), qkvWith("--q", "q.csv"), 1,
       "attnviz compute: q.csv: line 2, column 2: \"abc\" is not a number"},
      {"empty cell", withFile("q.csv", "1,2\n,4\n"), qkvWith("--q", "q.csv"), 1,
       "attnviz compute: q.csv: line 2, column 1: empty cell"},
      {"empty file", withFile("q.csv", ""), qkvWith("--q", "q.csv"), 1,
       "attnviz compute: q.csv: no numbers found (empty file or only a header)"},
      {"header only", withFile("q.csv", "a,b\n"), qkvWith("--q", "q.csv"), 1,
       "attnviz compute: q.csv: no numbers found (empty file or only a header)"},
      // .npy
      {"NaN in .npy", withFile("q.npy", npyWithHeader(npyDict("<f4", "(2, 2)"), floatBytes({1, NAN, 0, 1}))),
       qkvWith("--q", "q.npy"), 1, "attnviz compute: q.npy: [0, 1] is NaN (only finite numbers are accepted)"},
      {"truncated .npy data", withFile("q.npy", npyWithHeader(npyDict("<f4", "(2, 3)"), floatBytes({1, 2}))),
       qkvWith("--q", "q.npy"), 1,
       "attnviz compute: q.npy: byte 136: truncated .npy data (expected 24 bytes of data, found 8)"},
      {"truncated .npy header", withFile("q.npy", npyWithHeader(npyDict("<f4", "(2, 3)"), "").substr(0, 40)),
       qkvWith("--q", "q.npy"), 1, "attnviz compute: q.npy: byte 10: truncated .npy header"},
      {"not a .npy file", withFile("q.npy", "1,0\n0,1\n"), qkvWith("--q", "q.npy"), 1,
       "attnviz compute: q.npy: byte 0: not a .npy file (missing the \\x93NUMPY magic)"},
      {"unsupported dtype", withFile("q.npy", npyWithHeader(npyDict("<c8", "(2, 2)"), std::string(32, '\0'))),
       qkvWith("--q", "q.npy"), 1,
       "attnviz compute: q.npy: unsupported dtype '<c8' (expected float32 '<f4' or float64 '<f8')"},
      {"big-endian dtype", withFile("q.npy", npyWithHeader(npyDict(">f4", "(2, 2)"), std::string(16, '\0'))),
       qkvWith("--q", "q.npy"), 1,
       "attnviz compute: q.npy: big-endian dtype '>f4' is not supported (use little-endian float32/float64)"},
      {"Fortran-order .npy", withFile("q.npy", npyWithHeader(npyDict("<f4", "(2, 2)", true), floatBytes({1, 0, 0, 1}))),
       qkvWith("--q", "q.npy"), 1,
       "attnviz compute: q.npy: Fortran-order (column-major) arrays are not supported; save np.ascontiguousarray(a)"},
      {"4-D .npy", withFile("q.npy", npyWithHeader(npyDict("<f4", "(1, 1, 2, 2)"), floatBytes({1, 0, 0, 1}))),
       qkvWith("--q", "q.npy"), 1,
       "attnviz compute: q.npy: 4-D array (expected 2-D [rows, cols] or 3-D [heads, rows, cols])"},
      {"huge declared size", withFile("q.npy", npyWithHeader(npyDict("<f4", "(100000, 100000)"), "")),
       qkvWith("--q", "q.npy"), 1,
       "attnviz compute: q.npy: 100000×100000 is above the size limit (65536 rows or columns, 134217728 values)"},
      {"huge declared size (3-D)", withFile("q.npy", npyWithHeader(npyDict("<f4", "(65536, 65536, 9223372036854775807)"), "")),
       qkvWith("--q", "q.npy"), 1,
       "attnviz compute: q.npy: 65536×9223372036854775807 is above the size limit (65536 rows or columns, 134217728 values)"},
      {"declared size beyond a size_t", withFile("q.npy", npyWithHeader(npyDict("<f4", "(99999999999999999999, 2)"), "")),
       qkvWith("--q", "q.npy"), 1, "attnviz compute: q.npy: .npy header 'shape' holds something other than a size"},
      // JSON
      {"invalid JSON", withFile("q.json", "[[1, 2], [3,"), qkvWith("--q", "q.json"), 1,
       "attnviz compute: q.json: byte 12: invalid JSON, unexpected end of input"},
      {"JSON cell not a number", withFile("q.json", "[[1, 2], [\"x\", 4]]"), qkvWith("--q", "q.json"), 1,
       "attnviz compute: q.json: [1][0] is not a number"},
      {"JSON number beyond float32", withFile("q.json", "[[1, 2], [3, 1e39]]"), qkvWith("--q", "q.json"), 1,
       "attnviz compute: q.json: [1][1] is not a finite float32"},
      {"JSON number beyond float64", withFile("q.json", "[[1, 2], [3, 1e400]]"), qkvWith("--q", "q.json"), 1,
       "attnviz compute: q.json: invalid JSON, number overflow parsing '1e400'"},
      // Text in token mode
      {"invalid UTF-8", nullptr, compute({"--tokens", "ab\xff"}), 1,
       "attnviz compute: the target text: invalid UTF-8 at byte 2"},
      {"invalid UTF-8 (truncated sequence)", nullptr, compute({"--tokens", "ok", "--source", "caf\xc3"}), 1,
       "attnviz compute: the source text: invalid UTF-8 at byte 3"},
      {"no tokens", nullptr, compute({"--tokens", "  \t "}), 1, "attnviz compute: the target text has no tokens"},
      // Sessions
      {"unknown session version", [](const TempDir& d) { d.write("s.json", session("\"version\": 0")); },
       compute({"--session", "s.json"}), 1, "attnviz compute: s.json: unknown session version 0"},
      {"newer session version", [](const TempDir& d) { d.write("s.json", session("\"version\": 3")); },
       compute({"--session", "s.json"}), 1,
       "attnviz compute: s.json: session version 3 is newer than this attnviz (reads up to 2); update attnviz"},
      {"missing session version", [](const TempDir& d) { d.write("s.json", session("\"name\": \"x\"")); },
       compute({"--session", "s.json"}), 1,
       "attnviz compute: s.json: missing integer \"version\" (this attnviz reads version 2)"},
      {"unknown session key", [](const TempDir& d) { d.write("s.json", session("\"version\": 1, \"colour\": 1")); },
       compute({"--session", "s.json"}), 1, "attnviz compute: s.json: unknown key \"colour\""},
      {"invalid UTF-8 in a session", [](const TempDir& d) { d.write("s.json", session("\"version\": 1, \"name\": \"\xff\"")); },
       compute({"--session", "s.json"}), 1,
       "attnviz compute: s.json: byte 53: invalid JSON, invalid string: ill-formed UTF-8 byte"},
      // Files
      {"missing file", writeQkv, qkvWith("--q", "nope.csv"), 1,
       "attnviz compute: nope.csv: cannot open (No such file or directory)"},
      {"directory as input", [](const TempDir& d) { writeQkv(d); std::filesystem::create_directory(d.file("dir")); },
       qkvWith("--q", "dir"), 1, "attnviz compute: dir: is a directory, not a file"},
      {"unknown sample", nullptr, compute({"--sample", "nope"}), 1, ""},  // the list of samples follows; prefix checked
      // Usage (exit 2)
      {"unknown option", writeQkv, compute({"--q", "q.csv", "--k", "k.csv", "--v", "v.csv", "--colour", "red"}), 2,
       "attnviz compute: unknown option --colour (see attnviz compute --help)"},
      {"missing value", nullptr, {"compute", "--out", "out", "--tokens"}, 2,
       "attnviz compute: --tokens needs a value (see attnviz compute --help)"},
      {"temperature not > 0", nullptr, compute({"--tokens", "a b", "--temperature", "0"}), 2,
       "attnviz compute: --temperature must be > 0 (see attnviz compute --help)"},
      // Extreme values that float32 cannot hold are refused; everything it holds computes (below)
      {"temperature below float32", nullptr, compute({"--tokens", "a b", "--temperature", "1e-50"}), 2,
       "attnviz compute: --temperature 1e-50 is below float32's smallest positive value (1.4e-45) (see attnviz compute --help)"},
      {"scale beyond float32", nullptr, compute({"--tokens", "a b", "--scale", "-1e39"}), 2,
       "attnviz compute: --scale -1e39 is beyond float32's range (±3.4e38) (see attnviz compute --help)"},
      // Enumerated options: one sentence listing the values
      {"unknown score function", nullptr, compute({"--tokens", "a b", "--score", "softmax"}), 2,
       "attnviz compute: --score: unknown value \"softmax\" (expected scaled, dot or cosine) (see attnviz compute --help)"},
      {"unknown mask name", nullptr, compute({"--tokens", "a b", "--mask", "triangular"}), 2,
       "attnviz compute: --mask: unknown value \"triangular\" (expected none, causal or causal-top-left, or a mask file "
       "such as mask.csv) (see attnviz compute --help)"},
      {"unknown backend", nullptr, compute({"--tokens", "a b", "--backend", "tpu"}), 2,
       "attnviz compute: --backend: unknown value \"tpu\" (expected cpu or gpu) (see attnviz compute --help)"},
      {"non-numeric option", nullptr, compute({"--tokens", "a b", "--heads", "two"}), 2,
       "attnviz compute: --heads expects an integer, got \"two\" (see attnviz compute --help)"},
      {"incomplete matrix input", writeQkv, compute({"--q", "q.csv", "--k", "k.csv"}), 2,
       "attnviz compute: matrix input needs all three of --q, --k and --v (see attnviz compute --help)"},
      // Output
      {"unwritable output (not a directory)", [](const TempDir& d) { d.write("file.txt", "x"); },
       {"compute", "--tokens", "a b", "--out", "file.txt/out"}, 1,
       "attnviz compute: cannot create file.txt/out: Not a directory"},
  };
  return table;
}

std::string firstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

TEST(BadInput, EveryRowExitsWithItsMessage) {
  for (const BadInput& c : cases()) {
    SCOPED_TRACE(c.id);
    TempDir dir;
    if (c.setup) c.setup(dir);
    const RunResult r = runAttnviz(c.args, {.cwd = dir.path()});
    ASSERT_FALSE(r.execFailed) << "could not start " << ATTNVIZ_BIN;
    EXPECT_EQ(r.signal, 0) << r.stderrText;
    EXPECT_EQ(r.exitCode, c.exitCode) << r.stderrText;
    if (c.message.empty()) {
      EXPECT_EQ(r.stderrText.rfind("attnviz compute: unknown sample \"nope\" (known: ", 0), 0u) << r.stderrText;
    } else {
      EXPECT_EQ(r.stderrText, c.message + "\n");
    }
    // One line, and no half-written output: a failed compute leaves no out/ files behind.
    EXPECT_EQ(r.stderrText.find('\n'), r.stderrText.size() - 1) << r.stderrText;
    if (std::filesystem::is_directory(dir.file("out")))
      EXPECT_TRUE(std::filesystem::is_empty(dir.file("out")));
  }
}

// Root ignores permission bits, so as root the child drops to nobody first.
TEST(BadInput, UnwritableOutputDirectory) {
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  std::filesystem::create_directory(dir.file("ro"));
  ::chmod(dir.file("ro").c_str(), 0555);
  // A copy of the binary in the temporary directory, so that nobody can run it wherever the
  // build tree is (a checkout under /root is not readable by nobody).
  std::filesystem::copy_file(ATTNVIZ_BIN, dir.file("attnviz"));
  ::chmod(dir.file("attnviz").c_str(), 0755);
  const RunResult r = runAttnviz({"compute", "--tokens", "a b", "--out", "ro"},
                                 {.cwd = dir.path(), .dropRoot = true, .binary = dir.file("attnviz")});
  ASSERT_FALSE(r.execFailed) << "cannot run a copy of " << ATTNVIZ_BIN << " as nobody";
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.stderrText, "attnviz compute: cannot write ro/scores.npy: Permission denied\n");
  EXPECT_TRUE((dir.entries() == std::vector<std::string>{"attnviz", "ro"}));
  EXPECT_TRUE(std::filesystem::is_empty(dir.file("ro")));
}

// A full disk, without root or a tmpfs: RLIMIT_FSIZE makes write() fail with EFBIG part-way
// through the first file, as ENOSPC would.
TEST(BadInput, FullDisk) {
  TempDir dir;
  const RunResult r = runAttnviz({"compute", "--tokens", "a b c", "--out", "out"}, {.cwd = dir.path(), .fileSizeLimit = 100});
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.stderrText, "attnviz compute: cannot write out/scores.npy: File too large\n");
  EXPECT_TRUE(std::filesystem::is_empty(dir.file("out")));  // no partial file, no temporary
}

// The size check comes before any allocation: a header that declares 512 MiB of float32 (within
// the limits) but carries no data is refused as truncated within 512 MiB of address space,
// where allocating first would have failed as out of memory. (Less than ~300 MiB is not
// usable: OpenBLAS's start-up then hangs before main.)
TEST(BadInput, DeclaredSizeIsCheckedBeforeAllocating) {
  TempDir dir;
  writeQkv(dir);
  dir.write("q.npy", npyWithHeader(npyDict("<f4", "(65536, 2048)"), floatBytes({1, 2, 3})));
  RunOptions options{.cwd = dir.path()};
  if (!kAddressSanitizer) options.addressSpaceLimit = 512L << 20;
  const RunResult r = runAttnviz(qkvWith("--q", "q.npy"), options);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.stderrText,
            "attnviz compute: q.npy: byte 140: truncated .npy data (expected 536870912 bytes of data, found 12)\n");
}

// A request within the limits that does not fit in this machine's memory says so and exits 1:
// three 16384×1 .npy files (192 KiB in all) make a 16384×16384 trace, 1 GiB per stage.
// Not built under AddressSanitizer, which reserves terabytes of address space and so cannot run
// under RLIMIT_AS at all; the ordinary build runs it.
#if !ATTNVIZ_TEST_ASAN
TEST(BadInput, OutOfMemoryIsReported) {
  TempDir dir;
  const std::vector<float> column(16384, 0.5f);
  for (const char* name : {"q.npy", "k.npy", "v.npy"}) dir.write(name, encodeNpy(column.data(), {16384, 1}));
  const RunResult r = runAttnviz(compute({"--q", "q.npy", "--k", "k.npy", "--v", "v.npy"}),
                                 {.cwd = dir.path(), .addressSpaceLimit = 768L << 20});
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.stderrText, "attnviz compute: out of memory (the input is too large for this machine)\n");
}
#endif

TEST(BadInput, SequenceAboveTheLimit) {
  TempDir dir;
  const std::vector<float> column(16385, 0.5f), two(2, 0.5f);
  dir.write("q.npy", encodeNpy(column.data(), {16385, 1}));
  dir.write("k.npy", encodeNpy(two.data(), {2, 1}));
  dir.write("v.npy", encodeNpy(two.data(), {2, 1}));
  const RunResult r = runAttnviz(compute({"--q", "q.npy", "--k", "k.npy", "--v", "v.npy"}), {.cwd = dir.path()});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.stderrText, "attnviz compute: sequence too long: n = 16385, m = 2 (the limit is 16384)\n");
}

TEST(BadInput, TooManyTokens) {
  std::string text;
  for (int i = 0; i < 16385; ++i) text += "a ";
  const RunResult r = runAttnviz(compute({"--tokens", text}), {.cwd = TempDir().path()});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.stderrText, "attnviz compute: the target text has 16385 tokens (the limit is 16384)\n");
}

// Issue 14's inputs that used to give NaN with exit 0: they compute, and every weight and output
// is the finite limit (one-hot on the row's maximum).
TEST(BadInput, ExtremeValuesComputeTheLimitNotNaN) {
  struct Extreme {
    const char* id;
    std::string qkv;  // Q = K = V
    std::vector<std::string> options;
    Matrix weights, output;
  };
  Matrix one(1, 1), big(1, 1), twoByOne(2, 2), bigColumn(2, 1);
  one << 1;
  big << 1e20f;
  twoByOne << 1, 0, 1, 0;
  bigColumn << 1e20f, 1e20f;
  const Extreme extremes[] = {
      {"score beyond float32", "1e20\n", {"--score", "dot"}, one, big},
      {"huge next to small", "1e20\n3\n", {"--score", "dot"}, twoByOne, bigColumn},
      {"temperature 1e-40", "1,0\n0,1\n", {"--temperature", "1e-40"}, Matrix::Identity(2, 2),
       Matrix::Identity(2, 2)},
  };
  for (const Extreme& e : extremes) {
    SCOPED_TRACE(e.id);
    TempDir dir;
    for (const char* name : {"q.csv", "k.csv", "v.csv"}) dir.write(name, e.qkv);
    std::vector<std::string> input = kQkvArgs;
    input.insert(input.end(), e.options.begin(), e.options.end());
    const RunResult r = runAttnviz(compute(input), {.cwd = dir.path()});
    ASSERT_EQ(r.exitCode, 0) << r.stderrText;
    const Matrix weights = readMatrixFile(dir.file("out/weights.npy")).values;
    const Matrix output = readMatrixFile(dir.file("out/output.npy")).values;
    EXPECT_TRUE(weights == e.weights) << weights;
    EXPECT_TRUE(output == e.output) << output;
  }
}

// README.md quotes every message above verbatim.
TEST(BadInput, TableInDocsMatches) {
  std::ifstream in(ATTNVIZ_SOURCE_DIR "/README.md");
  ASSERT_TRUE(in) << "README.md is missing";
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> messages;
  for (const BadInput& c : cases())
    if (!c.message.empty()) messages.push_back(c.message);
  messages.insert(messages.end(),
                  {"attnviz compute: cannot write ro/scores.npy: Permission denied",
                   "attnviz compute: cannot write out/scores.npy: File too large",
                   "attnviz compute: out of memory (the input is too large for this machine)",
                   "attnviz compute: sequence too long: n = 16385, m = 2 (the limit is 16384)",
                   "attnviz compute: the target text has 16385 tokens (the limit is 16384)"});
  for (const std::string& m : messages) {
    // Markdown table cells escape '|'; none of the messages contains one.
    EXPECT_NE(doc.find("`" + m + "`"), std::string::npos) << "not in README.md: " << m;
  }
}

}  // namespace
}  // namespace attnviz::testing
