#pragma once
// The host side of the compute shaders: buffers, dispatch sizes, splitting large n×m stages
// into chunks that fit the driver's shader-storage limit, and reading the trace back.
// Internal to attnviz_gpu; every call needs the GL context current.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attention.hpp"
#include "gpu_backend.hpp"
#include "shader_program.hpp"

namespace attnviz::gpu {

// One GL buffer object that grows when asked for more than it holds.
class GlBuffer {
 public:
  GlBuffer() = default;
  ~GlBuffer();
  GlBuffer(const GlBuffer&) = delete;
  GlBuffer& operator=(const GlBuffer&) = delete;

  void reserve(std::uint64_t bytes);  // contents are lost when it grows
  void upload(const void* data, std::uint64_t bytes);
  void download(std::uint64_t offset, std::uint64_t bytes, void* destination) const;
  void bind(unsigned binding) const;
  unsigned id() const { return id_; }

 private:
  unsigned id_ = 0;
  std::uint64_t capacity_ = 0;
};

// How kernels are timed: not at all (normal runs), by GL_TIME_ELAPSED queries, or by wall
// clock between glFinish calls (for drivers such as llvmpipe whose queries do not see the work).
enum class KernelTiming { Off, TimerQueries, FinishAndClock };

// Milliseconds per kernel of the last run, summed over chunks.
struct KernelTimes {
  double normalizeMs = 0, scoresMs = 0, softmaxMs = 0, weightedSumMs = 0, flashMs = 0;
  double twoPassStatsMs = 0, twoPassWeightsMs = 0;  // the two-pass trace's passes
  double kernelsMs() const {
    return normalizeMs + scoresMs + softmaxMs + weightedSumMs + flashMs + twoPassStatsMs + twoPassWeightsMs;
  }
};

// Rows [rowBegin, rowBegin + rowCount) of heads [headBegin, headBegin + headCount): the part of
// every n×m stage that is on the GPU at once.
struct StageChunk {
  int headBegin = 0, headCount = 0;
  long rowBegin = 0, rowCount = 0;
};

class GpuTimer;

class AttentionKernels {
 public:
  // Compiles every kernel and reads the driver's limits. Throws Error with the driver's log.
  explicit AttentionKernels(const GpuSettings& settings);

  AttentionTrace trace(const AttentionInputs& inputs, const AttentionOptions& options);
  Matrix flash(const AttentionInputs& inputs, const AttentionOptions& options);
  const KernelTimes& lastTimes() const { return times_; }
  void setTiming(KernelTiming timing) { timing_ = timing; }
  // StoredScores or TwoPass (Auto resolves to the default); the benchmark alternates them.
  void setTraceMethod(GpuTraceMethod method);
  GpuTraceMethod traceMethod() const { return traceMethod_; }
  // Whether the trace of heads d_k, d_v wide runs as the method says (the two-pass kernels
  // take heads up to kMaxFlashHeadWidth; wider ones use the stored-scores path).
  bool usesTwoPass(int headKeyWidth, int headValueWidth) const;

  // Batched row-major C = A·B with `batch` pairs of rows×depth and depth×columns matrices of
  // `a` and `b`, for the benchmark. Returns the milliseconds of each of `repeats` runs, timed
  // as `timing` says (Off counts as FinishAndClock).
  std::vector<double> timeSgemm(int batch, int rows, int columns, int depth, const std::vector<float>& a,
                                const std::vector<float>& b, int repeats, KernelTiming timing);

  // How the trace of an n×m problem with `heads` heads is split (exposed for tests).
  std::vector<StageChunk> planChunks(int heads, long n, long m) const;
  std::uint64_t stageBufferLimitBytes() const { return stageLimit_; }

  static constexpr int kMaxFlashHeadWidth = 256;

 private:
  void uploadInputs(const AttentionInputs& inputs, const AttentionOptions& options);
  void normalizeForCosine(const AttentionInputs& inputs, int heads, GpuTimer& timer);
  void requireFits(const char* what, std::uint64_t bytes) const;
  const ComputeProgram& flashProgram(int chunks);
  const ComputeProgram& twoPassProgram(int pass, int chunks);
  void dispatchTwoPass(const StageChunk& c, const GlBuffer& queries, const GlBuffer& keys,
                       const AttentionTrace& t, float scale, int maskKind, GpuTimer& timer);
  struct RowShape {
    unsigned threads, rowsPerThread;
  };
  RowShape rowShape(int chunks) const;
  double elapsedMs(unsigned query) const;

  ComputeProgram normalize_, scores_, softmax_, weightedSum_;
  std::map<int, ComputeProgram> flash_;     // by 64-wide chunks per head
  std::map<int, ComputeProgram> twoPass_;   // by pass · 16 + chunks
  bool cpuShapes_ = false;
  GpuTraceMethod traceMethod_ = GpuTraceMethod::TwoPass;
  std::unique_ptr<ComputeProgram> sgemm_;
  GlBuffer queries_, keys_, values_, normalizedQueries_, normalizedKeys_, maskBits_, output_;
  GlBuffer scoresBuffer_, scaledBuffer_, maskedBuffer_, expBuffer_, weightsBuffer_, statsBuffer_,
      argmaxBuffer_;
  std::uint64_t maxBlockBytes_ = 0, stageLimit_ = 0;
  int maxGroups_[3] = {65535, 65535, 65535};
  KernelTimes times_;
  KernelTiming timing_ = KernelTiming::Off;
};

}  // namespace attnviz::gpu
