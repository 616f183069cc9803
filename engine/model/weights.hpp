#pragma once
// A model's weight matrix kept in the type its checkpoint stores (F32, F16 or BF16), read in
// place from the memory-mapped file where it can be, so that a model needs about its file's
// size in memory and the first layer runs before the last one is read. Products convert a panel
// of rows or columns to float32 at a time (blocks.hpp's linear and conv1d); nothing converts the
// whole matrix but toFloat(), which the views use for one layer at a time.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "safetensors.hpp"
#include "types.hpp"

namespace attnviz::model {

class WeightMatrix {
 public:
  WeightMatrix() = default;
  // Float32 values owned by the matrix (random weights, tests).
  explicit WeightMatrix(Matrix values);
  // `rows` × `cols` row-major values of `dtype` at `bytes`, which `owner` keeps valid (the
  // mapped file); nothing is copied.
  static WeightMatrix inPlace(DType dtype, long rows, long cols, const unsigned char* bytes,
                              std::shared_ptr<const void> owner);
  // The same values rounded to `dtype` and owned (benchmarks of F16/BF16 shapes).
  WeightMatrix storedAs(DType dtype) const;

  long rows() const { return rows_; }
  long cols() const { return cols_; }
  long size() const { return rows_ * cols_; }
  bool empty() const { return size() == 0; }
  DType dtype() const { return dtype_; }
  std::size_t bytes() const { return std::size_t(size()) * std::size_t(byteSize(dtype_)); }

  // Rows first … first+count−1 as float32 into `out` (count × cols, row-major).
  void rowsToFloat(long first, long count, float* out) const;
  Matrix rowsToFloat(long first, long count) const;
  // Columns first … first+count−1 as float32 into `out` (rows × count, row-major).
  void colsToFloat(long first, long count, float* out) const;
  Matrix toFloat() const;
  // Where row `row` is stored, in the stored type (to prefetch it before it is converted).
  const unsigned char* storedRow(long row) const {
    return data_ + std::size_t(row) * std::size_t(cols_) * std::size_t(byteSize(dtype_));
  }
  // The values in place, for F32 storage only (no copy).
  Eigen::Map<const Matrix> float32() const;

  // The index of the first NaN or infinite value, if any (reads every value).
  std::optional<long> firstNonFinite() const;

 private:
  DType dtype_ = DType::F32;
  long rows_ = 0, cols_ = 0;
  const unsigned char* data_ = nullptr;
  std::shared_ptr<const void> owner_;  // the mapped file, or the owned values
};

// float16 and bfloat16 bits to float32, `count` values (vectorised where the CPU allows).
void halvesToFloat(const unsigned char* src, std::size_t count, float* out);
void bfloat16sToFloat(const unsigned char* src, std::size_t count, float* out);

}  // namespace attnviz::model
