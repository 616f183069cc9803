#include "attention_kernels.hpp"

#include <glad/gl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "types.hpp"

namespace attnviz::gpu {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;
// Bigger stage chunks buy nothing once a chunk fills the GPU; the cap bounds memory use and
// keeps every float index inside a chunk far below the shaders' 32-bit limit.
constexpr std::uint64_t kStageChunkCap = 256 * kMiB;
constexpr unsigned kGemmTile = 64, kFlashChunkWidth = 64;

unsigned groupsFor(long count, unsigned perGroup) { return unsigned((count + perGroup - 1) / perGroup); }

std::string mebibytes(std::uint64_t bytes) {
  return std::to_string((bytes + kMiB - 1) / kMiB) + " MiB";
}

// GL reports running out of memory through its error flag rather than failing the call.
void throwOnGlError(const char* during) {
  GLenum error = glGetError();
  GLenum first = error;
  while (error != GL_NO_ERROR) error = glGetError();  // drain so the next check starts clean
  if (first == GL_NO_ERROR) return;
  if (first == GL_OUT_OF_MEMORY) throw Error(std::string("the GPU ran out of memory ") + during);
  throw Error(std::string("OpenGL error 0x") + [&] {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%04X", first);
    return std::string(hex);
  }() + " " + during);
}

void storageBarrier() { glMemoryBarrier(GL_SHADER_STORAGE_BARRIER_BIT); }

// Renderers that run shaders on the CPU (SIMD lanes of a few threads, not warps of an SM).
bool isCpuRenderer() {
  const auto* renderer = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
  const std::string name = renderer ? renderer : "";
  for (const char* cpu : {"llvmpipe", "softpipe", "SwiftShader", "lavapipe"})
    if (name.find(cpu) != std::string::npos) return true;
  return false;
}

// The shaders' maskKind: 0 none, 1 causal (bottom-right), 2 custom bits, 3 causal top-left.
int shaderMaskKind(MaskKind kind) {
  switch (kind) {
    case MaskKind::None: return 0;
    case MaskKind::Causal: return 1;
    case MaskKind::Custom: return 2;
    case MaskKind::CausalTopLeft: return 3;
  }
  return 0;
}

// Rows the float kernels cannot get right (softmaxNeedsDouble, rowNeedsDouble: a scale,
// temperature or input beyond float's exactness) are recomputed on the host by the engine's
// own double-precision row, so both backends follow one set of limit rules; an output row whose
// float sum rounded to ∞ (values near float's range) is summed again in double.
void recomputeExtremeRows(const AttentionInputs& in, const AttentionOptions& opt, AttentionTrace& t) {
  const int dkh = t.headKeyWidth(), dvh = t.headValueWidth();
  const double scale = exactScale(opt, dkh);
  const bool cosine = opt.score == ScoreFunction::Cosine;  // |cosine| ≤ 1
  for (int h = 0; h < t.heads; ++h) {
    HeadTrace& ht = t.head[std::size_t(h)];
    double kNormMax = cosine ? 1.0 : 0.0;
    if (!cosine)
      for (int j = 0; j < t.m; ++j) kNormMax = std::max(kNormMax, in.k.row(j).segment(h * dkh, dkh).cast<double>().norm());
    std::vector<ExactRow> exact(std::size_t(t.n));
    for (int i = 0; i < t.n; ++i) {
      const double qNorm = cosine ? 1.0 : in.q.row(i).segment(h * dkh, dkh).cast<double>().norm();
      if (softmaxNeedsDouble(scale, qNorm, kNormMax) || rowNeedsDouble(ht.rowMax(i)))
        ht.stats.fullyMasked[std::size_t(i)] = !exactSoftmaxRow(in, opt, h, i, ht, true, exact[std::size_t(i)]);
      else if (!allFinite(ht.output.row(i)))
        exactOutputRow(in, opt, h, i, ht);
      else
        continue;
      t.concatenated.row(i).segment(h * dvh, dvh) = ht.output.row(i);
    }
    storeExactRows(ht, exact);
  }
}

int headChunks(int headKeyWidth, int headValueWidth) {
  return std::max(1, int((std::max(headKeyWidth, headValueWidth) + kFlashChunkWidth - 1) / kFlashChunkWidth));
}

}  // namespace

