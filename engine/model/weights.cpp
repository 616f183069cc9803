#include "weights.hpp"

#include <bit>
#include <cmath>
#include <algorithm>
#include <cstring>

#include <sys/mman.h>
#include <unistd.h>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace attnviz::model {
namespace {

// Round to nearest, ties to even (what PyTorch's .to(torch.bfloat16) does); NaN stays NaN.
std::uint16_t floatToBfloat16(float f) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  if (std::isnan(f)) return std::uint16_t((bits >> 16) | 0x40);
  return std::uint16_t((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

std::uint16_t floatToHalf(float f) {
#if defined(__F16C__)
  return std::uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
#else
  // Through the bits: normal, subnormal and overflow cases, round to nearest even.
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  std::int32_t exponent = std::int32_t((x >> 23) & 0xFF) - 127 + 15;
  std::uint32_t mantissa = x & 0x7FFFFFu;
  if (((x >> 23) & 0xFF) == 0xFF) return std::uint16_t(sign | 0x7C00u | (mantissa ? 0x200u : 0));
  if (exponent >= 31) return std::uint16_t(sign | 0x7C00u);
  if (exponent <= 0) {
    if (exponent < -10) return std::uint16_t(sign);
    mantissa |= 0x800000u;
    const int shift = 14 - exponent;
    std::uint32_t half = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1), midpoint = 1u << (shift - 1);
    if (rest > midpoint || (rest == midpoint && (half & 1))) ++half;
    return std::uint16_t(sign | half);
  }
  std::uint32_t half = sign | (std::uint32_t(exponent) << 10) | (mantissa >> 13);
  const std::uint32_t rest = mantissa & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1))) ++half;
  return std::uint16_t(half);
#endif
}

// Rows of `cols` values of `width` bytes, padded by a cache line where they are a multiple of 4 KiB.
long paddedRowStride(long cols, long width) { return cols * width % 4096 == 0 ? cols + 64 / width : cols; }

}  // namespace

void halvesToFloat(const unsigned char* src, std::size_t count, float* out) {
  std::size_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i))));
#endif
  for (; i < count; ++i) {
    std::uint16_t bits;
    std::memcpy(&bits, src + 2 * i, 2);
    out[i] = halfToFloat(bits);
  }
}

void bfloat16sToFloat(const unsigned char* src, std::size_t count, float* out) {
  // A shift per value: the compiler vectorises the loop.
  for (std::size_t i = 0; i < count; ++i) {
    std::uint16_t bits;
    std::memcpy(&bits, src + 2 * i, 2);
    out[i] = std::bit_cast<float>(std::uint32_t(bits) << 16);
  }
}

WeightMatrix::WeightMatrix() : kernelRows_(std::make_shared<KernelRows>()) {}

WeightMatrix::WeightMatrix(Matrix values)
    : rows_(values.rows()), cols_(values.cols()), rowStride_(paddedRowStride(values.cols(), 4)),
      kernelRows_(std::make_shared<KernelRows>()) {
  if (rowStride_ == cols_) {  // kept as they are, not copied
    auto owned = std::make_shared<Matrix>(std::move(values));
    data_ = reinterpret_cast<const unsigned char*>(owned->data());
    owner_ = std::move(owned);
    return;
  }
  WeightMatrix padded = uninitialized(DType::F32, rows_, cols_);
  float* out = reinterpret_cast<float*>(const_cast<unsigned char*>(padded.data_));
  for (long r = 0; r < rows_; ++r)
    std::copy(values.row(r).data(), values.row(r).data() + cols_, out + std::size_t(r) * std::size_t(rowStride_));
  data_ = padded.data_;
  owner_ = std::move(padded.owner_);
}

WeightMatrix WeightMatrix::inPlace(DType dtype, long rows, long cols, const unsigned char* bytes,
                                   std::shared_ptr<const void> owner, Backing backing) {
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
    throw Error(std::string("weights stored as ") + toString(dtype) + " cannot be used in place");
  WeightMatrix w;
  w.dtype_ = dtype;
  w.rows_ = rows;
  w.cols_ = cols;
  w.rowStride_ = cols;
  w.data_ = bytes;
  w.owner_ = std::move(owner);
  w.backing_ = backing;
  return w;
}

