#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "matrix_io.hpp"

namespace attnviz {
namespace {

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(DelimitedText, CommaTabAndWhitespaceWithOptionalHeader) {
  const Matrix a = parseDelimitedText("x,y\n1,2\n3,4\n", "a.csv");
  ASSERT_EQ(a.rows(), 2);
  EXPECT_EQ(a(1, 0), 3);
  const Matrix b = parseDelimitedText("1\t2.5\r\n-3e2\t4\r\n", "b.tsv");
  EXPECT_EQ(b(1, 0), -300);
  EXPECT_EQ(b(0, 1), 2.5f);
  const Matrix c = parseDelimitedText("# comment\n  1  2 3\n\n4 5 6\n", "c.txt");
  EXPECT_EQ(c.rows(), 2);
  EXPECT_EQ(c.cols(), 3);
  EXPECT_EQ(c(1, 2), 6);
}

TEST(DelimitedText, ErrorsNameFileLineAndColumn) {
  EXPECT_EQ(errorOf([] { parseDelimitedText("1,2\n3\n", "r.csv"); }),
            "r.csv: line 2: 1 values, but line 1 has 2 (rows must all have the same length)");
  EXPECT_EQ(errorOf([] { parseDelimitedText("1,2\n3,abc\n", "n.csv"); }),
            "n.csv: line 2, column 2: \"abc\" is not a number");
  EXPECT_EQ(errorOf([] { parseDelimitedText("", "e.csv"); }),
            "e.csv: no numbers found (empty file or only a header)");
  EXPECT_EQ(errorOf([] { parseDelimitedText("1,nan\n", "nan.csv"); }),
            "nan.csv: line 1, column 2: NaN (only finite numbers are accepted)");
  EXPECT_EQ(errorOf([] { parseDelimitedText("a,b\nc,d\n", "h.csv"); }),
            "h.csv: line 2, column 1: \"c\" is not a number");
}

TEST(Clipboard, NumpyPrintedArraysAndPlainTables) {
  const Matrix a = parseClipboardMatrix("[[1. 2.]\n [3. 4.]]");
  ASSERT_EQ(a.rows(), 2);
  EXPECT_EQ(a(1, 1), 4);
  const Matrix b = parseClipboardMatrix("array([[1, 2, 3],\n       [4, 5, 6]], dtype=float32)");
  EXPECT_EQ(b.cols(), 3);
  EXPECT_EQ(b(1, 0), 4);
  EXPECT_EQ(parseClipboardMatrix("1\t2\n3\t4").rows(), 2);
  EXPECT_EQ(parseClipboardMatrix("[1, 2, 3]").cols(), 3);
  EXPECT_THROW(parseClipboardMatrix("[[1, 2]"), Error);
}

TEST(Npy, RoundTripsFloat32AndReadsFloat64And3D) {
  Matrix m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  const LoadedMatrix back = parseNpy(encodeNpy(m.data(), {2, 3}), "m.npy");
  EXPECT_TRUE(back.values == m);
  const std::string npy3 = encodeNpy(m.data(), {2, 1, 3});  // [heads=2, rows=1, cols=3]
  const LoadedMatrix heads = parseNpy(npy3, "h.npy");
  EXPECT_EQ(heads.heads, 2);
  ASSERT_EQ(heads.values.rows(), 1);
  EXPECT_EQ(heads.values(0, 3), 4);  // head 1 sits in the second column block

  std::string f8 = encodeNpy(m.data(), {2, 3});
  const size_t descr = f8.find("<f4");
  f8.replace(descr, 3, "<f8");
  f8.resize(f8.size() - 24);
  const double doubles[6] = {1.5, 2, 3, 4, 5, 6.25};
  f8.append(reinterpret_cast<const char*>(doubles), sizeof doubles);
  const LoadedMatrix d = parseNpy(f8, "d.npy");
  EXPECT_EQ(d.values(0, 0), 1.5f);
  EXPECT_EQ(d.values(1, 2), 6.25f);
}

TEST(Npy, MalformedFilesGetPreciseMessages) {
  Matrix m = Matrix::Ones(2, 2);
  const std::string good = encodeNpy(m.data(), {2, 2});
  EXPECT_EQ(errorOf([&] { parseNpy(good.substr(0, good.size() - 3), "t.npy"); }),
            "t.npy: byte 141: truncated .npy data (expected 16 bytes of data, found 13)");
  std::string fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  EXPECT_NE(errorOf([&] { parseNpy(fortran, "f.npy"); }).find("Fortran-order"), std::string::npos);
  std::string dtype = good;
  dtype.replace(dtype.find("<f4"), 3, "<c8");
  EXPECT_EQ(errorOf([&] { parseNpy(dtype, "c.npy"); }),
            "c.npy: unsupported dtype '<c8' (expected float32 '<f4' or float64 '<f8')");
  std::string huge = good;
  huge.replace(huge.find("(2, 2)"), 6, "(99999999, 99999999)");
  EXPECT_NE(errorOf([&] { parseNpy(huge, "h.npy"); }).find("above the size limit"), std::string::npos);
  EXPECT_EQ(errorOf([] { parseNpy("PK\x03\x04 not numpy", "z.npy"); }),
            "z.npy: byte 0: not a .npy file (missing the \\x93NUMPY magic)");
}

TEST(Json, ArraysOfRowsAndBooleansForMasks) {
  const Matrix m = parseJsonMatrix("[[1, 2], [3, 4.5]]", "m.json");
  EXPECT_EQ(m(1, 1), 4.5f);
  const MaskMatrix mask = toMask(parseJsonMatrix("[[true, false], [1, 0]]", "k.json"), "k.json");
  EXPECT_EQ(mask(0, 0), 1);
  EXPECT_EQ(mask(0, 1), 0);
  EXPECT_EQ(errorOf([] { parseJsonMatrix("[[1, 2], [3]]", "r.json"); }),
            "r.json: row 1 has 1 values, but row 0 has 2");
  EXPECT_EQ(errorOf([] { parseJsonMatrix("[[1, 2], [3,", "b.json"); }), "b.json: byte 12: invalid JSON, unexpected end of input");
  EXPECT_NE(errorOf([] { toMask(parseJsonMatrix("[[0.5]]", "x"), "x.json"); }).find("mask value"), std::string::npos);
}

TEST(Files, AtomicWriteLeavesNothingPartialAndNamesThePath) {
  const auto dir = std::filesystem::temp_directory_path() / ("attnviz-io-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "m.npy").string();
  Matrix m = Matrix::Constant(3, 2, 7);
  writeNpy(path, m.data(), {3, 2});
  EXPECT_TRUE(readMatrixFile(path).values == m);
  writeCsv((dir / "m.csv").string(), m);
  EXPECT_TRUE(readMatrixFile((dir / "m.csv").string()).values == m);
  EXPECT_EQ(errorOf([&] { writeFileAtomic((dir / "missing" / "x.npy").string(), "data"); }),
            "cannot write " + (dir / "missing" / "x.npy").string() + ": No such file or directory");
  EXPECT_EQ(errorOf([&] { readFile((dir / "absent.csv").string()); }),
            (dir / "absent.csv").string() + ": cannot open (No such file or directory)");
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++entries;
  EXPECT_EQ(entries, 2);  // no temporary files left behind
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace attnviz
