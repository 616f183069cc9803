#pragma once
// A model's weight matrix kept in the type its checkpoint stores (F32, F16 or BF16), read in
// place from the memory-mapped file where it can be, so that a model needs about its file's
// size in memory and the first layer runs before the last one is read. Products convert a panel
// of rows or columns to float32 at a time (blocks.hpp's linear and conv1d); nothing converts the
// whole matrix but toFloat(), which the views use for one layer at a time. A matrix the weight
// kernel cannot read in place (stored [inputs, outputs], or F32 rows a multiple of 4 KiB long) is
// laid out once, in its stored type, by the first product (kernelRows()).
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "safetensors.hpp"
#include "types.hpp"

namespace attnviz::model {

class WeightMatrix {
 public:
  WeightMatrix();
  // Float32 values owned by the matrix (random weights, tests); rows a multiple of 4 KiB long are
  // stored padded (see uninitialized()).
  explicit WeightMatrix(Matrix values);
  // `rows` × `cols` row-major values of `dtype` at `bytes`, which `owner` keeps valid; nothing
  // is copied. `Backing::MappedFile` says that the bytes are a read-only private mapping of a
  // file, whose pages can be handed back to the kernel and read again on demand.
  enum class Backing { MappedFile, Memory };
  static WeightMatrix inPlace(DType dtype, long rows, long cols, const unsigned char* bytes,
                              std::shared_ptr<const void> owner, Backing backing = Backing::Memory);
  // The same values rounded to `dtype` and owned (benchmarks of F16/BF16 shapes).
  WeightMatrix storedAs(DType dtype) const;

  long rows() const { return rows_; }
  long cols() const { return cols_; }
  long size() const { return rows_ * cols_; }
  bool empty() const { return size() == 0; }
  DType dtype() const { return dtype_; }
  std::size_t bytes() const { return std::size_t(size()) * std::size_t(byteSize(dtype_)); }

  // Stored values from one row to the next: cols(), or more where rows are padded
  // (uninitialized()).
  long rowStride() const { return rowStride_; }

  // Rows first … first+count−1 as float32 into `out` (count × cols, row-major).
  void rowsToFloat(long first, long count, float* out) const;
  Matrix rowsToFloat(long first, long count) const;
  // `count` values of row `row` from column `col` on, as float32 into `out`.
  void valuesToFloat(long row, long col, long count, float* out) const;
  // Columns first … first+count−1 as float32 into `out` (rows × count, row-major).
  void colsToFloat(long first, long count, float* out) const;
  Matrix toFloat() const;
  // Where row `row` is stored, in the stored type (to prefetch it before it is converted).
  const unsigned char* storedRow(long row) const {
    return data_ + std::size_t(row) * std::size_t(rowStride_) * std::size_t(byteSize(dtype_));
  }
  // The values in place, for F32 storage only (no copy).
  Eigen::Map<const Matrix, 0, Eigen::OuterStride<>> float32() const;

  // `rows` × `cols` values of `dtype`, owned and not yet written: storage that a product fills
  // (see kernelRows()). Rows a multiple of 4 KiB long are padded by a cache line: the weight
  // kernel reads twelve rows at once, and rows 4 KiB apart all fall in one set of the
  // first-level cache (products 2048 or 3072 deep ran 10% slower than 2112 or 3136 deep).
  static WeightMatrix uninitialized(DType dtype, long rows, long cols);
  // Whether the weight kernel reads the rows of this matrix, stored [outputs, inputs], in place:
  // not F32 rows a multiple of 4 KiB long and unpadded (F16 and BF16 are converted anyway).
  bool kernelReadsInPlace() const;

  // The rows the weight kernel reads ([outputs, inputs], padded where that helps) for a matrix
  // it cannot read in place (its transpose for one stored [inputs, outputs], a padded copy for
  // one whose rows share cache sets), once a product has made them, else null. Every copy of
  // this matrix shares them.
  std::shared_ptr<const WeightMatrix> kernelRows() const;
  // Keeps `made` as kernelRows() (unless another product kept some first), and hands the pages
  // of a mapped source back to the kernel: memory stays about one copy of the weights.
  void keepKernelRows(WeightMatrix made) const;

  // The index of the first NaN or infinite value, if any (reads every value).
  std::optional<long> firstNonFinite() const;

 private:
  DType dtype_ = DType::F32;
  long rows_ = 0, cols_ = 0, rowStride_ = 0;
  const unsigned char* data_ = nullptr;
  std::shared_ptr<const void> owner_;  // the mapped file, or the owned values
  Backing backing_ = Backing::Memory;
  struct KernelRows {
    std::mutex guard;
    std::shared_ptr<const WeightMatrix> matrix;
  };
  std::shared_ptr<KernelRows> kernelRows_;
};

// float16 and bfloat16 bits to float32, `count` values (vectorised where the CPU allows).
void halvesToFloat(const unsigned char* src, std::size_t count, float* out);
void bfloat16sToFloat(const unsigned char* src, std::size_t count, float* out);

}  // namespace attnviz::model