// Times the dispatches between begin() and end() into a counter. Query results are read at
// collect(), so timing does not stall the pipeline between dispatches; the clock mode does.
class GpuTimer {
 public:
  explicit GpuTimer(KernelTiming timing) : timing_(timing) {}
  ~GpuTimer() {
    for (const auto& p : pending_) glDeleteQueries(1, &p.query);
  }
  void begin(double* sink) {
    sink_ = sink;
    if (timing_ == KernelTiming::TimerQueries) {
      GLuint query = 0;
      glGenQueries(1, &query);
      glBeginQuery(GL_TIME_ELAPSED, query);
      pending_.push_back({query, sink});
    } else if (timing_ == KernelTiming::FinishAndClock) {
      glFinish();
      start_ = std::chrono::steady_clock::now();
    }
  }
  void end() {
    if (timing_ == KernelTiming::TimerQueries) {
      glEndQuery(GL_TIME_ELAPSED);
    } else if (timing_ == KernelTiming::FinishAndClock) {
      glFinish();
      *sink_ += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
    }
  }
  void collect() {
    for (const auto& p : pending_) {
      GLuint64 nanoseconds = 0;
      glGetQueryObjectui64v(p.query, GL_QUERY_RESULT, &nanoseconds);
      *p.sink += double(nanoseconds) / 1e6;
      glDeleteQueries(1, &p.query);
    }
    pending_.clear();
  }

 private:
  struct Pending {
    GLuint query;
    double* sink;
  };
  KernelTiming timing_;
  std::vector<Pending> pending_;
  double* sink_ = nullptr;
  std::chrono::steady_clock::time_point start_;
};


GlBuffer::~GlBuffer() {
  if (id_) glDeleteBuffers(1, &id_);
}

void GlBuffer::reserve(std::uint64_t bytes) {
  bytes = std::max<std::uint64_t>(bytes, 16);
  if (id_ && bytes <= capacity_) return;
  if (!id_) glGenBuffers(1, &id_);
  glBindBuffer(GL_SHADER_STORAGE_BUFFER, id_);
  glBufferData(GL_SHADER_STORAGE_BUFFER, GLsizeiptr(bytes), nullptr, GL_DYNAMIC_COPY);
  capacity_ = bytes;
}

void GlBuffer::upload(const void* data, std::uint64_t bytes) {
  reserve(bytes);
  if (bytes == 0) return;
  glBindBuffer(GL_SHADER_STORAGE_BUFFER, id_);
  glBufferSubData(GL_SHADER_STORAGE_BUFFER, 0, GLsizeiptr(bytes), data);
}

void GlBuffer::download(std::uint64_t offset, std::uint64_t bytes, void* destination) const {
  if (bytes == 0) return;
  glBindBuffer(GL_SHADER_STORAGE_BUFFER, id_);
  glGetBufferSubData(GL_SHADER_STORAGE_BUFFER, GLintptr(offset), GLsizeiptr(bytes), destination);
}

void GlBuffer::bind(unsigned binding) const { glBindBufferBase(GL_SHADER_STORAGE_BUFFER, binding, id_); }

AttentionKernels::AttentionKernels(const GpuSettings& settings) {
  const std::uint64_t stageBufferLimitBytes = settings.stageBufferLimitBytes;
  cpuShapes_ = settings.kernelShapes == GpuKernelShapes::Auto ? isCpuRenderer()
                                                              : settings.kernelShapes == GpuKernelShapes::Cpu;
  setTraceMethod(settings.traceMethod);
  GLint64 maxBlock = 0;
  glGetInteger64v(GL_MAX_SHADER_STORAGE_BLOCK_SIZE, &maxBlock);
  maxBlockBytes_ = std::uint64_t(std::max<GLint64>(maxBlock, 0));
  if (maxBlockBytes_ < kMiB)
    throw Error("the GPU's shader-storage blocks are too small (GL_MAX_SHADER_STORAGE_BLOCK_SIZE = " +
                std::to_string(maxBlockBytes_) + " bytes)");
  stageLimit_ = std::min(maxBlockBytes_, kStageChunkCap);
  if (stageBufferLimitBytes) stageLimit_ = std::min(stageLimit_, stageBufferLimitBytes);
  for (int axis = 0; axis < 3; ++axis) glGetIntegeri_v(GL_MAX_COMPUTE_WORK_GROUP_COUNT, axis, &maxGroups_[axis]);

  normalize_ = ComputeProgram("normalize_rows.comp");
  scores_ = ComputeProgram("scores.comp");
  softmax_ = ComputeProgram("softmax.comp");
  weightedSum_ = ComputeProgram("weighted_sum.comp");
  for (int chunks = 1; chunks * int(kFlashChunkWidth) <= kMaxFlashHeadWidth; ++chunks) {
    flashProgram(chunks);
    twoPassProgram(1, chunks);
    twoPassProgram(2, chunks);
  }
  throwOnGlError("while compiling the compute shaders");
}

