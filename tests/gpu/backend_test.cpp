// The GPU backend's contract beyond parity: names, splitting of large stages, the caller's
// context, and failures that become one-line Errors instead of crashes.
#include <glad/egl.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gl_context.hpp"
#include "gpu_fixture.hpp"
#include "parity_check.hpp"

namespace attnviz::test {
namespace {

namespace fs = std::filesystem;

AttentionInputs smallInputs(int n, int m, int dk, int dv, unsigned seed) {
  std::srand(seed);
  return {Matrix::Random(n, dk), Matrix::Random(m, dk), Matrix::Random(m, dv)};
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A copy of the source shaders in a fresh directory, for tests that break one.
fs::path copyOfShaders(const std::string& tag) {
  const fs::path dir = fs::temp_directory_path() / ("attnviz_gpu_test_" + tag + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(ATTNVIZ_SHADER_SOURCE_DIR)) fs::copy(entry.path(), dir / entry.path().filename());
  return dir;
}

void appendLine(const fs::path& file, const std::string& line) {
  std::ofstream(file, std::ios::app) << line << "\n";
}

TEST(GpuBackend, NamesTheRenderer) {
  GpuBackend& gpu = sharedGpuBackend();
  ASSERT_GPU_AVAILABLE(gpu);
  EXPECT_FALSE(gpu.renderer().empty());
  EXPECT_EQ(gpu.name(), "GPU (" + gpu.renderer() + ")");
}

TEST(GpuBackend, SplitsStagesLargerThanTheBufferLimitIntoChunks) {
  const AttentionInputs in = smallInputs(129, 1000, 3 * 16, 3 * 8, 7);
  AttentionOptions options;
  options.heads = 3;
  options.mask = MaskKind::Causal;
  const AttentionTrace cpu = computeAttention(in, options);
  // 64 KiB: 16 rows of 3 heads per chunk; 8000 bytes: heads split too (2 rows of 1000 keys).
  for (GpuTraceMethod method : {GpuTraceMethod::StoredScores, GpuTraceMethod::TwoPass})
    for (std::uint64_t limit : {std::uint64_t(64 * 1024), std::uint64_t(8000)}) {
      GpuSettings settings;
      settings.stageBufferLimitBytes = limit;
      settings.traceMethod = method;
      const auto gpu = makeHeadlessGpuBackend(settings);
      ASSERT_GPU_AVAILABLE(*gpu);
      EXPECT_EQ(compareTraces(gpu->run(in, options), cpu, in), "")
          << "limit " << limit << (method == GpuTraceMethod::TwoPass ? ", two-pass" : ", stored S");
    }
}

// The two-pass kernels hold heads up to 256 wide in registers; wider ones take the stored-S path.
TEST(GpuBackend, TwoPassTraceFallsBackForHeadsWiderThan256) {
  GpuSettings settings;
  settings.traceMethod = GpuTraceMethod::TwoPass;
  const auto gpu = makeHeadlessGpuBackend(settings);
  ASSERT_GPU_AVAILABLE(*gpu);
  const AttentionInputs in = smallInputs(5, 7, 300, 8, 3);
  EXPECT_EQ(compareTraces(gpu->run(in, {}), computeAttention(in, {}), in), "");
}

TEST(GpuBackend, RejectsARowLargerThanTheBufferLimit) {
  GpuSettings settings;
  settings.stageBufferLimitBytes = 1024;
  const auto gpu = makeHeadlessGpuBackend(settings);
  ASSERT_GPU_AVAILABLE(*gpu);
  try {
    gpu->run(smallInputs(4, 300, 8, 8, 1), {});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m = 300"), std::string::npos) << e.what();
  }
}

TEST(GpuBackend, FlashRejectsHeadsWiderThan256) {
  GpuBackend& gpu = sharedGpuBackend();
  ASSERT_GPU_AVAILABLE(gpu);
  EXPECT_THROW(gpu.runFlash(smallInputs(4, 4, 300, 8, 2), {}), Error);
  // The full trace has no such limit.
  const AttentionInputs in = smallInputs(4, 5, 300, 300, 2);
  EXPECT_EQ(compareTraces(gpu.run(in, {}), computeAttention(in, {}), in), "");
}

TEST(GpuBackend, InvalidInputsGiveTheEnginesError) {
  GpuBackend& gpu = sharedGpuBackend();
  ASSERT_GPU_AVAILABLE(gpu);
  AttentionOptions options;
  options.heads = 3;
  EXPECT_THROW(gpu.run(smallInputs(4, 4, 8, 8, 3), options), Error);
  EXPECT_THROW(gpu.runFlash(smallInputs(4, 4, 8, 8, 3), options), Error);
}

TEST(GpuBackend, CosineKeepsZeroRowsAtZero) {
  GpuBackend& gpu = sharedGpuBackend();
  ASSERT_GPU_AVAILABLE(gpu);
  AttentionInputs in = smallInputs(5, 6, 8, 4, 4);
  in.q.row(2).setZero();
  in.k.row(4).head(4).setZero();  // only head 0's slice of key 4
  AttentionOptions options;
  options.score = ScoreFunction::Cosine;
  options.heads = 2;
  const AttentionTrace cpu = computeAttention(in, options);
  EXPECT_EQ(compareTraces(gpu.run(in, options), cpu, in), "");
  EXPECT_EQ(compareMatrices("flash", gpu.runFlash(in, options), cpu.concatenated, kOutputTolerance), "");
}

TEST(GpuBackend, ShadersLoadFromTheSourceTreeWhenAsked) {
  ScopedEnv env("ATTNVIZ_SHADER_DIR", ATTNVIZ_SHADER_SOURCE_DIR);
  const auto gpu = makeHeadlessGpuBackend();
  ASSERT_GPU_AVAILABLE(*gpu);
  const AttentionInputs in = smallInputs(17, 9, 6, 6, 5);
  EXPECT_EQ(compareTraces(gpu->run(in, {}), computeAttention(in, {}), in), "");
}

TEST(GpuBackend, BrokenShaderGivesTheDriverLogNotACrash) {
  const fs::path dir = copyOfShaders("broken");
  appendLine(dir / "softmax.comp", "this is not GLSL;");
  ScopedEnv env("ATTNVIZ_SHADER_DIR", dir.string());
  const auto gpu = makeHeadlessGpuBackend();
  std::string reason;
  EXPECT_FALSE(gpu->available(&reason));
  EXPECT_NE(reason.find("softmax.comp failed to compile"), std::string::npos) << reason;
  EXPECT_NE(reason.find("error"), std::string::npos) << "no driver log in: " << reason;
  EXPECT_EQ(reason.find('\n'), std::string::npos) << "not one line: " << reason;
  EXPECT_EQ(gpu->name(), "GPU (unavailable)");
  try {
    gpu->run(smallInputs(2, 2, 2, 2, 6), {});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), reason);
  }
  EXPECT_THROW(gpu->runFlash(smallInputs(2, 2, 2, 2, 6), {}), Error);
  fs::remove_all(dir);
}

TEST(GpuBackend, ErrorInAnIncludeNamesTheIncludedFile) {
  const fs::path dir = copyOfShaders("include");
  appendLine(dir / "mask.glsl", "int broken = ;");
  ScopedEnv env("ATTNVIZ_SHADER_DIR", dir.string());
  std::string reason;
  EXPECT_FALSE(makeHeadlessGpuBackend()->available(&reason));
  EXPECT_NE(reason.find("mask.glsl"), std::string::npos) << reason;
  fs::remove_all(dir);
}

TEST(GpuBackend, MissingShaderFileIsAnError) {
  const fs::path dir = copyOfShaders("missing");
  fs::remove(dir / "gemm_tile.glsl");
  ScopedEnv env("ATTNVIZ_SHADER_DIR", dir.string());
  std::string reason;
  EXPECT_FALSE(makeHeadlessGpuBackend()->available(&reason));
  EXPECT_NE(reason.find("gemm_tile.glsl"), std::string::npos) << reason;
  fs::remove_all(dir);
}

// The desktop app's route: the backend on a context the caller made current.
TEST(GpuBackend, RunsOnTheCallersCurrentContext) {
  const auto context = gpu::HeadlessGlContext::create();
  context->makeCurrent();
  const auto gpu = makeGpuBackendForCurrentContext(reinterpret_cast<GlProcAddressLoader>(eglGetProcAddress));
  ASSERT_GPU_AVAILABLE(*gpu);
  const AttentionInputs in = smallInputs(33, 21, 16, 8, 8);
  AttentionOptions options;
  options.heads = 2;
  options.mask = MaskKind::Causal;
  const AttentionTrace cpu = computeAttention(in, options);
  EXPECT_EQ(compareTraces(gpu->run(in, options), cpu, in), "");
  EXPECT_EQ(compareMatrices("flash", gpu->runFlash(in, options), cpu.concatenated, kOutputTolerance), "");
}

TEST(GpuBackend, NoCurrentContextIsUnavailableNotACrash) {
  sharedGpuBackend();  // GL entry points are loaded, but no context is current below
  eglMakeCurrent(eglGetCurrentDisplay(), EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
  const auto gpu = makeGpuBackendForCurrentContext(nullptr);
  std::string reason;
  EXPECT_FALSE(gpu->available(&reason));
  EXPECT_FALSE(reason.empty());
  EXPECT_THROW(gpu->run(smallInputs(2, 2, 2, 2, 9), {}), Error);
  // The shared headless backend makes its own context current again.
  ASSERT_GPU_AVAILABLE(sharedGpuBackend());
  const AttentionInputs in = smallInputs(3, 3, 4, 4, 10);
  EXPECT_EQ(compareTraces(sharedGpuBackend().run(in, {}), computeAttention(in, {}), in), "");
}

}  // namespace
}  // namespace attnviz::test
