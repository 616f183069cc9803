#include "gpt2.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "checkpoint.hpp"
#include "matrix_io.hpp"
#include "safetensors.hpp"
#include "tokens.hpp"

namespace attnviz::model {
namespace {

namespace fs = std::filesystem;

bool isPickle(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".ckpt" || ext == ".pkl";
}

[[noreturn]] void refusePickle(const std::string& file) {
  const std::string dir = fs::path(file).parent_path().string().empty() ? "." : fs::path(file).parent_path().string();
  throw Error(file + " is a PyTorch pickle checkpoint, which attnviz never loads (unpickling can run code); "
              "convert it to model.safetensors with: python3 -c \"import transformers as t; "
              "t.AutoModelForCausalLM.from_pretrained('" + dir + "').save_pretrained('" + dir +
              "', safe_serialization=True)\"");
}

std::string builtinList(const std::string& modelsDir) {
  std::string list;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(modelsDir, ec))
    if (fs::exists(entry.path() / "config.json", ec)) list += (list.empty() ? "" : ", ") + entry.path().filename().string();
  return list.empty() ? "none" : list;
}

}  // namespace

ModelFiles locateModel(const std::string& arg, const std::string& modelsDir, bool needWeights) {
  std::error_code ec;
  ModelFiles f;
  fs::path p(arg);
  f.name = arg;
  if (!fs::exists(p, ec)) {
    const fs::path builtin = fs::path(modelsDir) / arg;
    if (arg.find('/') != std::string::npos || arg.empty() || !fs::is_directory(builtin, ec))
      throw Error("no model \"" + printable(arg) + "\": not a folder or .safetensors file, nor a built-in model (" +
                  builtinList(modelsDir) + ")");
    p = builtin;
  }
  if (fs::is_regular_file(p, ec)) {
    if (isPickle(p)) refusePickle(p.string());
    const bool index = p.string().ends_with(".safetensors.index.json");
    if (p.extension() != ".safetensors" && !index)
      throw Error(p.string() + " is not a model: give a folder (config.json, model.safetensors) or a .safetensors file");
    f.weights = p.string();
    f.folder = p.has_parent_path() ? p.parent_path().string() : ".";
    return f;
  }
  if (!fs::is_directory(p, ec)) throw Error(p.string() + " is not a folder or a file");
  f.folder = p.string();
  if (!needWeights) return f;
  if (fs::exists(p / "model.safetensors", ec)) f.weights = (p / "model.safetensors").string();
  else if (fs::exists(p / "model.safetensors.index.json", ec)) f.weights = (p / "model.safetensors.index.json").string();
  else if (fs::exists(p / "pytorch_model.bin", ec)) refusePickle((p / "pytorch_model.bin").string());
  else throw Error(p.string() + " has no model.safetensors (nor model.safetensors.index.json)");
  return f;
}

std::string firstParagraph(const std::string& readme) {
  std::ifstream in(readme);
  std::string line, text;
  bool frontMatter = false;
  int lineNumber = 0;
  while (std::getline(in, line)) {
    ++lineNumber;
    if (lineNumber == 1 && line == "---") {
      frontMatter = true;
      continue;
    }
    if (frontMatter) {
      if (line == "---") frontMatter = false;
      continue;
    }
    if (line.empty()) {
      if (!text.empty()) break;
      continue;
    }
    if (line[0] == '#') continue;
    text += (text.empty() ? "" : " ") + line;
  }
  return text;
}

void checkFiniteTensor(const std::string& name, const float* data, long count) {
  for (long i = 0; i < count; ++i)
    if (!std::isfinite(data[i]))
      throw Error("tensor \"" + name + "\" holds " + (std::isnan(data[i]) ? "NaN" : "an infinite value") +
                  " at element " + std::to_string(i));
}

namespace {

Matrix addBias(Matrix m, const Vector& bias) {
  m.rowwise() += bias.transpose();
  return m;
}

void activate(Matrix& m, Activation a) {
  auto x = m.array();
  switch (a) {
    case Activation::GeluNew: {
      const float c = std::sqrt(2.0f / float(M_PI));
      x = 0.5f * x * (1.0f + (c * (x + 0.044715f * x.cube())).tanh());
      break;
    }
    case Activation::Gelu:
      x = x.unaryExpr([](float v) { return 0.5f * v * (1.0f + std::erf(v * float(M_SQRT1_2))); });
      break;
    case Activation::Relu: x = x.cwiseMax(0.0f); break;
  }
}

}  // namespace

const char* toString(NormKind k) { return k == NormKind::RmsNorm ? "rmsnorm" : "layernorm"; }