// The row-per-invocation kernels keep Q (and O) of rowsPerThread rows in registers and read
// every shared K/V value once per invocation for all of them. On llvmpipe an invocation is a
// SIMD lane and each shared-memory read a per-lane gather, so reads per FMA set the speed:
// 8 rows per lane (fewer for wide heads, whose registers are stack memory there) measured
// 3–5× faster than one at n = 1024, d = 64, and 16 lanes per group keep the coroutine
// switches at barriers few. On a GPU 8 rows of Q and O would be 1024 registers at d = 64:
// one row per invocation (128 registers) and 64 invocations per group keep occupancy.
AttentionKernels::RowShape AttentionKernels::rowShape(int chunks) const {
  if (cpuShapes_) return {16u, unsigned(std::max(1, 8 / chunks))};
  return {64u, 1u};
}

const ComputeProgram& AttentionKernels::flashProgram(int chunks) {
  auto it = flash_.find(chunks);
  if (it == flash_.end()) {
    const RowShape shape = rowShape(chunks);
    it = flash_.emplace(chunks, ComputeProgram("flash_attention.comp",
                                               {{"FLASH_CHUNKS", std::to_string(chunks) + "u"},
                                                {"FLASH_THREADS", std::to_string(shape.threads)},
                                                {"FLASH_ROWS_PER_THREAD", std::to_string(shape.rowsPerThread) + "u"}}))
             .first;
  }
  return it->second;
}

const ComputeProgram& AttentionKernels::twoPassProgram(int pass, int chunks) {
  auto it = twoPass_.find(pass * 16 + chunks);
  if (it == twoPass_.end()) {
    const RowShape shape = rowShape(chunks);
    it = twoPass_.emplace(pass * 16 + chunks,
                          ComputeProgram("trace_two_pass.comp",
                                         {{"TRACE_PASS", std::to_string(pass)},
                                          {"TRACE_CHUNKS", std::to_string(chunks) + "u"},
                                          {"TRACE_THREADS", std::to_string(shape.threads)},
                                          {"TRACE_ROWS_PER_THREAD", std::to_string(shape.rowsPerThread) + "u"}}))
             .first;
  }
  return it->second;
}

void AttentionKernels::setTraceMethod(GpuTraceMethod method) {
  // Two-pass measured faster on llvmpipe (engine/gpu/README-section.md); no GPU has been
  // measured yet, so it is the default everywhere until one is.
  traceMethod_ = method == GpuTraceMethod::Auto ? GpuTraceMethod::TwoPass : method;
}

bool AttentionKernels::usesTwoPass(int headKeyWidth, int headValueWidth) const {
  return traceMethod_ == GpuTraceMethod::TwoPass && headKeyWidth <= kMaxFlashHeadWidth &&
         headValueWidth <= kMaxFlashHeadWidth;
}

void AttentionKernels::requireFits(const char* what, std::uint64_t bytes) const {
  if (bytes > maxBlockBytes_)
    throw Error(std::string(what) + " needs " + mebibytes(bytes) + " in one GPU buffer, above this " +
                "GPU's limit of " + mebibytes(maxBlockBytes_) + " (GL_MAX_SHADER_STORAGE_BLOCK_SIZE)");
}

std::vector<StageChunk> AttentionKernels::planChunks(int heads, long n, long m) const {
  const std::uint64_t rowBytes = std::uint64_t(m) * sizeof(float);
  if (rowBytes > stageLimit_)
    throw Error("one row of attention (m = " + std::to_string(m) + " keys) does not fit the GPU's " +
                mebibytes(stageLimit_) + " buffer limit");
  const long fittingHeads = long(stageLimit_ / rowBytes);
  const int headsPerChunk =
      int(std::min<long>({long(heads), fittingHeads, long(maxGroups_[1]), long(maxGroups_[2])}));
  const long rowsPerChunk = std::min<long>(n, long(stageLimit_ / (rowBytes * headsPerChunk)));
  std::vector<StageChunk> chunks;
  for (int h = 0; h < heads; h += headsPerChunk)
    for (long r = 0; r < n; r += rowsPerChunk)
      chunks.push_back({h, std::min(headsPerChunk, heads - h), r, std::min(rowsPerChunk, n - r)});
  return chunks;
}

