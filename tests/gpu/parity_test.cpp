// Parity of both GPU paths with the CPU engine over shapes, heads, masks, temperatures,
// score functions and magnitudes, in the manner of ggml's test-backend-ops.
//
// The full grid (7 n × 7 m × 6 d × 4 heads × 4 masks × ...) is too slow for llvmpipe on two
// cores, so it is sampled deterministically: case c takes each axis's value at an index that
// cycles at a different rate, which visits every value of every axis and mixes them.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <memory>
#include <sstream>

#include "gpu_fixture.hpp"
#include "parity_check.hpp"

namespace attnviz::test {
namespace {

enum class MaskPattern { None, Causal, Random, FullyMaskedRows };
enum class Magnitude { Unit, Large };

constexpr std::array kSequenceLengths{1, 2, 3, 17, 64, 129, 1000};
constexpr std::array kHeadWidths{1, 3, 16, 64, 128, 256};
constexpr std::array kTemperatures{0.1f, 0.3f, 1.0f, 3.0f, 10.0f};
constexpr std::array kMasks{MaskPattern::None, MaskPattern::Causal, MaskPattern::Random,
                            MaskPattern::FullyMaskedRows};
constexpr std::array kScores{ScoreFunction::Scaled, ScoreFunction::Dot, ScoreFunction::Cosine};

struct ParityCase {
  int n, m, keyWidth, valueWidth, heads;
  MaskPattern mask;
  float temperature;
  ScoreFunction score;
  Magnitude magnitude;
};

const char* maskName(MaskPattern p) {
  switch (p) {
    case MaskPattern::None: return "none";
    case MaskPattern::Causal: return "causal";
    case MaskPattern::Random: return "random";
    case MaskPattern::FullyMaskedRows: return "fullrows";
  }
  return "?";
}

std::vector<ParityCase> sampledCases() {
  std::vector<ParityCase> cases;
  constexpr int kCases = 84;  // 7 × 6 × 2: every (n, d) pair twice, other axes shifted
  for (int c = 0; c < kCases; ++c) {
    ParityCase p;
    p.n = kSequenceLengths[c % 7];
    p.m = kSequenceLengths[(c + c / 7) % 7];
    p.keyWidth = kHeadWidths[c % 6];
    p.valueWidth = kHeadWidths[(c * 5 + 3) % 6];
    p.heads = 1 + c % 4;
    p.mask = kMasks[(c + c / 4) % 4];
    p.temperature = kTemperatures[(c + c / 5) % 5];
    p.score = kScores[c % 3];
    // Scores near 1e4 need exact inputs (see makeInputs); cosine scores stay within ±1.
    p.magnitude = c % 5 == 2 && p.score != ScoreFunction::Cosine ? Magnitude::Large : Magnitude::Unit;
    // Four 1000×1000 heads of width 256 are minutes on llvmpipe; narrower ones cover the shape.
    const long work = long(p.heads) * p.n * p.m * (p.keyWidth + p.valueWidth);
    if (work > 400'000'000L) p.heads = 1;
    cases.push_back(p);
  }
  return cases;
}

std::string caseName(const ParityCase& p) {
  std::ostringstream s;
  s << "n" << p.n << "_m" << p.m << "_dk" << p.keyWidth << "_dv" << p.valueWidth << "_h" << p.heads << "_"
    << maskName(p.mask) << "_T" << int(std::lround(p.temperature * 10)) << "_" << toString(p.score)
    << (p.magnitude == Magnitude::Large ? "_large" : "");
  return s.str();
}

// A fixed generator so every platform gets the same inputs (std distributions differ).
class Lcg {
 public:
  explicit Lcg(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 7) {}
  double unit() {  // [0, 1)
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return double(state_ >> 11) / double(1ull << 53);
  }
  float symmetric() { return float(unit() * 2 - 1); }
  int integer(int bound) { return int(std::floor(unit() * (2 * bound + 1))) - bound; }  // [-bound, bound]