Gpt2Model loadGpt2(const std::string& arg, const std::string& modelsDir) {
  const ModelFiles files = locateModel(arg, modelsDir, true);
  Gpt2Model model;
  model.name = arg;
  model.path = files.folder;
  const fs::path folder(files.folder);
  const fs::path configPath = folder / "config.json";
  std::error_code ec;
  if (!fs::exists(configPath, ec)) throw Error(files.folder + " has no config.json");
  model.config = parseGpt2Config(readFile(configPath.string()), configPath.string());
  const Gpt2Config& c = model.config;
  model.tokenizer = BpeTokenizer::fromFolder(files.folder);
  if (model.tokenizer.size() > c.vocabSize)
    throw Error(files.folder + ": the tokenizer has " + std::to_string(model.tokenizer.size()) +
                " tokens but config.json's vocab_size is " + std::to_string(c.vocabSize));
  if (fs::exists(folder / "README.md", ec)) model.description = firstParagraph((folder / "README.md").string());

  const TensorStore store = TensorStore::open(files.weights);
  TensorReader read{store, ""};
  if (store.find("transformer.wte.weight").info) read.prefix = "transformer.";
  else if (!store.find("wte.weight").info)
    throw Error(files.weights + ": the checkpoint has no tensor \"wte.weight\" (nor \"transformer.wte.weight\"): "
                "not a GPT-2 checkpoint?");
  model.weightsDtype = toString(store.find(read.prefix + "wte.weight").info->dtype);
  const long d = c.dModel, inner = c.inner;
  Gpt2Weights& w = model.weights;
  w.wte = read.matrix("wte.weight", c.vocabSize, d);
  w.wpe = read.matrix("wpe.weight", c.positions, d);
  w.blocks.resize(c.layers);
  for (int l = 0; l < c.layers; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    Gpt2Block& b = w.blocks[l];
    b.ln1Weight = read.vector(h + "ln_1.weight", d);
    b.ln1Bias = read.vector(h + "ln_1.bias", d);
    b.attnWeight = read.matrix(h + "attn.c_attn.weight", d, 3 * d);
    b.attnBias = read.vector(h + "attn.c_attn.bias", 3 * d);
    b.attnProjWeight = read.matrix(h + "attn.c_proj.weight", d, d);
    b.attnProjBias = read.vector(h + "attn.c_proj.bias", d);
    b.ln2Weight = read.vector(h + "ln_2.weight", d);
    b.ln2Bias = read.vector(h + "ln_2.bias", d);
    b.fcWeight = read.matrix(h + "mlp.c_fc.weight", d, inner);
    b.fcBias = read.vector(h + "mlp.c_fc.bias", inner);
    b.mlpProjWeight = read.matrix(h + "mlp.c_proj.weight", inner, d);
    b.mlpProjBias = read.vector(h + "mlp.c_proj.bias", d);
  }
  w.lnfWeight = read.vector("ln_f.weight", d);
  w.lnfBias = read.vector("ln_f.bias", d);
  if (store.find("lm_head.weight").info) w.lmHead = TensorReader{store, ""}.matrix("lm_head.weight", c.vocabSize, d);
  return model;
}

std::vector<BuiltinModel> listBuiltinModels(const std::string& modelsDir) {
  std::vector<BuiltinModel> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(modelsDir, ec)) {
    const fs::path config = entry.path() / "config.json";
    if (!fs::exists(config, ec)) continue;
    BuiltinModel b;
    b.name = entry.path().filename().string();
    b.path = entry.path().string();
    try {
      const ModelShape c = parseModelShape(readFile(config.string()), config.string());
      b.shape = std::to_string(c.layers) + " layers × " + std::to_string(c.heads) + " heads" +
                (c.kvHeads != c.heads ? " (" + std::to_string(c.kvHeads) + " K/V heads)" : std::string()) +
                ", d_model " + std::to_string(c.dModel) + ", vocabulary " + std::to_string(c.vocabSize) +
                ", context " + std::to_string(c.positions);
    } catch (const Error& e) {
      b.shape = std::string("(unreadable: ") + e.what() + ")";
    }
    b.description = firstParagraph((entry.path() / "README.md").string());
    out.push_back(std::move(b));
  }
  std::sort(out.begin(), out.end(), [](const BuiltinModel& a, const BuiltinModel& b) { return a.name < b.name; });
  return out;
}