// Cosine scores: each head's rows of Q and K scaled to unit length, into their own buffers.
void AttentionKernels::normalizeForCosine(const AttentionInputs& in, int heads, GpuTimer& timer) {
  const int n = int(in.q.rows()), m = int(in.k.rows()), dkh = int(in.q.cols()) / heads;
  normalizedQueries_.reserve(std::uint64_t(in.q.size()) * sizeof(float));
  normalizedKeys_.reserve(std::uint64_t(in.k.size()) * sizeof(float));
  normalize_.use();
  normalize_.set("headWidth", unsigned(dkh));
  normalize_.set("rowStride", unsigned(in.q.cols()));
  timer.begin(&times_.normalizeMs);
  for (auto [source, target, rows] : {std::tuple{&queries_, &normalizedQueries_, n},
                                      std::tuple{&keys_, &normalizedKeys_, m}}) {
    source->bind(0);
    target->bind(1);
    normalize_.set("rows", unsigned(rows));
    glDispatchCompute(groupsFor(rows, 64), unsigned(heads), 1);
  }
  timer.end();
  storageBarrier();
}

void AttentionKernels::uploadInputs(const AttentionInputs& in, const AttentionOptions& opt) {
  if (opt.heads > maxGroups_[1])
    throw Error(std::to_string(opt.heads) + " heads are more than this GPU dispatches at once (" +
                std::to_string(maxGroups_[1]) + ")");
  requireFits("Q", std::uint64_t(in.q.size()) * sizeof(float));
  requireFits("K", std::uint64_t(in.k.size()) * sizeof(float));
  requireFits("V", std::uint64_t(in.v.size()) * sizeof(float));
  requireFits("the output", std::uint64_t(in.q.rows()) * in.v.cols() * sizeof(float));
  queries_.upload(in.q.data(), std::uint64_t(in.q.size()) * sizeof(float));
  keys_.upload(in.k.data(), std::uint64_t(in.k.size()) * sizeof(float));
  values_.upload(in.v.data(), std::uint64_t(in.v.size()) * sizeof(float));
  output_.reserve(std::uint64_t(in.q.rows()) * in.v.cols() * sizeof(float));

  const long n = in.q.rows(), m = in.k.rows();
  const long wordsPerRow = (m + 31) / 32;
  std::vector<std::uint32_t> bits;
  if (opt.mask == MaskKind::Custom) {
    bits.assign(std::size_t(n * wordsPerRow), 0u);
    for (long i = 0; i < n; ++i)
      for (long j = 0; j < m; ++j)
        if (opt.customMask(i, j)) bits[std::size_t(i * wordsPerRow + j / 32)] |= 1u << (j % 32);
  } else {
    bits.assign(1, 0u);  // the shaders declare the buffer, so something is always bound
  }
  maskBits_.upload(bits.data(), bits.size() * sizeof(std::uint32_t));
}

