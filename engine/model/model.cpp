#include "model.hpp"

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

ModelShape shapeOf(const LlamaConfig& c) {
  return {c.modelType, c.layers, c.heads, c.kvHeads, c.dModel, c.vocabSize, c.positions};
}

ModelShape shapeOf(const Gpt2Config& c) { return {"gpt2", c.layers, c.heads, c.heads, c.dModel, c.vocabSize, c.positions}; }

}  // namespace

Model fromGpt2(Gpt2Model g) {
  Model m;
  m.name = g.name;
  m.path = g.path;
  m.description = g.description;
  m.weightsDtype = g.weightsDtype;
  m.family = Family::Gpt2;
  m.shape = shapeOf(g.config);
  m.tokenizer = g.tokenizer;
  m.gpt2 = std::move(g);
  return m;
}

Model loadModel(const std::string& arg, const std::string& modelsDir) {
  const ModelFiles files = locateModel(arg, modelsDir, true);
  std::string configPath;
  const std::string text = configText(files, configPath);
  if (parseModelType(text, configPath) == "gpt2") return fromGpt2(loadGpt2(arg, modelsDir));
  Model m;
  m.name = arg;
  m.path = files.folder;
  m.family = Family::Llama;
  m.llama = parseLlamaConfig(text, configPath);
  m.shape = shapeOf(m.llama);
  m.tokenizer = BpeTokenizer::fromFolder(files.folder);
  if (m.tokenizer.size() > m.llama.vocabSize)
    throw Error(files.folder + ": the tokenizer has " + std::to_string(m.tokenizer.size()) +
                " tokens but config.json's vocab_size is " + std::to_string(m.llama.vocabSize));
  std::error_code ec;
  if (fs::exists(fs::path(files.folder) / "README.md", ec))
    m.description = firstParagraph((fs::path(files.folder) / "README.md").string());
  const TensorStore store = TensorStore::open(files.weights);
  m.llamaWeights = readLlamaWeights(store, m.llama, files.weights);
  const std::string embed = store.find("model.embed_tokens.weight").info ? "model.embed_tokens.weight" : "embed_tokens.weight";
  m.weightsDtype = toString(store.find(embed).info->dtype);
  return m;
}

ModelShape readModelShape(const std::string& arg, const std::string& modelsDir) {
  std::string configPath;
  const std::string text = configText(locateModel(arg, modelsDir, true), configPath);
  return parseModelShape(text, configPath);
}

ForwardRecord forward(const Model& m, const std::vector<int>& ids, const ForwardOptions& options) {
  return m.family == Family::Gpt2 ? forward(m.gpt2.config, m.gpt2.weights, ids, options) : forward(m.llama, m.llamaWeights, ids, options);
}

Matrix attentionOutputWeight(const Model& m, int layer) {
  if (m.family == Family::Gpt2) return m.gpt2.weights.blocks.at(layer).attnProjWeight;
  return m.llamaWeights.blocks.at(layer).oProj.transpose();
}

Matrix attentionInput(const Model& m, const ForwardRecord& record, int layer) {
  return m.family == Family::Gpt2 ? blockLn1(m.gpt2.config, m.gpt2.weights, record, layer)
                                  : blockInputNorm(m.llama, m.llamaWeights, record, layer);
}

ProjectionWeights attentionProjections(const Model& m, int layer) {
  ProjectionWeights p;
  if (m.family == Family::Gpt2) {
    const Matrix& w = m.gpt2.weights.blocks.at(layer).attnWeight;
    const long d = m.gpt2.config.dModel;
    p.wQ = w.leftCols(d);
    p.wK = w.middleCols(d, d);
    p.wV = w.rightCols(d);
    return p;
  }
  const LlamaConfig& c = m.llama;
  const LlamaBlock& b = m.llamaWeights.blocks.at(layer);
  const int dh = c.headDim, group = c.queryHeadsPerKvHead();
  p.wQ = b.qProj.transpose();
  p.wK.resize(c.dModel, Eigen::Index(c.heads) * dh);
  p.wV.resize(c.dModel, Eigen::Index(c.heads) * dh);
  for (int h = 0; h < c.heads; ++h) {
    p.wK.middleCols(Eigen::Index(h) * dh, dh) = b.kProj.middleRows(Eigen::Index(h / group) * dh, dh).transpose();
    p.wV.middleCols(Eigen::Index(h) * dh, dh) = b.vProj.middleRows(Eigen::Index(h / group) * dh, dh).transpose();
  }
  return p;
}

std::vector<int> repeatedRandomTokens(const Model& m, int length, std::uint64_t seed) {
  return repeatedRandomIds(m.tokenizer, m.shape.vocabSize, length, seed);
}

}  // namespace attnviz::model