std::vector<int> repeatedRandomIds(const BpeTokenizer& tokenizer, int vocabSize, int length, std::uint64_t seed) {
  std::vector<int> ids;
  for (const char* start : {"<|endoftext|>", "<|begin_of_text|>", "<s>"})
    if (const auto bos = tokenizer.specialToken(start)) {
      ids.push_back(*bos);
      break;
    }
  const int lo = vocabSize / 4, span = std::max(1, vocabSize / 2);
  std::uint64_t state = seed;
  std::vector<int> random;
  int rejected = 0;
  while (int(random.size()) < length) {
    state += 0x9E3779B97F4A7C15ull;  // SplitMix64: the same sequence on every platform
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const int id = lo + int(z % std::uint64_t(span));
    if (!tokenizer.isSpecial(id) || ++rejected > 1000) random.push_back(id);
  }
  ids.insert(ids.end(), random.begin(), random.end());
  ids.insert(ids.end(), random.begin(), random.end());
  return ids;
}

std::vector<int> repeatedRandomTokens(const Gpt2Model& model, int length, std::uint64_t seed) {
  return repeatedRandomIds(model.tokenizer, model.config.vocabSize, length, seed);
}

Gpt2Config readGpt2Config(const std::string& arg, const std::string& modelsDir) {
  const fs::path config = fs::path(locateModel(arg, modelsDir, true).folder) / "config.json";
  std::error_code ec;
  if (!fs::exists(config, ec)) throw Error(config.parent_path().string() + " has no config.json");
  return parseGpt2Config(readFile(config.string()), config.string());
}

BpeTokenizer loadTokenizer(const std::string& arg, const std::string& modelsDir) {
  return BpeTokenizer::fromFolder(locateModel(arg, modelsDir, false).folder);
}

Gpt2Weights randomGpt2Weights(const Gpt2Config& c, std::uint64_t seed) {
  const long d = c.dModel, inner = c.inner;
  auto ones = [](long n) { return Vector::Ones(n); };
  auto small = [&seed](long n) {
    return Vector(glorotUniform(1, int(n), ++seed).row(0).transpose() * 0.1f);
  };
  Gpt2Weights w;
  w.wte = glorotUniform(c.vocabSize, int(d), ++seed);
  w.wpe = glorotUniform(c.positions, int(d), ++seed);
  w.blocks.resize(c.layers);
  for (Gpt2Block& b : w.blocks) {
    b.ln1Weight = ones(d);
    b.ln1Bias = small(d);
    b.attnWeight = glorotUniform(int(d), int(3 * d), ++seed);
    b.attnBias = small(3 * d);
    b.attnProjWeight = glorotUniform(int(d), int(d), ++seed);
    b.attnProjBias = small(d);
    b.ln2Weight = ones(d);
    b.ln2Bias = small(d);
    b.fcWeight = glorotUniform(int(d), int(inner), ++seed);
    b.fcBias = small(inner);
    b.mlpProjWeight = glorotUniform(int(inner), int(d), ++seed);
    b.mlpProjBias = small(d);
  }
  w.lnfWeight = ones(d);
  w.lnfBias = small(d);
  return w;
}

Matrix layerNorm(const Matrix& x, const Vector& gamma, const Vector& beta, double epsilon) {
  Matrix out(x.rows(), x.cols());
  const double width = double(x.cols());
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    const auto row = x.row(r).cast<double>();
    const double mean = row.sum() / width;
    const double variance = (row.array() - mean).square().sum() / width;
    const double inverse = 1.0 / std::sqrt(variance + epsilon);
    out.row(r) = (((row.array() - mean) * inverse).cast<float>() * gamma.transpose().array() + beta.transpose().array())
                     .matrix();
  }
  return out;
}

AttentionOptions layerAttentionOptions(const Gpt2Config& c, int layer, const ForwardOptions& options) {
  AttentionOptions a;
  a.score = ScoreFunction::Scaled;
  float base = c.scaleAttnWeights ? 1.0f / std::sqrt(float(c.headWidth())) : 1.0f;
  if (c.scaleAttnByInverseLayerIdx) base /= float(layer + 1);
  a.scaleOverride = options.scale.value_or(base);
  a.temperature = options.temperature;
  a.mask = options.mask;
  a.heads = c.heads;
  return a;
}

void checkForwardInput(const std::vector<int>& ids, int vocabSize, long positions, const char* positionsKey,
                       int layers, int heads, const ForwardOptions& options) {
  if (ids.empty()) throw Error("no tokens to run the model on (the text is empty)");
  if (long(ids.size()) > positions)
    throw Error("the text is " + std::to_string(ids.size()) + " tokens, but the model takes at most " +
                std::to_string(positions) + " (" + positionsKey + ")");
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocabSize)
      throw Error("token id " + std::to_string(ids[i]) + " (position " + std::to_string(i) +
                  ") is not in the vocabulary (ids 0 to " + std::to_string(vocabSize - 1) + ")");
  if (!(options.temperature > 0) || !std::isfinite(options.temperature))
    throw Error("temperature must be a finite number > 0");
  if (options.mask != MaskKind::Causal && options.mask != MaskKind::None)
    throw Error("a model's attention mask is causal or none");
  for (const auto& [layer, head] : options.ablatedHeads)
    if (layer < 0 || layer >= layers || head < 0 || head >= heads)
      throw Error("cannot ablate layer " + std::to_string(layer) + " head " + std::to_string(head) + ": the model has " +
                  std::to_string(layers) + " layers of " + std::to_string(heads) + " heads");
}

