// `attnviz bench`: medians of the full trace and of each stage, against an SGEMM measured in
// the same run on the same machine.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "backends.hpp"
#include "model.hpp"
#include "weight_product.hpp"
#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "matrix_io.hpp"
#if HAVE_ATTNVIZ_GPU
#include "gpu/gpu_bench.hpp"
#endif

namespace attnviz::cli {
namespace {

constexpr const char* kBenchHelp =
    "usage: attnviz bench [--n N] [--m M] [--d D] [--heads H] [--backend cpu|gpu] [--repeat R]\n"
    "                     [--all-stages] [--q FILE --k FILE --v FILE] [--json]\n"
    "\n"
    "Runs the full trace (raw scores and weights stored, output computed) R times after a\n"
    "warm-up and prints medians: the full trace, a recompute from the scaling stage on (what a\n"
    "temperature change costs), a recompute of AV alone (what a V edit costs), the stages\n"
    "separated from those, the matmul-equivalent rate 4·n·m·d / time, and an SGEMM of the QKᵀ\n"
    "shape measured in the same run as the machine's reference. Defaults: n = m = 4096, d = 64,\n"
    "H = 1, R = 5. --all-stages also stores the scaled, masked and exp matrices (as the app does\n"
    "for small inputs). --q/--k/--v read the inputs from files instead of seeded random values.\n";

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

template <typename F>
double medianMs(int repeat, F&& run) {
  run();  // warm-up: first-touch page faults and thread start-up are not the steady state
  std::vector<double> times;
  for (int r = 0; r < repeat; ++r) {
    const auto start = Clock::now();
    run();
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  return median(times);
}

Matrix seededRandom(long rows, long cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  Matrix m(rows, cols);
  for (long i = 0; i < m.size(); ++i) m.data()[i] = dist(rng);
  return m;
}

// The high-water mark of this address space (VmHWM). getrusage's ru_maxrss also counts the
// address space before exec(): started by a script that holds a model, attnviz reported the
// script's 1.6 GiB as its own peak.
double peakRssMiB() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

// `--backend gpu`: each kernel and a tiled GLSL SGEMM on the same device, validated first.
int benchGpu(long n, long m, long d, long heads, long repeat, bool asJson) {
#if HAVE_ATTNVIZ_GPU
  if (d % heads != 0) throw Error("d = " + std::to_string(d) + " does not divide into " + std::to_string(heads) + " heads");
  GpuBenchConfig config;
  config.n = int(n);
  config.m = int(m);
  config.headWidth = int(d / heads);
  config.heads = int(heads);
  config.repeats = int(repeat);
  const GpuBenchResult r = runGpuBenchmark(config);
  nlohmann::json report = {{"n", n}, {"m", m}, {"d", d}, {"heads", heads}, {"repeat", repeat},
                           {"backend", r.device}, {"timing", r.timingMethod},
                           {"max_weight_error", r.maxWeightError}, {"max_output_error", r.maxOutputError}};
  double sgemmGflops = 0, fullGflops = 0, fullMs = 0, flashMs = 0;
  for (const GpuKernelTiming& k : r.kernels) {
    report["kernels"][k.kernel] = {{"median_ms", k.medianMs}, {"gflops", k.gflops}};
    if (k.kernel == "sgemm") sgemmGflops = k.gflops;
    if (k.kernel == "full_trace") fullGflops = k.gflops, fullMs = k.medianMs;
    if (k.kernel == "flash") flashMs = k.medianMs;
  }
  report["full_trace_fraction_of_sgemm"] = sgemmGflops > 0 ? fullGflops / sgemmGflops : 0.0;
  report["flash_speedup_over_full_trace"] = flashMs > 0 ? fullMs / flashMs : 0.0;
  if (asJson) {
    std::cout << report.dump(2) << "\n";
    return 0;
  }
  std::cout << "attnviz bench: n = " << n << ", m = " << m << ", d = " << d << ", heads = " << heads << ", "
            << r.device << ", median of " << repeat << " (" << r.timingMethod << ")\n";
  for (const GpuKernelTiming& k : r.kernels)
    std::cout << "  " << std::left << std::setw(18) << k.kernel << std::right << std::setw(10) << fixed(k.medianMs, 2)
              << " ms " << std::setw(10) << fixed(k.gflops, 1) << " GFLOP/s\n";
  std::cout << "  full trace = " << fixed(100 * fullGflops / std::max(sgemmGflops, 1e-12), 0)
            << "% of the GLSL SGEMM rate; flash is " << fixed(fullMs / std::max(flashMs, 1e-12), 2)
            << "× the full trace's speed; validated against the CPU: weights within "
            << r.maxWeightError << ", outputs within " << r.maxOutputError << "\n";
  return 0;
#else
  (void)n, (void)m, (void)d, (void)heads, (void)repeat, (void)asJson;
  throw Error("the GPU backend is not part of this build (configure with -DATTNVIZ_WITH_GPU=ON)");
#endif
}

constexpr const char* kBenchModelHelp =
    "usage: attnviz bench (--model NAME|PATH | --model-shape SHAPE [--dtype f32|f16|bf16]) [--n N] [--repeat R]\n"
    "                     [--json]\n"
    "\n"
    "Times the forward pass (every layer's attention weights kept, logits of the last position\n"
    "only) R times after a warm-up at n = 128 and 1024 (or N) and prints medians, the rate in\n"
    "GFLOP/s, the rate of an SGEMM of the MLP's shape measured in the same run (the faster of\n"
    "Eigen's and the weight kernel's; --json gives both), and the peak resident memory.\n"
    "--model-shape gpt2 uses GPT-2 small's shapes, smollm-135m SmolLM-135M's (30 layers, hidden\n"
    "576, 9 heads sharing 3 K/V heads, MLP 1536, vocabulary 49152, tied), llama-0.5b a Llama layout\n"
    "of 0.5 B parameters (hidden 1536, 16 layers, 24 heads sharing 4 K/V heads, MLP 4096, vocabulary\n"
    "32000), tinyllama-1.1b TinyLlama-1.1B's (hidden 2048, 22 layers, 32 heads sharing 4 K/V heads,\n"
    "MLP 5632), with seeded random weights stored as --dtype (f32 when not given), vit-base\n"
    "ViT-B/16's (224×224 images in 16×16 patches, 197 tokens, hidden 768, 12 layers of 12 heads, MLP\n"
    "3072, 1000 labels; one pass over a seeded random image, whatever --n says).\n"
    "--json adds the weights' type and size and the load time.\n";

// The config.json of each benchmark shape: GPT-2 small's and SmolLM-135M's (HuggingFaceTB/SmolLM-135M),
// the sizes only.
std::string benchShapeConfig(const std::string& shape) {
  if (shape == "gpt2")
    return R"({"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12,
               "n_head": 12})";
  // Llama layouts of 0.5 B parameters and TinyLlama-1.1B's (hidden 2048, 22 layers, 32 heads
  // sharing 4 K/V heads, MLP 5632, vocabulary 32000): where weights in their stored type matter.
  if (shape == "llama-0.5b")
    return R"({"model_type": "llama", "vocab_size": 32000, "max_position_embeddings": 2048, "hidden_size": 1536,
               "num_hidden_layers": 16, "num_attention_heads": 24, "num_key_value_heads": 4,
               "intermediate_size": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000})";
  if (shape == "tinyllama-1.1b")
    return R"({"model_type": "llama", "vocab_size": 32000, "max_position_embeddings": 2048, "hidden_size": 2048,
               "num_hidden_layers": 22, "num_attention_heads": 32, "num_key_value_heads": 4,
               "intermediate_size": 5632, "rms_norm_eps": 1e-5, "rope_theta": 10000})";
  if (shape == "smollm-135m")
    return R"({"model_type": "llama", "vocab_size": 49152, "max_position_embeddings": 2048, "hidden_size": 576,
               "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
               "intermediate_size": 1536, "rms_norm_eps": 1e-5, "rope_theta": 10000, "tie_word_embeddings": true})";
  // google/vit-base-patch16-224's sizes.
  if (shape == "vit-base")
    return R"({"model_type": "vit", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
               "intermediate_size": 3072, "image_size": 224, "patch_size": 16, "layer_norm_eps": 1e-12})";
  throw UsageError("--model-shape expects gpt2 (GPT-2 small's shapes), smollm-135m (SmolLM-135M's), llama-0.5b, "
                   "tinyllama-1.1b or vit-base (ViT-B/16's)");
}

}  // namespace

