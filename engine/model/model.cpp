#include "model.hpp"

#include <cctype>
#include <filesystem>

#include "checkpoint.hpp"
#include "matrix_io.hpp"

namespace attnviz::model {
namespace {

namespace fs = std::filesystem;

std::string configText(const ModelFiles& files, std::string& path) {
  path = (fs::path(files.folder) / "config.json").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(files.folder + " has no config.json");
  return readFile(path);
}

}  // namespace

Model loadModel(const std::string& arg, const std::string& modelsDir) {
  const ModelFiles files = locateModel(arg, modelsDir, true);
  std::string configPath;
  const std::string text = configText(files, configPath);
  const Family& family = familyOf(parseModelType(text, configPath), configPath);
  Model m;
  m.name = arg;
  m.path = files.folder;
  m.family = family.name;
  m.shape = family.shape(text, configPath);
  if (m.shape.input == InputKind::Text) {
    m.tokenizer = TextTokenizer::fromFolder(files.folder);
    if (m.tokenizer.size() > m.shape.vocabSize)
      throw Error(files.folder + ": the tokenizer has " + std::to_string(m.tokenizer.size()) +
                  " tokens but config.json's vocab_size is " + std::to_string(m.shape.vocabSize));
  } else {
    try {
      m.imageProcessor = std::make_shared<const ImageProcessor>(readImageProcessor(files.folder, m.shape));
    } catch (const Error& e) {
      m.imageProcessorProblem = e.what();
    }
  }
  std::error_code ec;
  if (fs::exists(fs::path(files.folder) / "README.md", ec))
    m.description = firstParagraph((fs::path(files.folder) / "README.md").string());
  const TensorStore store = TensorStore::open(files.weights);
  m.architecture = family.load(text, configPath, store, files.weights);
  m.shape = m.architecture->shape();  // what the weights add to the config (a classifier's labels)
  m.weightsDtype = family.dtypeTensor(store);
  return m;
}

ModelShape readModelShape(const std::string& arg, const std::string& modelsDir) {
  std::string configPath;
  const std::string text = configText(locateModel(arg, modelsDir, true), configPath);
  return parseModelShape(text, configPath);
}

ImageProcessor readImageProcessor(const std::string& folder, const ModelShape& shape) {
  const ProcessorDefaults defaults =
      shape.imageProcessor == "BitImageProcessor" ? ProcessorDefaults::Bit : ProcessorDefaults::Vit;
  return readImageProcessor(folder, defaults, shape.imageSize);
}

PixelTensor preprocessImageFile(const Model& m, const std::string& path, RgbImage* seen) {
  if (m.shape.input != InputKind::Image) throw Error(m.name + " is a text model: it reads text, not an image");
  if (!m.imageProcessor) throw Error(m.imageProcessorProblem);
  const RgbImage picture = decodeImageFile(path);
  RgbImage resized = m.imageProcessor->resizeAndCrop(picture);
  PixelTensor pixels = m.imageProcessor->rescaleAndNormalise(resized);
  if (seen) *seen = std::move(resized);
  return pixels;
}

Model randomModel(const std::string& configJson, const std::string& name, std::uint64_t seed, DType dtype) {
  const Family& family = familyOf(parseModelType(configJson, name), name);
  Model m;
  m.name = name;
  m.family = family.name;
  m.shape = family.shape(configJson, name);
  m.architecture = family.random(configJson, seed, dtype);
  m.shape = m.architecture->shape();
  m.weightsDtype = toString(dtype);
  return m;
}

ForwardRecord forward(const Model& m, const std::vector<int>& ids, const ForwardOptions& options) {
  return m.architecture->forward(ids, options);
}

ForwardRecord forward(const Model& m, const std::vector<int>& ids, const std::vector<int>& typeIds,
                      const ForwardOptions& options) {
  return m.architecture->forwardTyped(ids, typeIds, options);
}

ForwardRecord forward(const Model& m, const PixelTensor& pixels, const ForwardOptions& options) {
  return m.architecture->forwardImage(pixels, options);
}

Matrix attentionOutputWeight(const Model& m, int layer) { return m.architecture->attentionOutputWeight(layer); }

Matrix attentionInput(const Model& m, const ForwardRecord& record, int layer) {
  return m.architecture->attentionInput(record, layer);
}

ProjectionWeights attentionProjections(const Model& m, int layer) { return m.architecture->attentionProjections(layer); }

std::vector<int> repeatedRandomTokens(const Model& m, int length, std::uint64_t seed) {
  return repeatedRandomIds(m.tokenizer, m.shape.vocabSize, length, seed);
}

int singleTokenId(const Model& model, const std::string& token) {
  if (token.size() > 1 && token[0] == '#' && std::isdigit(static_cast<unsigned char>(token[1]))) {
    const std::string digits = token.substr(1);
    const int vocab = model.shape.vocabSize;
    if (digits.find_first_not_of("0123456789") != std::string::npos)
      throw Error("\"" + token + "\" is not a token id: give #ID with digits only, or one token's text");
    if (digits.size() > 9 || std::stol(digits) >= vocab)
      throw Error("token id " + digits + " is not in the vocabulary (ids 0 to " + std::to_string(vocab - 1) + ")");
    return int(std::stol(digits));
  }
  const std::vector<int> ids = model.tokenizer.encode(token);
  if (ids.size() != 1) {
    std::string pieces;
    for (std::size_t k = 0; k < ids.size() && k < 6; ++k) {
      if (k) pieces += ' ';
      pieces += '"';
      pieces += model.tokenizer.displayText(ids[k]);
      pieces += '"';
    }
    if (ids.size() > 6) pieces += " …";
    throw Error("\"" + token + "\" is " + std::to_string(ids.size()) + " tokens, not one" +
                (ids.empty() ? std::string() : " (" + pieces + ")") + ": give one token's text or #ID");
  }
  return ids[0];
}

}  // namespace attnviz::model