AttentionTrace AttentionKernels::trace(const AttentionInputs& in, const AttentionOptions& opt) {
  validate(in, opt);
  const auto start = std::chrono::steady_clock::now();
  times_ = {};
  GpuTimer timer(timing_);

  AttentionTrace t;
  t.n = int(in.q.rows());
  t.m = int(in.k.rows());
  t.dk = int(in.q.cols());
  t.dv = int(in.v.cols());
  t.heads = opt.heads;
  t.options = opt;
  t.head.resize(t.heads);
  const int n = t.n, m = t.m, dkh = t.headKeyWidth(), dvh = t.headValueWidth();
  const float scale = effectiveScale(opt, dkh);
  const std::vector<StageChunk> chunks = planChunks(t.heads, n, m);

  uploadInputs(in, opt);
  const GlBuffer* queries = &queries_;
  const GlBuffer* keys = &keys_;
  if (opt.score == ScoreFunction::Cosine) {
    normalizeForCosine(in, t.heads, timer);
    queries = &normalizedQueries_;
    keys = &normalizedKeys_;
  }

  const std::uint64_t chunkCells = std::uint64_t(chunks.front().headCount) * chunks.front().rowCount * m;
  for (GlBuffer* stage : {&scoresBuffer_, &scaledBuffer_, &maskedBuffer_, &expBuffer_, &weightsBuffer_})
    stage->reserve(chunkCells * sizeof(float));
  statsBuffer_.reserve(std::uint64_t(chunks.front().headCount) * chunks.front().rowCount * 4 * sizeof(float));
  argmaxBuffer_.reserve(std::uint64_t(chunks.front().headCount) * chunks.front().rowCount * sizeof(int));
  throwOnGlError("while allocating the attention buffers");

  for (HeadTrace& ht : t.head) {
    ht.scale = scale;
    for (Matrix* stage : {&ht.scores, &ht.scaled, &ht.masked, &ht.expValues, &ht.weights}) stage->resize(n, m);
    ht.rowMax.resize(n);
    ht.rowSum.resize(n);
    ht.stats.entropy.resize(n);
    ht.stats.maxWeight.resize(n);
    ht.stats.argmax.resize(n);
    ht.stats.fullyMasked.assign(n, false);
  }

  const int maskKind = shaderMaskKind(opt.mask);
  for (const ComputeProgram* program : {&scores_, &softmax_, &weightedSum_}) {
    program->set("n", unsigned(n));
    program->set("m", unsigned(m));
  }
  scores_.set("maskKind", maskKind);
  scores_.set("maskWordsPerRow", unsigned((m + 31) / 32));
  scores_.set("headWidth", unsigned(dkh));
  scores_.set("rowStride", unsigned(t.dk));
  scores_.set("scale", scale);
  weightedSum_.set("headWidth", unsigned(dvh));
  weightedSum_.set("rowStride", unsigned(t.dv));

  std::vector<float> stats;
  std::vector<int> argmax;
  const bool twoPass = usesTwoPass(dkh, dvh);
  for (const StageChunk& c : chunks) {
    if (twoPass) {
      dispatchTwoPass(c, *queries, *keys, t, scale, maskKind, timer);
    } else {
      scores_.use();
      scores_.set("rowBegin", unsigned(c.rowBegin));
      scores_.set("rowCount", unsigned(c.rowCount));
      scores_.set("headBegin", unsigned(c.headBegin));
      queries->bind(0);
      keys->bind(1);
      maskBits_.bind(2);
      scoresBuffer_.bind(3);
      scaledBuffer_.bind(4);
      maskedBuffer_.bind(5);
      timer.begin(&times_.scoresMs);
      glDispatchCompute(groupsFor(m, kGemmTile), groupsFor(c.rowCount, kGemmTile), unsigned(c.headCount));
      timer.end();
      storageBarrier();

      softmax_.use();
      softmax_.set("rowCount", unsigned(c.rowCount));
      maskedBuffer_.bind(0);
      expBuffer_.bind(1);
      weightsBuffer_.bind(3);
      statsBuffer_.bind(4);
      argmaxBuffer_.bind(5);
      timer.begin(&times_.softmaxMs);
      glDispatchCompute(unsigned(c.rowCount), unsigned(c.headCount), 1);
      timer.end();
      storageBarrier();

      weightedSum_.use();
      weightedSum_.set("rowBegin", unsigned(c.rowBegin));
      weightedSum_.set("rowCount", unsigned(c.rowCount));
      weightedSum_.set("headBegin", unsigned(c.headBegin));
      weightsBuffer_.bind(0);
      values_.bind(1);
      output_.bind(3);
      timer.begin(&times_.weightedSumMs);
      glDispatchCompute(groupsFor(dvh, kGemmTile), groupsFor(c.rowCount, kGemmTile), unsigned(c.headCount));
      timer.end();
    }
    glMemoryBarrier(GL_BUFFER_UPDATE_BARRIER_BIT | GL_SHADER_STORAGE_BARRIER_BIT);

    // Each head's rows of this chunk are one contiguous run in the chunk buffers and in the trace.
    const std::uint64_t rowsCells = std::uint64_t(c.rowCount) * m;
    for (int local = 0; local < c.headCount; ++local) {
      HeadTrace& ht = t.head[c.headBegin + local];
      const std::uint64_t offset = local * rowsCells * sizeof(float);
      const std::uint64_t bytes = rowsCells * sizeof(float);
      const std::size_t first = std::size_t(c.rowBegin) * m;
      scoresBuffer_.download(offset, bytes, ht.scores.data() + first);
      scaledBuffer_.download(offset, bytes, ht.scaled.data() + first);
      maskedBuffer_.download(offset, bytes, ht.masked.data() + first);
      expBuffer_.download(offset, bytes, ht.expValues.data() + first);
      weightsBuffer_.download(offset, bytes, ht.weights.data() + first);
    }
    stats.resize(std::size_t(c.headCount) * c.rowCount * 4);
    argmax.resize(std::size_t(c.headCount) * c.rowCount);
    statsBuffer_.download(0, stats.size() * sizeof(float), stats.data());
    if (twoPass) {
      // The two-pass kernel packs the argmax into the fourth statistic; the max weight is
      // 1 / sum, divided here exactly as the CPU does.
      for (std::size_t slot = 0; slot < argmax.size(); ++slot) {
        std::memcpy(&argmax[slot], &stats[slot * 4 + 3], sizeof(int));
        stats[slot * 4 + 3] = stats[slot * 4 + 1] > 0 ? 1.0f / stats[slot * 4 + 1] : 0.0f;
      }
    } else {
      argmaxBuffer_.download(0, argmax.size() * sizeof(int), argmax.data());
    }
    for (int local = 0; local < c.headCount; ++local) {
      HeadTrace& ht = t.head[c.headBegin + local];
      for (long r = 0; r < c.rowCount; ++r) {
        const std::size_t slot = std::size_t(local) * c.rowCount + r;
        const long i = c.rowBegin + r;
        ht.rowMax(i) = stats[slot * 4 + 0];
        ht.rowSum(i) = stats[slot * 4 + 1];
        ht.stats.entropy(i) = stats[slot * 4 + 2];
        ht.stats.maxWeight(i) = stats[slot * 4 + 3];
        ht.stats.argmax(i) = argmax[slot];
        ht.stats.fullyMasked[i] = argmax[slot] < 0;
      }
    }
  }

  t.concatenated.resize(n, t.dv);
  output_.download(0, std::uint64_t(t.concatenated.size()) * sizeof(float), t.concatenated.data());
  for (int h = 0; h < t.heads; ++h) t.head[h].output = t.concatenated.middleCols(h * dvh, dvh);
  glUseProgram(0);
  throwOnGlError("while computing attention");
  timer.collect();
  recomputeExtremeRows(in, opt, t);

  t.timings.totalMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return t;
}

