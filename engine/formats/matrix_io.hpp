#pragma once
// Reading and writing matrices: CSV/TSV/whitespace text, NumPy .npy, JSON arrays.
#include <string>
#include <string_view>
#include <vector>

#include "types.hpp"

namespace attnviz {

struct LoadedMatrix {
  Matrix values;  // rows×cols; a 3-D [H, rows, cols] .npy is laid out as rows×(H·cols)
  int heads = 1;  // H of a 3-D .npy, 1 otherwise
};

// Dispatches on the extension: .npy, .json, anything else is parsed as delimited text.
// Throws Error "PATH: line L, column C: what" / "PATH: byte N: what".
LoadedMatrix readMatrixFile(const std::string& path);

// Parsers on in-memory data; `name` is used in messages (a path, "clipboard", ...).
// Text: optional header row, separated by commas, tabs or whitespace; '#' comment lines skipped.
Matrix parseDelimitedText(std::string_view text, const std::string& name);
// NumPy-printed arrays ("[[1. 2.]\n [3. 4.]]", "array([[1, 2], [3, 4]], dtype=float32)") and
// anything parseDelimitedText accepts.
Matrix parseClipboardMatrix(std::string_view text);
LoadedMatrix parseNpy(std::string_view bytes, const std::string& name);
Matrix parseJsonMatrix(std::string_view text, const std::string& name);

// Any .npy array of up to 8 axes (the arrays inside an .npz attention bundle): numbers as
// float32 in C order (Fortran-order files are reordered), or text for NumPy string arrays
// ('<U' unicode, '|S' bytes). Non-finite numbers are kept: the caller says where they are.
// Throws Error "NAME: what" for anything else, including object arrays (they need pickle).
struct NpyArray {
  std::vector<long> shape;           // () for a 0-d array
  std::vector<float> values;         // float16/32/64, bool, (u)int8..64
  std::vector<std::string> strings;  // string dtypes: UTF-8, trailing NULs removed
  bool isText = false;
  long size() const { return long(isText ? strings.size() : values.size()); }
};
NpyArray parseNpyArray(std::string_view bytes, const std::string& name, long maxElements);

// A mask from any supported format: nonzero/true = may attend, 0/false = masked.
MaskMatrix readMaskFile(const std::string& path);
MaskMatrix toMask(const Matrix& values, const std::string& name);  // values must be 0 or 1

// .npy writers (float32, little-endian, C order). `shape` must multiply to data.size().
std::string encodeNpy(const float* data, const std::vector<long>& shape);
void writeNpy(const std::string& path, const float* data, const std::vector<long>& shape);
// The same in float64 ('<f8'), for numbers that must add up beyond float32's precision.
std::string encodeNpy(const double* data, const std::vector<long>& shape);
void writeNpy(const std::string& path, const double* data, const std::vector<long>& shape);
void writeCsv(const std::string& path, const Matrix& m);

// "NAME: byte N: reason" for a JSON syntax error (N counts from 0).
std::string jsonSyntaxError(const std::string& name, const std::exception& parseError, size_t byte);

// Reads a whole file; throws Error naming the path and the reason.
std::string readFile(const std::string& path);
// Writes atomically: a temporary file in the same directory, then rename. Nothing partial
// remains on failure; the Error names the path and the reason.
void writeFileAtomic(const std::string& path, std::string_view bytes);

}  // namespace attnviz