ForwardRecord forward(const Gpt2Config& c, const Gpt2Weights& w, const std::vector<int>& ids,
                      const ForwardOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  checkForwardInput(ids, c.vocabSize, c.positions, "n_positions", c.layers, c.heads, options);

  const int n = int(ids.size()), d = c.dModel, dh = c.headWidth();
  ForwardRecord rec;
  rec.ids = ids;
  rec.norm = NormKind::LayerNorm;
  rec.heads = rec.kvHeads = c.heads;
  Matrix x(n, d);
  for (int i = 0; i < n; ++i) x.row(i) = w.wte.row(ids[i]) + w.wpe.row(i);
  rec.resid.push_back(x);
  rec.layers.resize(c.layers);
  for (int l = 0; l < c.layers; ++l) {
    const Gpt2Block& b = w.blocks[l];
    LayerRecord& L = rec.layers[l];
    const Matrix h = layerNorm(x, b.ln1Weight, b.ln1Bias, c.layerNormEpsilon);
    const Matrix qkv = addBias(h * b.attnWeight, b.attnBias);
    L.qkv.q = qkv.leftCols(d);
    L.qkv.k = qkv.middleCols(d, d);
    L.qkv.v = qkv.rightCols(d);
    L.attention = layerAttentionOptions(c, l, options);
    try {
      L.pattern = computeAttention(L.qkv, L.attention, false, MaskedScores::Skipped);
    } catch (const Error& e) {
      throw Error("layer " + std::to_string(l) + " attention: " + e.what());
    }
    // Only the weights and row statistics stay (layerTrace() recomputes the rest): GPT-2 small at
    // n = 1024 keeps 144 weight matrices of 4 MiB and must fit in 1.5 GiB.
    for (HeadTrace& head : L.pattern.head) {
      head.scores.resize(0, 0);
      head.output.resize(0, 0);
    }
    L.z = std::move(L.pattern.concatenated);
    L.pattern.concatenated.resize(0, 0);
    for (const auto& [layer, head] : options.ablatedHeads)
      if (layer == l) L.z.middleCols(head * dh, dh).setZero();
    L.attnOut = addBias(L.z * b.attnProjWeight, b.attnProjBias);
    x += L.attnOut;
    Matrix mlp = addBias(layerNorm(x, b.ln2Weight, b.ln2Bias, c.layerNormEpsilon) * b.fcWeight, b.fcBias);
    activate(mlp, c.activation);
    x += addBias(mlp * b.mlpProjWeight, b.mlpProjBias);
    rec.resid.push_back(x);
  }
  const Matrix lnf = layerNorm(options.allLogits ? x : Matrix(x.bottomRows(1)), w.lnfWeight, w.lnfBias, c.layerNormEpsilon);
  rec.logits.resize(lnf.rows(), c.vocabSize);
  rec.logits.noalias() = lnf * w.unembedding().transpose();
  rec.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return rec;
}

Matrix blockLn1(const Gpt2Config& c, const Gpt2Weights& w, const ForwardRecord& rec, int layer) {
  const Gpt2Block& b = w.blocks.at(layer);
  return layerNorm(rec.resid.at(layer), b.ln1Weight, b.ln1Bias, c.layerNormEpsilon);
}

Matrix blockResidMid(const ForwardRecord& rec, int layer) { return rec.resid.at(layer) + rec.layers.at(layer).attnOut; }

AttentionTrace layerTrace(const LayerRecord& layer, const Matrix& wO) {
  AttentionInputs inputs = layer.qkv;
  inputs.wO = wO;
  return computeAttention(inputs, layer.attention, true);
}

Vector logSoftmax(const Eigen::Ref<const Eigen::RowVectorXf>& logits) {
  const double max = logits.maxCoeff();
  double sum = 0;
  for (Eigen::Index i = 0; i < logits.size(); ++i) sum += std::exp(double(logits(i)) - max);
  const double logSum = max + std::log(sum);
  Vector out(logits.size());
  for (Eigen::Index i = 0; i < logits.size(); ++i) out(i) = float(double(logits(i)) - logSum);
  return out;
}

}  // namespace attnviz::model