void AttentionKernels::dispatchTwoPass(const StageChunk& c, const GlBuffer& queries, const GlBuffer& keys,
                                       const AttentionTrace& t, float scale, int maskKind, GpuTimer& timer) {
  const int dkh = t.headKeyWidth(), dvh = t.headValueWidth(), chunks = headChunks(dkh, dvh);
  const RowShape shape = rowShape(chunks);
  queries.bind(0);
  keys.bind(1);
  maskBits_.bind(2);
  values_.bind(3);
  statsBuffer_.bind(7);
  for (int pass = 1; pass <= 2; ++pass) {
    const ComputeProgram& program = twoPassProgram(pass, chunks);
    program.use();
    program.set("n", unsigned(t.n));
    program.set("m", unsigned(t.m));
    program.set("maskKind", maskKind);
    program.set("maskWordsPerRow", unsigned((t.m + 31) / 32));
    program.set("keyWidth", unsigned(dkh));
    program.set("valueWidth", unsigned(dvh));
    program.set("keyRowStride", unsigned(t.dk));
    program.set("valueRowStride", unsigned(t.dv));
    program.set("rowBegin", unsigned(c.rowBegin));
    program.set("rowCount", unsigned(c.rowCount));
    program.set("headBegin", unsigned(c.headBegin));
    program.set("scale", scale);
    if (pass == 1) {
      scoresBuffer_.bind(4);
      scaledBuffer_.bind(5);
      maskedBuffer_.bind(6);
    } else {
      expBuffer_.bind(4);
      weightsBuffer_.bind(5);
      output_.bind(6);
    }
    timer.begin(pass == 1 ? &times_.twoPassStatsMs : &times_.twoPassWeightsMs);
    glDispatchCompute(groupsFor(c.rowCount, shape.threads * shape.rowsPerThread), unsigned(c.headCount), 1);
    timer.end();
    storageBarrier();
  }
}