int cmdBenchModel(const std::vector<std::string>& args) {
  std::optional<std::string> modelArg, shape, dtype;
  std::vector<long> lengths;
  long repeat = 3;
  bool asJson = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kBenchModelHelp;
      return 0;
    }
    if (a == "--model") modelArg = takeValue(args, i);
    else if (a == "--model-shape") shape = takeValue(args, i);
    else if (a == "--n") lengths = {parseLong(a, takeValue(args, i), 1, kMaxSequenceLength)};
    else if (a == "--repeat") repeat = parseLong(a, takeValue(args, i), 1, 1000);
    else if (a == "--json") asJson = true;
    else if (a == "--dtype") dtype = takeValue(args, i);
    else throw UsageError("unknown option " + a + " with a model");
  }
  if (bool(modelArg) == bool(shape))
    throw UsageError("give --model NAME|PATH or --model-shape gpt2|smollm-135m|llama-0.5b|tinyllama-1.1b|vit-base");
  if (dtype && !shape) throw UsageError("--dtype goes with --model-shape (a checkpoint runs in the type it stores)");
  model::DType weightType = model::DType::F32;
  if (dtype && *dtype == "f16") weightType = model::DType::F16;
  else if (dtype && *dtype == "bf16") weightType = model::DType::BF16;
  else if (dtype && *dtype != "f32") throw UsageError("--dtype expects f32, f16 or bf16");
  model::Model m;
  std::string name;
  double loadMs = 0;
  if (shape) {
    name = *shape + " shape (random " + model::toString(weightType) + " weights)";
    const auto start = std::chrono::steady_clock::now();
    m = model::randomModel(benchShapeConfig(*shape), name, 7, weightType);
    loadMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  } else {
    const auto start = std::chrono::steady_clock::now();
    m = model::loadModel(*modelArg, modelsDirectory());
    loadMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    name = *modelArg;
  }
  const model::ModelShape& config = m.shape;
  const long inner = config.inner;
  const double weightMiB = double(m.architecture->weightBytes()) / (1 << 20);
  const bool vision = config.input == model::InputKind::Image;
  // A vision model reads one image of its own size: its token count is fixed.
  if (vision) lengths = {config.positions};
  if (lengths.empty()) lengths = {128, 1024};
  model::ForwardOptions options;
  options.allLogits = false;
  for (long n : lengths) {
    if (n > config.positions)
      throw Error("--n " + std::to_string(n) + " is beyond the model's " + config.positionsKey + " (" +
                  std::to_string(config.positions) + ")");
    std::function<void()> pass;
    std::vector<int> ids;
    model::PixelTensor pixels;
    if (vision) {
      pixels.channels = config.channels;
      pixels.height = pixels.width = config.imageSize;
      const Matrix noise = seededRandom(config.channels, config.imageSize * config.imageSize, 3);
      pixels.values.assign(noise.data(), noise.data() + noise.size());
      pass = [&] { model::forward(m, pixels, options); };
    } else {
      for (long i = 0; i < n; ++i) ids.push_back(int((i * 7919) % config.vocabSize));
      pass = [&] { model::forward(m, ids, options); };
    }
    const double forwardMs = medianMs(int(repeat), pass);
    const double rss = peakRssMiB();
    const double gflops = m.architecture->forwardFlops(n, 1) / (forwardMs * 1e6);
    // The machine's reference: the faster of Eigen's SGEMM and the weight kernel on the MLP's
    // first product (n × d_model · d_model × inner), timed in this run.
    const Matrix a = seededRandom(n, config.dModel, 1), b = seededRandom(config.dModel, inner, 2);
    const model::WeightMatrix weights{Matrix(b.transpose())};
    Matrix product(n, inner);
    const double eigenMs = medianMs(int(repeat), [&] { product.noalias() = a * b; });
    const double kernelMs = medianMs(int(repeat), [&] {
      model::weightProduct(a, weights, model::WeightLayout::OutputsByInputs, Vector(), product);
    });
    const double sgemmFlops = 2.0 * double(n) * config.dModel * inner;
    const double sgemmGflops = sgemmFlops / (std::min(eigenMs, kernelMs) * 1e6);
    if (asJson) {
      nlohmann::json j = {{"model", name},       {"n", n},
                          {"forward_ms", forwardMs}, {"gflops", gflops},
                          {"sgemm_gflops", sgemmGflops}, {"fraction_of_sgemm", gflops / sgemmGflops},
                          {"sgemm_eigen_gflops", sgemmFlops / (eigenMs * 1e6)},
                          {"sgemm_weight_kernel_gflops", sgemmFlops / (kernelMs * 1e6)},
                          {"peak_rss_mib", rss},     {"repeat", repeat},
                          {"weights_dtype", m.weightsDtype}, {"weight_mib", weightMiB},
                          {"load_ms", loadMs},
                          {"allocator_tunables", std::getenv("GLIBC_TUNABLES") ? std::getenv("GLIBC_TUNABLES") : ""},
                          {"threads", Eigen::nbThreads()}};
      std::cout << j.dump() << "\n";
    } else {
      std::cout << name << ", n = " << n << ": forward " << fixed(forwardMs, 1) << " ms (median of " << repeat
                << "), " << fixed(gflops, 1) << " GFLOP/s = " << fixed(100 * gflops / sgemmGflops, 0)
                << "% of SGEMM (" << fixed(sgemmGflops, 1) << " GFLOP/s, " << n << "×" << config.dModel << " · "
                << config.dModel << "×" << inner << "), peak RSS " << fixed(rss, 0) << " MiB\n";
    }
  }
  return 0;
}

