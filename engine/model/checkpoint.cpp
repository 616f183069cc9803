#include "checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config.hpp"
#include "hub/hub_cache.hpp"
#include "matrix_io.hpp"

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
    const bool isBuiltin = !arg.empty() && arg.find_first_of("/@") == std::string::npos && fs::is_directory(builtin, ec);
    if (isBuiltin) {
      p = builtin;
    } else if (const auto cached = hub::findCachedModel(hub::parseModelRef(arg), hub::cacheDirectory())) {
      p = cached->folder;
      f.name = cached->repoId;
    } else {
      throw Error("no model \"" + printable(arg) + "\": not a folder or .safetensors file, a built-in model (" +
                  builtinList(modelsDir) + "), nor a model in the Hugging Face cache (" + hub::cacheDirectory() + ")");
    }
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
void checkFiniteWeights(const std::vector<std::pair<std::string, const WeightMatrix*>>& weights) {
  for (const auto& [name, w] : weights)
    if (w && !w->empty())
      if (const auto i = w->firstNonFinite()) {
        const float v = w->rowsToFloat(*i / w->cols(), 1)(0, *i % w->cols());
        throw Error("tensor \"" + name + "\" holds " + (std::isnan(v) ? "NaN" : "an infinite value") + " at element " +
                    std::to_string(*i));
      }
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
                ", d_model " + std::to_string(c.dModel) +
                (c.input == InputKind::Image
                     ? ", images " + std::to_string(c.imageSize) + "×" + std::to_string(c.imageSize) + " in " +
                           std::to_string(c.patchSize) + "×" + std::to_string(c.patchSize) + " patches, " +
                           std::to_string(c.labels.size()) + " labels"
                     : ", vocabulary " + std::to_string(c.vocabSize) + ", context " + std::to_string(c.positions));
    } catch (const Error& e) {
      b.shape = std::string("(unreadable: ") + e.what() + ")";
    }
    b.description = firstParagraph((entry.path() / "README.md").string());
    out.push_back(std::move(b));
  }
  std::sort(out.begin(), out.end(), [](const BuiltinModel& a, const BuiltinModel& b) { return a.name < b.name; });
  return out;
}

std::vector<int> repeatedRandomIds(const TextTokenizer& tokenizer, int vocabSize, int length, std::uint64_t seed) {
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

TextTokenizer loadTokenizer(const std::string& arg, const std::string& modelsDir) {
  return TextTokenizer::fromFolder(locateModel(arg, modelsDir, false).folder);
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
  checkForwardOptions(options, layers, heads);
}

void checkForwardOptions(const ForwardOptions& options, int layers, int heads) {
  if (!(options.temperature > 0) || !std::isfinite(options.temperature))
    throw Error("temperature must be a finite number > 0");
  if (options.mask && *options.mask != MaskKind::Causal && *options.mask != MaskKind::None)
    throw Error("a model's attention mask is causal or none");
  for (const auto& [layer, head] : options.ablatedHeads)
    if (layer < 0 || layer >= layers || head < 0 || head >= heads)
      throw Error("cannot ablate layer " + std::to_string(layer) + " head " + std::to_string(head) + ": the model has " +
                  std::to_string(layers) + " layers of " + std::to_string(heads) + " heads");
  for (const HeadPatch& p : options.patchedHeads)
    if (p.layer < 0 || p.layer >= layers || p.head < 0 || p.head >= heads)
      throw Error("cannot patch layer " + std::to_string(p.layer) + " head " + std::to_string(p.head) +
                  ": the model has " + std::to_string(layers) + " layers of " + std::to_string(heads) + " heads");
  for (const ResidualPatch& p : options.patchedResidual)
    if (p.layer < 0 || p.layer > layers)
      throw Error("cannot patch the residual stream at layer " + std::to_string(p.layer) + ": the model has " +
                  std::to_string(layers) + " layers (streams 0 to " + std::to_string(layers) + ")");
}

}  // namespace attnviz::model