Matrix AttentionKernels::flash(const AttentionInputs& in, const AttentionOptions& opt) {
  validate(in, opt);
  times_ = {};
  const int n = int(in.q.rows()), m = int(in.k.rows()), heads = opt.heads;
  const int dkh = int(in.q.cols()) / heads, dvh = int(in.v.cols()) / heads;
  if (dkh > kMaxFlashHeadWidth || dvh > kMaxFlashHeadWidth)
    throw Error("the GPU flash path handles heads up to " + std::to_string(kMaxFlashHeadWidth) +
                " wide; this one has d_k = " + std::to_string(dkh) + ", d_v = " + std::to_string(dvh) +
                " per head (use the full trace)");
  uploadInputs(in, opt);
  const GlBuffer* queries = &queries_;
  const GlBuffer* keys = &keys_;
  GpuTimer timer(timing_);
  if (opt.score == ScoreFunction::Cosine) {
    normalizeForCosine(in, heads, timer);
    queries = &normalizedQueries_;
    keys = &normalizedKeys_;
  }

  const int chunks = headChunks(dkh, dvh);
  const ComputeProgram& program = flashProgram(chunks);
  const RowShape shape = rowShape(chunks);
  program.use();
  program.set("n", unsigned(n));
  program.set("m", unsigned(m));
  program.set("maskKind", shaderMaskKind(opt.mask));
  program.set("maskWordsPerRow", unsigned((m + 31) / 32));
  program.set("keyWidth", unsigned(dkh));
  program.set("valueWidth", unsigned(dvh));
  program.set("keyRowStride", unsigned(in.q.cols()));
  program.set("valueRowStride", unsigned(in.v.cols()));
  program.set("scale", effectiveScale(opt, dkh));
  queries->bind(0);
  keys->bind(1);
  maskBits_.bind(2);
  values_.bind(3);
  output_.bind(4);
  timer.begin(&times_.flashMs);
  glDispatchCompute(groupsFor(n, shape.threads * shape.rowsPerThread), unsigned(heads), 1);
  timer.end();
  glMemoryBarrier(GL_BUFFER_UPDATE_BARRIER_BIT);
  Matrix out(n, in.v.cols());
  output_.download(0, std::uint64_t(out.size()) * sizeof(float), out.data());
  glUseProgram(0);
  throwOnGlError("while computing flash attention");
  timer.collect();
  return out;
}

std::vector<double> AttentionKernels::timeSgemm(int batch, int rows, int columns, int depth,
                                                const std::vector<float>& a, const std::vector<float>& b,
                                                int repeats, KernelTiming timing) {
  if (!sgemm_) sgemm_ = std::make_unique<ComputeProgram>("sgemm.comp");
  const std::uint64_t cBytes = std::uint64_t(batch) * rows * columns * sizeof(float);
  requireFits("the SGEMM's A", a.size() * sizeof(float));
  requireFits("the SGEMM's B", b.size() * sizeof(float));
  requireFits("the SGEMM's C", cBytes);
  GlBuffer bufferA, bufferB, bufferC;
  bufferA.upload(a.data(), a.size() * sizeof(float));
  bufferB.upload(b.data(), b.size() * sizeof(float));
  bufferC.reserve(cBytes);
  sgemm_->use();
  sgemm_->set("rows", unsigned(rows));
  sgemm_->set("columns", unsigned(columns));
  sgemm_->set("depth", unsigned(depth));
  bufferA.bind(0);
  bufferB.bind(1);
  bufferC.bind(3);
  std::vector<double> ms(std::size_t(std::max(repeats, 0)), 0.0);
  GpuTimer timer(timing == KernelTiming::Off ? KernelTiming::FinishAndClock : timing);
  for (double& each : ms) {
    timer.begin(&each);
    glDispatchCompute(groupsFor(columns, kGemmTile), groupsFor(rows, kGemmTile), unsigned(batch));
    timer.end();
    storageBarrier();
  }
  glFinish();
  glUseProgram(0);
  throwOnGlError("while running the SGEMM benchmark");
  timer.collect();
  return ms;
}

}  // namespace attnviz::gpu