 private:
  std::uint64_t state_;
};

// Large scores are only comparable if both sides compute them exactly: with integer entries
// every partial sum is an integer below 2^24, so no summation order rounds. The bound R makes
// the largest possible |score · scale| 1e4.
AttentionInputs makeInputs(const ParityCase& p, const AttentionOptions& options, std::uint64_t seed) {
  Lcg rng(seed);
  AttentionInputs in{Matrix(p.n, p.keyWidth * p.heads), Matrix(p.m, p.keyWidth * p.heads),
                     Matrix(p.m, p.valueWidth * p.heads)};
  if (p.magnitude == Magnitude::Large) {
    const double scale = effectiveScale(options, p.keyWidth);
    const int bound = std::max(1, int(std::sqrt(1e4 / (p.keyWidth * scale))));
    for (Matrix* x : {&in.q, &in.k})
      for (Eigen::Index i = 0; i < x->size(); ++i) x->data()[i] = float(rng.integer(bound));
  } else if (p.score == ScoreFunction::Dot) {
    // Unscaled dot products of d terms reach ±d/T; in general floats the CPU's and the GPU's
    // summation orders then differ by more than the weight tolerance allows (a 1e-5 change in
    // a score of 60 moves its weight by ~1e-5). Multiples of 1/64 keep every sum exact.
    for (Matrix* x : {&in.q, &in.k})
      for (Eigen::Index i = 0; i < x->size(); ++i) x->data()[i] = std::round(rng.symmetric() * 64) / 64;
  } else {
    for (Matrix* x : {&in.q, &in.k})
      for (Eigen::Index i = 0; i < x->size(); ++i) x->data()[i] = rng.symmetric();
  }
  for (Eigen::Index i = 0; i < in.v.size(); ++i) in.v.data()[i] = rng.symmetric();
  return in;
}

AttentionOptions makeOptions(const ParityCase& p, std::uint64_t seed) {
  AttentionOptions o;
  o.heads = p.heads;
  o.temperature = p.temperature;
  o.score = p.score;
  Lcg rng(seed ^ 0xABCDEFull);
  switch (p.mask) {
    case MaskPattern::None: o.mask = MaskKind::None; break;
    case MaskPattern::Causal: o.mask = MaskKind::Causal; break;
    case MaskPattern::Random:
    case MaskPattern::FullyMaskedRows:
      o.mask = MaskKind::Custom;
      o.customMask.resize(p.n, p.m);
      for (int i = 0; i < p.n; ++i)
        for (int j = 0; j < p.m; ++j) o.customMask(i, j) = rng.unit() < 0.6 ? 1 : 0;
      if (p.mask == MaskPattern::FullyMaskedRows)
        for (int i = 0; i < p.n; i += 3) o.customMask.row(i).setZero();  // rows 0, 3, 6, ...
      break;
  }
  return o;
}

class GpuParity : public ::testing::TestWithParam<ParityCase> {};

// Every case runs on the default backend (on llvmpipe: two-pass trace, CPU-shaped tiles) and
// on two that force what a real GPU would run, so CI checks every kernel variant there.
struct BackendVariant {
  const char* name;
  GpuTraceMethod method;
  GpuKernelShapes shapes;
};
constexpr BackendVariant kVariants[] = {
    {"default", GpuTraceMethod::Auto, GpuKernelShapes::Auto},
    {"stored S, GPU tile shapes", GpuTraceMethod::StoredScores, GpuKernelShapes::Gpu},
    {"two-pass, GPU tile shapes", GpuTraceMethod::TwoPass, GpuKernelShapes::Gpu},
};

GpuBackend& variantBackend(int index) {
  if (index == 0) return sharedGpuBackend();
  static std::unique_ptr<GpuBackend> backends[std::size(kVariants)];
  if (!backends[index]) {
    GpuSettings settings;
    settings.traceMethod = kVariants[index].method;
    settings.kernelShapes = kVariants[index].shapes;
    backends[index] = makeHeadlessGpuBackend(settings);
  }
  return *backends[index];
}

TEST_P(GpuParity, TraceAndFlashMatchCpu) {
  const ParityCase& p = GetParam();
  const std::uint64_t seed = std::hash<std::string>{}(caseName(p)) & 0xffffffff;
  const AttentionOptions options = makeOptions(p, seed);
  const AttentionInputs inputs = makeInputs(p, options, seed);
  const AttentionTrace cpu = computeAttention(inputs, options);

  for (int v = 0; v < int(std::size(kVariants)); ++v) {
    GpuBackend& gpu = variantBackend(v);
    ASSERT_GPU_AVAILABLE(gpu);
    const bool runFlash = v != 2;  // variant 1 already ran flash with the GPU tile shapes
    const AttentionTrace trace = gpu.run(inputs, options);
    EXPECT_EQ(compareTraces(trace, cpu, inputs), "") << "full trace (" << kVariants[v].name << ") on " << gpu.name();
    if (!runFlash) continue;
    const Matrix flash = gpu.runFlash(inputs, options);
    EXPECT_EQ(compareMatrices("flash output", flash, cpu.concatenated, kOutputTolerance), "")
        << "flash path (" << kVariants[v].name << ") on " << gpu.name();
  }
}

INSTANTIATE_TEST_SUITE_P(Sampled, GpuParity, ::testing::ValuesIn(sampledCases()),
                         [](const auto& info) { return caseName(info.param); });

// The sample above must visit every listed value of every axis.
TEST(GpuParityGrid, EveryAxisValueIsCovered) {
  const auto cases = sampledCases();
  const auto covers = [&](auto member, auto value) {
    for (const auto& c : cases)
      if (member(c) == value) return true;
    return false;
  };
  for (int v : kSequenceLengths) {
    EXPECT_TRUE(covers([](const ParityCase& c) { return c.n; }, v)) << "n = " << v;
    EXPECT_TRUE(covers([](const ParityCase& c) { return c.m; }, v)) << "m = " << v;
  }
  for (int v : kHeadWidths) {
    EXPECT_TRUE(covers([](const ParityCase& c) { return c.keyWidth; }, v)) << "d_k = " << v;
    EXPECT_TRUE(covers([](const ParityCase& c) { return c.valueWidth; }, v)) << "d_v = " << v;
  }
  for (int v = 1; v <= 4; ++v) EXPECT_TRUE(covers([](const ParityCase& c) { return c.heads; }, v)) << "heads " << v;
  for (auto v : kMasks) EXPECT_TRUE(covers([](const ParityCase& c) { return c.mask; }, v)) << maskName(v);
  for (float v : kTemperatures)
    EXPECT_TRUE(covers([](const ParityCase& c) { return c.temperature; }, v)) << "T = " << v;
  for (auto v : kScores) EXPECT_TRUE(covers([](const ParityCase& c) { return c.score; }, v)) << toString(v);
  EXPECT_TRUE(covers([](const ParityCase& c) { return c.magnitude; }, Magnitude::Large));
}

}  // namespace
}  // namespace attnviz::test
