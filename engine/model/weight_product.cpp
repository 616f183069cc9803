#include "weight_product.hpp"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdint>
#include <string>
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
          const auto rows = w.float32().middleRows(first, count);
          y.middleCols(first, count).noalias() = x * rows.transpose();
        } else {
          buffer.resize(count, depth);
          w.rowsToFloat(first, count, buffer.data());
          y.middleCols(first, count).noalias() = x * buffer.transpose();
        }
      } else if (w.dtype() == DType::F32) {
        y.middleCols(first, count).noalias() = x * w.float32().middleCols(first, count);
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
// The depth is taken in equal slabs of at most 640 inputs, so that a unit's packed tokens for
// one slab (256 tokens, up to 640 KB) stay in the second-level cache while its twelve-row weight
// slabs pass. A full-depth pass streamed GPT-2's MLP tokens (3072 deep, 1.5 MB at n = 128) from
// the third level once per twelve outputs. Measured on GPT-2's and SmolLM's shapes: slabs of 256
// or 384 were 1–3% slower, and 576 inputs cut as 256 + 256 + 64 3–4% slower.
constexpr long kDepthSlab = 640;
constexpr long kRowBlocksPerUnit = 8;
constexpr long kTokenBlocksPerUnit = 8;

// Cache lines of the next weight slab to convert, asked for while this slab's products run:
// converting is bound by reading the stored values from memory.
struct SlabPrefetch {
  const unsigned char* first = nullptr;  // the slab's first row
  std::size_t rowBytes = 0;              // from one row to the next
  long linesPerRow = 0, lines = 0;
  void line(long i) const {
    _mm_prefetch(reinterpret_cast<const char*>(first + std::size_t(i / linesPerRow) * rowBytes +
                                               std::size_t(i % linesPerRow) * 64),
                 _MM_HINT_T0);
  }
};

// out[r][t] = from[r][t] + Σ_k a[r·rowStride + k] · tokens[k·width + t] over k = 0 … depth−1
// in order (from = null: 0 +), for kRows weight rows and width = vectors · kLanes packed tokens.
// A product taken slab by slab thus adds its terms in the same order as one pass over the whole
// depth, bit for bit.
template <int vectors>
void tile(const float* a, long rowStride, const float* tokens, long depth, const float* from, float* out,
          const SlabPrefetch& prefetch) {
  Lanes acc[kRows][vectors];
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < vectors; ++v) acc[r][v] = from ? loadLanes(from + (r * vectors + v) * kLanes) : zeroLanes();
  for (long k = 0; k < depth; ++k) {
    if ((k & 1) == 0 && k / 2 < prefetch.lines) prefetch.line(k / 2);
    Lanes t[vectors];
    for (int v = 0; v < vectors; ++v) t[v] = loadLanes(tokens + (k * vectors + v) * kLanes);
    const float* ak = a + k;
#pragma GCC unroll 12
    for (int r = 0; r < kRows; ++r) {
      const Lanes s = broadcastLanes(ak[r * rowStride]);
      for (int v = 0; v < vectors; ++v) acc[r][v] = multiplyAdd(s, t[v], acc[r][v]);
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < vectors; ++v) storeLanes(out + (r * vectors + v) * kLanes, acc[r][v]);
}

// rows[0 … 7][0 … 7] (row stride `stride`) into out[k · width + t] = rows[t][k], k, t < 8.
inline void transposeEight(const float* rows, long stride, float* out, long width) {
  __m256 r[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(rows + i * stride);
  for (int i = 0; i < 8; i += 2) {
    u[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    u[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(u[i], u[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(u[i], u[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(u[i + 1], u[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(u[i + 1], u[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(out + i * width, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(out + (i + 4) * width, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

// Tokens first … first+count−1 of x as depth rows of `width` floats, zeros past count: eight
// tokens by eight inputs at a time through registers (a value at a time, the writes a line apart
// cost a tenth of a product 3072 deep).
void packTokens(const Matrix& x, long first, long count, long width, float* out) {
  const long depth = x.cols(), stride = x.cols();
  if (count < width) std::fill(out, out + depth * width, 0.0f);
  const long fullTokens = count / 8 * 8, fullDepth = depth / 8 * 8;
  for (long t = 0; t < fullTokens; t += 8) {
    const float* rows = x.row(first + t).data();
    for (long k = 0; k < fullDepth; k += 8) transposeEight(rows + k, stride, out + k * width + t, width);
    for (long k = fullDepth; k < depth; ++k)
      for (long i = 0; i < 8; ++i) out[k * width + t + i] = rows[i * stride + k];
  }
  for (long t = fullTokens; t < count; ++t) {
    const float* row = x.row(first + t).data();
    for (long k = 0; k < depth; ++k) out[k * width + t] = row[k];
  }
}

// Where the kernel reads inputs k0 … k0+length−1 of weight rows first … first+count−1
// (count ≤ kRows): in place for a full block of F32 weights, else from `buffer`, converted and
// padded with zero rows.
struct WeightSlab {
  const float* data;
  long rowStride;
};

WeightSlab weightSlab(const WeightMatrix& w, long first, long count, long k0, long length, std::vector<float>& buffer) {
  if (w.dtype() == DType::F32 && count == kRows)
    return {w.float32().data() + first * w.rowStride() + k0, w.rowStride()};
  buffer.assign(std::size_t(kRows * length), 0.0f);
  for (long r = 0; r < count; ++r) w.valuesToFloat(first + r, k0, length, buffer.data() + r * length);
  return {buffer.data(), length};
}

// Where the kernel writes y: consecutive column ranges of equal width, each its own matrix.
struct OutputParts {
  Matrix* const* parts;
  long width;
  long part(long output) const { return output / width; }
};

// A weight whose kernel rows the product writes as it goes (see kernelProduct).
struct RowSource {
  const WeightMatrix* matrix = nullptr;
  WeightLayout layout = WeightLayout::OutputsByInputs;
};

// Copies inputs k0 … k0+length−1 of outputs first … first+count−1 from `source` into the same
// block of `rows` (stored [outputs, inputs], padded), values as stored: a transpose of a source
// stored [inputs, outputs], a copy row by row of one stored [outputs, inputs].
template <typename Element>
void copyBlockOf(const RowSource& source, const WeightMatrix& rows, long first, long count, long k0, long length) {
  Element* const out = reinterpret_cast<Element*>(const_cast<unsigned char*>(rows.storedRow(0)));
  const std::size_t stride = std::size_t(rows.rowStride());
  if (source.layout == WeightLayout::OutputsByInputs) {
    for (long r = first; r < first + count; ++r) {
      const Element* from = reinterpret_cast<const Element*>(source.matrix->storedRow(r)) + k0;
      std::copy(from, from + length, out + std::size_t(r) * stride + std::size_t(k0));
    }
    return;
  }
  for (long k = k0; k < k0 + length; ++k) {
    const Element* from = reinterpret_cast<const Element*>(source.matrix->storedRow(k)) + first;
    for (long r = 0; r < count; ++r) out[std::size_t(first + r) * stride + std::size_t(k)] = from[r];
  }
}

void copyBlock(const RowSource& source, const WeightMatrix& rows, long first, long count, long k0, long length) {
  if (byteSize(rows.dtype()) == 4) copyBlockOf<std::uint32_t>(source, rows, first, count, k0, length);
  else copyBlockOf<std::uint16_t>(source, rows, first, count, k0, length);
}

// y = x · Wᵀ + bias for weights stored [outputs, inputs] (`w`). With a source, `w` is the empty
// storage of the source's kernel rows, and each block of it is copied from the source just before
// its products first need it: making them costs one more write of the weights, inside the pass
// that reads them anyway. The work is cut into units of up to kRowBlocksPerUnit ×
// kTokenBlocksPerUnit tiles, shared by the cores as they come free; a unit goes through the depth
// slab by slab, keeping its partial sums in tile order.
void kernelProduct(const Matrix& x, const WeightMatrix& w, const Vector& bias, const OutputParts& y,
                   const RowSource& source = {}) {
  const long n = x.rows(), depth = x.cols(), outputs = w.rows();
  const long tokenBlocks = (n + kTokens - 1) / kTokens, rowBlocks = (outputs + kRows - 1) / kRows;
  const long tokenChunks = (tokenBlocks + kTokenBlocksPerUnit - 1) / kTokenBlocksPerUnit;
  const long rowChunks = (rowBlocks + kRowBlocksPerUnit - 1) / kRowBlocksPerUnit;
  const long slabs = (depth + kDepthSlab - 1) / kDepthSlab;
  // Slabs of equal length (a multiple of 8): a short last slab costs a tile's loads and stores
  // for little arithmetic.
  const long slabLength = ((depth + slabs - 1) / slabs + 7) / 8 * 8;
  auto blockWidth = [&](long b) { return std::min(kTokens, n - b * kTokens) <= kLanes ? long(kLanes) : kTokens; };
  // Every unit of a row chunk needs its kernel rows: with more than one token chunk (n > 256)
  // they are written whole first, so that no two units write the same rows.
  const bool rowsFirst = source.matrix && tokenChunks > 1;
  const bool writing = source.matrix && !rowsFirst;
  // The next slab is prefetched when it will be converted from the stored rows (not while those
  // rows are being made from a source: the source's blocks are read in a different order).
  const bool prefetchSlabs = w.dtype() != DType::F32 && !writing;
  const std::size_t storedWidth = std::size_t(byteSize(w.dtype()));
  // Kept between calls: a fresh buffer of this size would be mapped and faulted in every time.
  static thread_local std::vector<float> packed;
  packed.resize(std::size_t(tokenBlocks * kTokens * depth));
  float* const tokens = packed.data();
#pragma omp parallel if (worthSharing(n, depth, outputs))
  {
#pragma omp for schedule(static)
    for (long b = 0; b < tokenBlocks; ++b)
      packTokens(x, b * kTokens, std::min(kTokens, n - b * kTokens), blockWidth(b), tokens + b * kTokens * depth);
    if (rowsFirst) {
#pragma omp for schedule(dynamic)
      for (long rb = 0; rb < rowBlocks; ++rb)
        copyBlock(source, w, rb * kRows, std::min(long(kRows), outputs - rb * kRows), 0, depth);
    }
    static thread_local std::vector<float> slabBuffer, partial;
    alignas(64) float finished[kRows * kTokens];
    partial.resize(std::size_t(kRowBlocksPerUnit * kTokenBlocksPerUnit * kRows * kTokens));
#pragma omp for schedule(dynamic)
    for (long unit = 0; unit < rowChunks * tokenChunks; ++unit) {
      const long firstRowBlock = (unit / tokenChunks) * kRowBlocksPerUnit;
      const long lastRowBlock = std::min(rowBlocks, firstRowBlock + kRowBlocksPerUnit);
      const long firstTokenBlock = (unit % tokenChunks) * kTokenBlocksPerUnit;
      const long lastTokenBlock = std::min(tokenBlocks, firstTokenBlock + kTokenBlocksPerUnit);
      auto partialTile = [&](long rb, long b) {
        return partial.data() + ((rb - firstRowBlock) * kTokenBlocksPerUnit + (b - firstTokenBlock)) * kRows * kTokens;
      };
      for (long s = 0; s < slabs; ++s) {
        const long k0 = s * slabLength, length = std::min(slabLength, depth - k0);
        for (long rb = firstRowBlock; rb < lastRowBlock; ++rb) {
          const long first = rb * kRows, count = std::min(long(kRows), outputs - first);
          if (writing) copyBlock(source, w, first, count, k0, length);
          const WeightSlab a = weightSlab(w, first, count, k0, length, slabBuffer);
          SlabPrefetch next;
          if (prefetchSlabs) {
            // The next slab this unit converts: the next rows at this depth, or the first rows at the next.
            const long nextFirst = rb + 1 < lastRowBlock ? first + kRows : firstRowBlock * kRows;
            const long nextK0 = rb + 1 < lastRowBlock ? k0 : k0 + slabLength;
            if (nextK0 < depth) {
              const long nextLength = std::min(slabLength, depth - nextK0);
              next.first = w.storedRow(nextFirst) + std::size_t(nextK0) * storedWidth;
              next.rowBytes = std::size_t(w.rowStride()) * storedWidth;
              next.linesPerRow = long((std::size_t(nextLength) * storedWidth + 63) / 64);
              next.lines = std::min(long(kRows), outputs - nextFirst) * next.linesPerRow;
            }
          }
          for (long b = firstTokenBlock; b < lastTokenBlock; ++b) {
            const float* slabTokens = tokens + b * kTokens * depth + k0 * blockWidth(b);
            const SlabPrefetch& ask = b == firstTokenBlock ? next : SlabPrefetch{};
            // The last slab's sums go from the cache straight into y: a pass over the partial
            // tiles afterwards cost 3–4% of a product one slab deep.
            const float* from = s > 0 ? partialTile(rb, b) : nullptr;
            float* const to = s + 1 < slabs ? partialTile(rb, b) : finished;
            if (blockWidth(b) == kLanes) tile<1>(a.data, a.rowStride, slabTokens, length, from, to, ask);
            else tile<2>(a.data, a.rowStride, slabTokens, length, from, to, ask);
            if (s + 1 < slabs) continue;
            const long width = blockWidth(b), firstToken = b * kTokens, tokenCount = std::min(kTokens, n - firstToken);
            // The bias is added on the way: adding it to the stored row read back values just
            // stored one by one, a store-forwarding stall each (4% of a GPT-2 product).
            const float* rowBias = bias.size() ? bias.data() + first : nullptr;
            if (y.part(first) == y.part(first + count - 1)) {
              const long part = y.part(first), column = first - part * y.width;
              for (long t = 0; t < tokenCount; ++t) {
                float* row = y.parts[part]->row(firstToken + t).data() + column;
                if (rowBias)
                  for (long r = 0; r < count; ++r) row[r] = finished[r * width + t] + rowBias[r];
                else
                  for (long r = 0; r < count; ++r) row[r] = finished[r * width + t];
              }
            } else {  // a block across two parts: each output on its own
              for (long r = 0; r < count; ++r) {
                const long part = y.part(first + r), column = first + r - part * y.width;
                for (long t = 0; t < tokenCount; ++t)
                  (*y.parts[part])(firstToken + t, column) = finished[r * width + t] + (rowBias ? rowBias[r] : 0.0f);
              }
            }
          }
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

void weightProduct(const Matrix& x, const WeightMatrix& w, WeightLayout layout, const Vector& bias,
                   std::initializer_list<Matrix*> parts) {
  const long outputs = outputsOf(w, layout), count = long(parts.size());
  if (count == 0 || outputs % count != 0)
    throw Error("a product of " + std::to_string(outputs) + " outputs does not split into " + std::to_string(count) +
                " equal parts");
  const long width = outputs / count;
  for (Matrix* part : parts) part->resize(x.rows(), width);
#ifdef ATTNVIZ_WEIGHT_KERNEL
  // Below a vector of tokens the kernel would mostly multiply padding.
  if (x.rows() >= kLanes && x.cols() > 0) {
    const OutputParts y{parts.begin(), width};
    if (layout == WeightLayout::OutputsByInputs && w.kernelReadsInPlace()) {
      kernelProduct(x, w, bias, y);
      return;
    }
    // Other weights are read by their kernel rows, made by the first product with enough rows
    // and kept: a transpose for weights stored [in, out] (read in place, their strided columns
    // ran 15–25% slower on GPT-2's shapes, prefetched or not), a padded copy for F32 rows whose
    // length is a multiple of 4 KiB.
    if (const auto made = w.kernelRows()) {
      kernelProduct(x, *made, bias, y);
      return;
    }
    const bool transposed = layout == WeightLayout::InputsByOutputs;
    WeightMatrix storage = WeightMatrix::uninitialized(w.dtype(), transposed ? w.cols() : w.rows(),
                                                       transposed ? w.rows() : w.cols());
    kernelProduct(x, storage, bias, y, RowSource{&w, layout});
    w.keepKernelRows(std::move(storage));
    return;
  }
#endif
  Matrix whole;
  // The kernel rows, where a product made them: the source's mapped pages were handed back.
  if (const auto made = w.kernelRows()) eigenWeightProduct(x, *made, WeightLayout::OutputsByInputs, bias, whole);
  else eigenWeightProduct(x, w, layout, bias, whole);
  if (count == 1) {
    **parts.begin() = std::move(whole);
    return;
  }
  long first = 0;
  for (Matrix* part : parts) {
    *part = whole.middleCols(first, width);
    first += width;
  }
}

void weightProduct(const Matrix& x, const WeightMatrix& w, WeightLayout layout, const Vector& bias, Matrix& y) {
  weightProduct(x, w, layout, bias, {&y});
}

}  // namespace attnviz::model