namespace {

// The whole pages inside [bytes, bytes + count) go back to the kernel; a private read-only
// mapping reads them from the file again if they are touched.
void releaseMappedPages(const unsigned char* bytes, std::size_t count) {
  const std::uintptr_t page = std::uintptr_t(::sysconf(_SC_PAGESIZE));
  const std::uintptr_t begin = (std::uintptr_t(bytes) + page - 1) / page * page;
  const std::uintptr_t end = (std::uintptr_t(bytes) + count) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

WeightMatrix WeightMatrix::uninitialized(DType dtype, long rows, long cols) {
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
    throw Error(std::string("cannot store weights as ") + toString(dtype));
  const long width = long(byteSize(dtype));
  const long stride = paddedRowStride(cols, width);
  // Not value-initialised: zeroing values that are all about to be written is a pass for nothing.
  std::shared_ptr<unsigned char> bytes(new unsigned char[std::size_t(rows) * std::size_t(stride * width)],
                                       std::default_delete<unsigned char[]>());
  const unsigned char* data = bytes.get();
  WeightMatrix w = inPlace(dtype, rows, cols, data, std::move(bytes));
  w.rowStride_ = stride;
  return w;
}

bool WeightMatrix::kernelReadsInPlace() const {
  return dtype_ != DType::F32 || rowStride_ == paddedRowStride(cols_, 4);
}

std::shared_ptr<const WeightMatrix> WeightMatrix::kernelRows() const {
  const std::lock_guard<std::mutex> lock(kernelRows_->guard);
  return kernelRows_->matrix;
}

void WeightMatrix::keepKernelRows(WeightMatrix made) const {
  {
    const std::lock_guard<std::mutex> lock(kernelRows_->guard);
    if (kernelRows_->matrix) return;
    kernelRows_->matrix = std::make_shared<const WeightMatrix>(std::move(made));
  }
  if (backing_ == Backing::MappedFile) releaseMappedPages(data_, bytes());
}

WeightMatrix WeightMatrix::storedAs(DType dtype) const {
  if (dtype == dtype_) return *this;
  if (dtype == DType::F32) return WeightMatrix(toFloat());
  if (dtype != DType::F16 && dtype != DType::BF16) throw Error(std::string("cannot store weights as ") + toString(dtype));
  auto bits = std::make_shared<std::vector<std::uint16_t>>(std::size_t(size()));
  // A few rows at a time, so that converting never holds a second float32 copy of the matrix.
  std::vector<float> rows;
  for (long r = 0; r < rows_; r += 64) {
    const long count = std::min<long>(64, rows_ - r);
    rows.resize(std::size_t(count * cols_));
    rowsToFloat(r, count, rows.data());
    std::uint16_t* out = bits->data() + std::size_t(r) * std::size_t(cols_);
    for (std::size_t i = 0; i < rows.size(); ++i)
      out[i] = dtype == DType::BF16 ? floatToBfloat16(rows[i]) : floatToHalf(rows[i]);
  }
  const unsigned char* data = reinterpret_cast<const unsigned char*>(bits->data());
  return inPlace(dtype, rows_, cols_, data, std::move(bits));
}

void WeightMatrix::rowsToFloat(long first, long count, float* out) const {
  if (rowStride_ == cols_) {
    valuesToFloat(first, 0, count * cols_, out);  // one run: rows follow each other
    return;
  }
  for (long r = 0; r < count; ++r) valuesToFloat(first + r, 0, cols_, out + std::size_t(r) * std::size_t(cols_));
}

void WeightMatrix::valuesToFloat(long row, long col, long count, float* out) const {
  const std::size_t offset = std::size_t(row) * std::size_t(rowStride_) + std::size_t(col), n = std::size_t(count);
  switch (dtype_) {
    case DType::F32: std::memcpy(out, data_ + 4 * offset, 4 * n); break;
    case DType::F16: halvesToFloat(data_ + 2 * offset, n, out); break;
    case DType::BF16: bfloat16sToFloat(data_ + 2 * offset, n, out); break;
    default: break;  // inPlace() admits no other type
  }
}

Matrix WeightMatrix::rowsToFloat(long first, long count) const {
  Matrix m(count, cols_);
  rowsToFloat(first, count, m.data());
  return m;
}

void WeightMatrix::colsToFloat(long first, long count, float* out) const {
  const std::size_t width = std::size_t(byteSize(dtype_));
  for (long r = 0; r < rows_; ++r) {
    const unsigned char* src = storedRow(r) + std::size_t(first) * width;
    float* dst = out + std::size_t(r) * std::size_t(count);
    switch (dtype_) {
      case DType::F32: std::memcpy(dst, src, 4 * std::size_t(count)); break;
      case DType::F16: halvesToFloat(src, std::size_t(count), dst); break;
      case DType::BF16: bfloat16sToFloat(src, std::size_t(count), dst); break;
      default: break;
    }
  }
}

Matrix WeightMatrix::toFloat() const { return rowsToFloat(0, rows_); }

Eigen::Map<const Matrix, 0, Eigen::OuterStride<>> WeightMatrix::float32() const {
  if (dtype_ != DType::F32) throw Error("float32() of weights stored as " + std::string(toString(dtype_)));
  return {reinterpret_cast<const float*>(data_), rows_, cols_, Eigen::OuterStride<>(rowStride_)};
}

std::optional<long> WeightMatrix::firstNonFinite() const {
  constexpr long kRows = 64;
  Matrix panel;
  for (long r = 0; r < rows_; r += kRows) {
    const long count = std::min(kRows, rows_ - r);
    panel.resize(count, cols_);
    rowsToFloat(r, count, panel.data());
    for (Eigen::Index i = 0; i < panel.size(); ++i)
      if (!std::isfinite(panel.data()[i])) return r * cols_ + long(i);
  }
  return std::nullopt;
}

}  // namespace attnviz::model