int cmdBench(const std::vector<std::string>& args) {
  if (hasFlag(args, "--model") || hasFlag(args, "--model-shape")) return cmdBenchModel(args);
  long n = 4096, m = -1, d = 64, heads = 1, repeat = 5;
  std::string backendName = "cpu";
  bool asJson = false, allStages = false;
  std::optional<std::string> qFile, kFile, vFile;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kBenchHelp;
      return 0;
    }
    if (a == "--n") n = parseLong(a, takeValue(args, i), 1, kMaxSequenceLength);
    else if (a == "--m") m = parseLong(a, takeValue(args, i), 1, kMaxSequenceLength);
    else if (a == "--d") d = parseLong(a, takeValue(args, i), 1, 4096);
    else if (a == "--heads") heads = parseLong(a, takeValue(args, i), 1, 4096);
    else if (a == "--repeat") repeat = parseLong(a, takeValue(args, i), 1, 1000);
    else if (a == "--backend") backendName = takeValue(args, i);
    else if (a == "--json") asJson = true;
    else if (a == "--all-stages") allStages = true;
    else if (a == "--q") qFile = takeValue(args, i);
    else if (a == "--k") kFile = takeValue(args, i);
    else if (a == "--v") vFile = takeValue(args, i);
    else throw UsageError("unknown option " + a);
  }
  if (backendName != "cpu" && backendName != "gpu") throw UsageError("--backend expects cpu or gpu");
  if ((qFile || kFile || vFile) && !(qFile && kFile && vFile))
    throw UsageError("--q, --k and --v go together");
  if (m < 0) m = n;

  if (backendName == "gpu") {
    if (qFile) throw UsageError("--q/--k/--v are for the CPU backend; the GPU benchmark uses seeded inputs");
    return benchGpu(n, m, d, heads, repeat, asJson);
  }

  AttentionInputs in;
  if (qFile) {
    in = {readMatrixFile(*qFile).values, readMatrixFile(*kFile).values, readMatrixFile(*vFile).values};
    n = in.q.rows();
    m = in.k.rows();
    d = in.q.cols();
  } else {
    in = {seededRandom(n, d, 1), seededRandom(m, d, 2), seededRandom(m, d, 3)};
  }
  AttentionOptions options;
  options.heads = int(heads);
  validate(in, options);

  nlohmann::json report;
  report["n"] = n;
  report["m"] = m;
  report["d"] = d;
  report["heads"] = heads;
  report["repeat"] = repeat;
  report["all_stages"] = allStages;
  const double flops = 4.0 * double(n) * double(m) * double(d);

  auto backend = makeBackend(backendName);
  report["backend"] = backend->name();
  double fullMs, fromScaleMs, fromOutputMs;
  size_t keptBytes = 0;
  {
    AttentionPipeline pipeline;
    pipeline.keepDerivedStages(allStages);
    pipeline.setInputs(in);
    pipeline.setOptions(options);
    fullMs = medianMs(int(repeat), [&] {
      pipeline.setInputs(in);
      pipeline.run();
    });
    float temperature = 1;
    fromScaleMs = medianMs(int(repeat), [&] {
      AttentionOptions o = pipeline.options();
      o.temperature = (temperature = temperature == 1 ? 0.5f : 1.0f);
      pipeline.setOptions(o);
      pipeline.run();
    });
    fromOutputMs = medianMs(int(repeat), [&] {
      pipeline.setValues(in.v);
      pipeline.run();
    });
    const auto bytes = [](const auto& m) { return size_t(m.size()) * sizeof(float); };
    for (const HeadTrace& h : pipeline.trace().head)
      keptBytes += bytes(h.scores) + bytes(h.scaled) + bytes(h.masked) + bytes(h.expValues) + bytes(h.weights) +
                   bytes(h.output) + 4 * bytes(h.rowMax);
    keptBytes += bytes(pipeline.trace().concatenated) + bytes(in.q) + bytes(in.k) + bytes(in.v);
  }

  // Peak memory of the trace alone, before the SGEMM reference allocates its own n×m product;
  // compared with the bytes of the matrices the trace keeps.
  const double traceRssMiB = peakRssMiB();
  const double keptMiB = double(keptBytes) / (1024.0 * 1024.0);

  // The machine's reference: one SGEMM of the QKᵀ shape (n×d times d×m), all threads.
  Matrix product(n, m);
  const double sgemmMs = medianMs(int(repeat), [&] { product.noalias() = in.q * in.k.transpose(); });
  const double sgemmGflops = 2.0 * double(n) * double(m) * double(d) / (sgemmMs * 1e6);
  const double gflops = flops / (fullMs * 1e6);

  report["median_ms"] = {{"full_trace", fullMs}, {"from_scale", fromScaleMs}, {"from_output", fromOutputMs}};
  report["stage_ms"] = {{"scores", fullMs - fromScaleMs},
                          {"scale_mask_softmax", fromScaleMs - fromOutputMs},
                          {"weighted_sum", fromOutputMs}};
  report["gflops"] = gflops;
  report["sgemm"] = {{"shape", {n, d, m}}, {"median_ms", sgemmMs}, {"gflops", sgemmGflops}};
  report["fraction_of_sgemm"] = gflops / sgemmGflops;
  report["temperature_change_fraction"] = fromScaleMs / fullMs;
  report["peak_rss_mib"] = traceRssMiB;
  report["kept_mib"] = keptMiB;

  if (asJson) {
    std::cout << report.dump(2) << "\n";
    return 0;
  }
  std::cout << "attnviz bench: n = " << n << ", m = " << m << ", d = " << d << ", heads = " << heads
            << ", " << backend->name() << ", median of " << repeat << "\n";
  std::cout << "  full trace          " << fixed(fullMs, 2) << " ms   " << fixed(gflops, 1)
            << " GFLOP/s (4·n·m·d)\n";
  {
    std::cout << "  from scale on       " << fixed(fromScaleMs, 2) << " ms   (" << fixed(100 * fromScaleMs / fullMs, 0)
              << "% of full: a temperature, scale or mask change)\n";
    std::cout << "  AV only             " << fixed(fromOutputMs, 2) << " ms   (a V edit)\n";
    std::cout << "  stages: QKᵀ " << fixed(fullMs - fromScaleMs, 2) << " ms, scale+mask+softmax "
              << fixed(fromScaleMs - fromOutputMs, 2) << " ms, AV " << fixed(fromOutputMs, 2) << " ms\n";
  }
  std::cout << "  SGEMM " << n << "×" << d << "·" << d << "×" << m << "  " << fixed(sgemmMs, 2) << " ms   "
            << fixed(sgemmGflops, 1) << " GFLOP/s (in-run reference)\n";
  std::cout << "  full trace rate = " << fixed(100 * gflops / sgemmGflops, 0) << "% of SGEMM\n";
  std::cout << "  peak RSS " << fixed(traceRssMiB, 0) << " MiB for " << fixed(keptMiB, 0)
            << " MiB of kept matrices (inputs, stages, output), before the SGEMM reference\n";
  return 0;
}

}  // namespace attnviz::cli
