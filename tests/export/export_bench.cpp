// Export of large figures (issue 4: a 4096×4096 weights map at 1 px per cell without labels in
// about a second). Timed separately from the attention itself, which is not export work.
// Run: build/tests/export/export_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>

#include "attention.hpp"
#include "figure/figure.hpp"

namespace {

using namespace attnviz;

const AttentionTrace& traceOf(int n) {
  static std::map<int, AttentionTrace> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  AttentionInputs in;
  const int d = 64;
  // Seeded, so every run renders the same weights.
  std::srand(1);
  in.q = Matrix::Random(n, d);
  in.k = Matrix::Random(n, d);
  in.v = Matrix::Random(n, d);
  AttentionOptions o;
  o.mask = MaskKind::Causal;
  return cache.emplace(n, computeAttention(in, o)).first->second;
}

FigureRequest requestOf(int n, bool labels) {
  FigureOptions o;
  o.stage = StageId::Weights;
  o.cellPx = 1;
  o.labels = labels;
  return makeFigureRequest(traceOf(n), {}, {}, "bench", o);
}

void BM_ExportPng(benchmark::State& state) {
  const int n = int(state.range(0));
  const FigureRequest r = requestOf(n, false);
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string png = renderFigurePng(r);
    bytes = png.size();
    benchmark::DoNotOptimize(png.data());
  }
  state.counters["MB"] = double(bytes) / 1e6;
}
BENCHMARK(BM_ExportPng)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

// makeFigureRequest as well: copying the stage and the automatic range are part of an export.
void BM_RequestAndPng(benchmark::State& state) {
  const int n = int(state.range(0));
  traceOf(n);
  for (auto _ : state) {
    const std::string png = renderFigurePng(requestOf(n, false));
    benchmark::DoNotOptimize(png.data());
  }
}
BENCHMARK(BM_RequestAndPng)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ExportSvgEmbedded(benchmark::State& state) {
  const FigureRequest r = requestOf(int(state.range(0)), false);
  for (auto _ : state) {
    const std::string svg = renderFigureSvg(r);
    benchmark::DoNotOptimize(svg.data());
  }
}
BENCHMARK(BM_ExportSvgEmbedded)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
