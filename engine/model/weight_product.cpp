#include "weight_product.hpp"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include <algorithm>
#include <vector>

namespace attnviz::model {
namespace {

long outputsOf(const WeightMatrix& w, WeightLayout layout) {
  return layout == WeightLayout::OutputsByInputs ? w.rows() : w.cols();
}

// A product too small to share (a generated token's one row) runs on this thread: waking the
// other costs more than its half of the work, and much more when the cores are busy.
bool worthSharing(long rows, long depth, long outputs) {
  return double(rows) * double(depth) * double(outputs) >= double(1 << 20);
}

// Output panels of at most 256 columns (a 256 × 4096 float panel is 4 MiB, inside a core's
// cache hierarchy), an even number of them of equal width (a multiple of 16), so that two cores
// share every product evenly. The width depends on the shape alone, so results do not depend on
// the number of threads.
long panelWidth(long outputs) {
  const long panels = 2 * ((outputs + 511) / 512);
  return std::max(16L, (outputs + panels - 1) / panels + 15) / 16 * 16;
}

// y[:, panel] = x · panel for every panel of W, in parallel, Eigen single-threaded inside. F32
// panels are read in place (rows, or columns with the row stride), other panels converted into
// each thread's own buffer first.
void eigenPanels(const Matrix& x, const WeightMatrix& w, WeightLayout layout, Matrix& y) {
  const bool transposed = layout == WeightLayout::OutputsByInputs;
  const long outputs = outputsOf(w, layout), depth = transposed ? w.cols() : w.rows();
  const long width = panelWidth(outputs);
  const long panels = (outputs + width - 1) / width;
#pragma omp parallel if (panels > 1 && worthSharing(x.rows(), depth, outputs))
  {
    Matrix buffer;
#pragma omp for schedule(dynamic)
    for (long p = 0; p < panels; ++p) {
      const long first = p * width, count = std::min(width, outputs - first);
      if (transposed) {
        if (w.dtype() == DType::F32) {
          const Eigen::Map<const Matrix> rows(w.float32().data() + first * depth, count, depth);
          y.middleCols(first, count).noalias() = x * rows.transpose();
        } else {
          buffer.resize(count, depth);
          w.rowsToFloat(first, count, buffer.data());
          y.middleCols(first, count).noalias() = x * buffer.transpose();
        }
      } else if (w.dtype() == DType::F32) {
        const Eigen::Map<const Matrix, 0, Eigen::OuterStride<>> cols(w.float32().data() + first, depth, count,
                                                                      Eigen::OuterStride<>(outputs));
        y.middleCols(first, count).noalias() = x * cols;
      } else {
        buffer.resize(depth, count);
        w.colsToFloat(first, count, buffer.data());
        y.middleCols(first, count).noalias() = x * buffer;
      }
    }
  }
}

#if defined(__AVX512F__)
#define ATTNVIZ_WEIGHT_KERNEL 1
using Lanes = __m512;
constexpr int kLanes = 16;
constexpr int kRows = 12;  // 12 weight rows × 2 vectors of tokens: 24 of the 32 registers accumulate
inline Lanes zeroLanes() { return _mm512_setzero_ps(); }
inline Lanes loadLanes(const float* p) { return _mm512_loadu_ps(p); }
inline Lanes broadcastLanes(float v) { return _mm512_set1_ps(v); }
inline Lanes multiplyAdd(Lanes a, Lanes b, Lanes c) { return _mm512_fmadd_ps(a, b, c); }
inline void storeLanes(float* p, Lanes v) { _mm512_storeu_ps(p, v); }
#elif defined(__AVX2__) && defined(__FMA__)
#define ATTNVIZ_WEIGHT_KERNEL 1
using Lanes = __m256;
constexpr int kLanes = 8;
constexpr int kRows = 6;  // 6 × 2 accumulators of the 16 registers, 2 for tokens, 1 broadcast
inline Lanes zeroLanes() { return _mm256_setzero_ps(); }
inline Lanes loadLanes(const float* p) { return _mm256_loadu_ps(p); }
inline Lanes broadcastLanes(float v) { return _mm256_set1_ps(v); }
inline Lanes multiplyAdd(Lanes a, Lanes b, Lanes c) { return _mm256_fmadd_ps(a, b, c); }
inline void storeLanes(float* p, Lanes v) { _mm256_storeu_ps(p, v); }
#endif

#ifdef ATTNVIZ_WEIGHT_KERNEL
constexpr long kTokens = 2 * kLanes;
constexpr long kPrefetchAhead = 32;

// out[r][t] = Σ_k a[r·rowStride + k·depthStride] · tokens[k·width + t] over k = 0 … depth−1 in
// order, for kRows weight rows and width = vectors · kLanes packed tokens. The weights are
// broadcast from where they lie, so F32 weights need no copy in either layout.
// Meanwhile it asks for `prefetchLines` cache lines from `prefetch` on (the next weight block
// to convert), a line every fourth k, so that reading them overlaps with this arithmetic.
template <int vectors>
void tile(const float* a, long rowStride, long depthStride, const float* tokens, long depth, float* out,
          const unsigned char* prefetch = nullptr, long prefetchLines = 0) {
  Lanes acc[kRows][vectors];
  for (auto& row : acc)
    for (auto& v : row) v = zeroLanes();
  for (long k = 0; k < depth; ++k) {
    if ((k & 3) == 0 && k / 4 < prefetchLines) _mm_prefetch(reinterpret_cast<const char*>(prefetch) + k * 16, _MM_HINT_T1);
    Lanes t[vectors];
    for (int v = 0; v < vectors; ++v) t[v] = loadLanes(tokens + (k * vectors + v) * kLanes);
    const float* ak = a + k * depthStride;
    // [inputs, outputs] weights are read a line per k, far apart: asking for them ahead of use
    // measured 8–19% faster on GPT-2's products with weights coming from memory. (The twelve
    // rows of [outputs, inputs] weights are sequential streams the hardware prefetches well;
    // asking for those too was slower.)
    if (depthStride != 1) _mm_prefetch(reinterpret_cast<const char*>(ak + kPrefetchAhead * depthStride), _MM_HINT_T0);
#pragma GCC unroll 12
    for (int r = 0; r < kRows; ++r) {
      const Lanes s = broadcastLanes(ak[r * rowStride]);
      for (int v = 0; v < vectors; ++v) acc[r][v] = multiplyAdd(s, t[v], acc[r][v]);
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < vectors; ++v) storeLanes(out + (r * vectors + v) * kLanes, acc[r][v]);
}

// Tokens first … first+count−1 of x as depth rows of `width` floats, zeros past count.
void packTokens(const Matrix& x, long first, long count, long width, float* out) {
  const long depth = x.cols();
  if (count < width) std::fill(out, out + depth * width, 0.0f);
  for (long t = 0; t < count; ++t) {
    const float* row = x.row(first + t).data();
    for (long k = 0; k < depth; ++k) out[k * width + t] = row[k];
  }
}

// Where the kernel reads weight rows first … first+count−1 (count ≤ kRows): in place for a full
// block of F32 weights, else from `buffer`, converted and padded with zero rows.
struct WeightBlock {
  const float* data;
  long rowStride, depthStride;
};

WeightBlock weightBlock(const WeightMatrix& w, WeightLayout layout, long first, long count,
                        std::vector<float>& buffer) {
  const bool byInputs = layout == WeightLayout::OutputsByInputs;
  const long depth = byInputs ? w.cols() : w.rows();
  if (w.dtype() == DType::F32 && count == kRows) {
    const float* base = w.float32().data();
    return byInputs ? WeightBlock{base + first * depth, depth, 1} : WeightBlock{base + first, 1, w.cols()};
  }
  buffer.resize(std::size_t(kRows * depth));
  if (byInputs) {
    w.rowsToFloat(first, count, buffer.data());
    std::fill(buffer.begin() + count * depth, buffer.end(), 0.0f);
    return {buffer.data(), depth, 1};
  }
  std::fill(buffer.begin(), buffer.end(), 0.0f);
  std::vector<float> columns(std::size_t(depth * count));
  w.colsToFloat(first, count, columns.data());
  for (long k = 0; k < depth; ++k) std::copy_n(&columns[std::size_t(k * count)], count, &buffer[std::size_t(k * kRows)]);
  return {buffer.data(), 1, kRows};
}

void kernelProduct(const Matrix& x, const WeightMatrix& w, WeightLayout layout, const Vector& bias, Matrix& y) {
  const long n = x.rows(), depth = x.cols(), outputs = outputsOf(w, layout);
  const long tokenBlocks = (n + kTokens - 1) / kTokens, rowBlocks = (outputs + kRows - 1) / kRows;
  auto blockWidth = [&](long b) { return std::min(kTokens, n - b * kTokens) <= kLanes ? long(kLanes) : kTokens; };
  // Kept between calls: a fresh buffer of this size would be mapped and faulted in every time.
  static thread_local std::vector<float> packed;
  packed.resize(std::size_t(tokenBlocks * kTokens * depth));
  float* const tokens = packed.data();
#pragma omp parallel if (worthSharing(n, depth, outputs))
  {
#pragma omp for schedule(static)
    for (long b = 0; b < tokenBlocks; ++b)
      packTokens(x, b * kTokens, std::min(kTokens, n - b * kTokens), blockWidth(b), tokens + b * kTokens * depth);
    static thread_local std::vector<float> converted;
    alignas(64) float out[kRows * kTokens];
#pragma omp for schedule(static)
    for (long rb = 0; rb < rowBlocks; ++rb) {
      const long first = rb * kRows, count = std::min(long(kRows), outputs - first);
      const WeightBlock a = weightBlock(w, layout, first, count, converted);
      // Converting a block is bound by reading it from memory: the next one is fetched while
      // this one's products run (F32 blocks are read in place, where the hardware prefetches).
      const long nextRows = layout == WeightLayout::OutputsByInputs && w.dtype() != DType::F32
                                ? std::min(long(kRows), std::max(0L, outputs - first - kRows))
                                : 0;
      const long prefetchLines = (nextRows * depth * long(byteSize(w.dtype())) + 63) / 64;
      for (long b = 0; b < tokenBlocks; ++b) {
        const long width = blockWidth(b), firstToken = b * kTokens, tokenCount = std::min(kTokens, n - firstToken);
        const float* blockTokens = tokens + b * kTokens * depth;
        const unsigned char* next = b == 0 && nextRows ? w.storedRow(first + kRows) : nullptr;
        const long lines = next ? prefetchLines : 0;
        if (width == kLanes) tile<1>(a.data, a.rowStride, a.depthStride, blockTokens, depth, out, next, lines);
        else tile<2>(a.data, a.rowStride, a.depthStride, blockTokens, depth, out, next, lines);
        for (long t = 0; t < tokenCount; ++t) {
          float* row = y.row(firstToken + t).data() + first;
          for (long r = 0; r < count; ++r) row[r] = out[r * width + t];
          if (bias.size())
            for (long r = 0; r < count; ++r) row[r] += bias(first + r);
        }
      }
    }
  }
}
#endif

}  // namespace

bool hasWeightKernel() {
#ifdef ATTNVIZ_WEIGHT_KERNEL
  return true;
#else
  return false;
#endif
}

void eigenWeightProduct(const Matrix& x, const WeightMatrix& w, WeightLayout layout, const Vector& bias, Matrix& y) {
  y.resize(x.rows(), outputsOf(w, layout));
  eigenPanels(x, w, layout, y);
  if (bias.size()) y.rowwise() += bias.transpose();
}

void weightProduct(const Matrix& x, const WeightMatrix& w, WeightLayout layout, const Vector& bias, Matrix& y) {
#ifdef ATTNVIZ_WEIGHT_KERNEL
  // Below a vector of tokens the kernel would mostly multiply padding.
  if (x.rows() >= kLanes && x.cols() > 0) {
    y.resize(x.rows(), outputsOf(w, layout));
    kernelProduct(x, w, layout, bias, y);
    return;
  }
#endif
  eigenWeightProduct(x, w, layout, bias, y);
}

}  // namespace attnviz::model
