// Token mode with a trained model: the session's text runs through the model, and the views get
// the viewed layer's Q, K, V (and its output projection as W_O) as they get any other attention
// inputs, so the step-through of a model layer is the ordinary pipeline. Any family: GPT-2 or
// the Llama family (there Q and K are after the rotation, K and V repeated to the query heads).
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "hub/sha256.hpp"
#include "model.hpp"
#include "model_block.hpp"
#include "session.hpp"

namespace attnviz {
namespace {

using model::ForwardRecord;
using model::Model;

// Loaded models and the last forward pass, shared by the command line and the app's worker
// thread: changing the layer, head or a what-if option costs no forward pass.
struct ModelCache {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<const Model>> models;
  std::string lastKey;
  std::shared_ptr<const ForwardRecord> lastRecord;
  std::shared_ptr<const model::RgbImage> lastPicture;  // a vision model's input, as it saw it
};

ModelCache& cache() {
  static ModelCache c;
  return c;
}

std::shared_ptr<const Model> sharedModel(const std::string& name) {
  ModelCache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    if (const auto it = c.models.find(name); it != c.models.end()) return it->second;
  }
  auto loaded = std::make_shared<const Model>(model::loadModel(name, modelsDirectory()));
  std::lock_guard lock(c.mutex);
  return c.models.emplace(name, std::move(loaded)).first->second;
}

// The forward pass on a session's input: its text's ids, or a vision model's picture.
std::shared_ptr<const ForwardRecord> sharedForward(const std::string& name, const Model& m, const TokenConfig& input,
                                                   const model::TextEncoding& text, const model::ForwardOptions& options,
                                                   std::shared_ptr<const model::RgbImage>& picture) {
  const bool vision = m.shape.input == model::InputKind::Image;
  std::string key = name + '\n';
  if (vision) key += "image " + input.image;
  for (int id : text.ids) key += std::to_string(id) + ',';
  key += '\n';
  for (int type : text.typeIds) key += std::to_string(type) + ',';
  key += '\n';
  for (const auto& [l, h] : options.ablatedHeads) key += std::to_string(l) + '.' + std::to_string(h) + ',';
  ModelCache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    if (c.lastKey == key) {
      picture = c.lastPicture;
      return c.lastRecord;
    }
  }
  std::shared_ptr<const ForwardRecord> record;
  if (vision) {
    model::RgbImage seen;
    const model::PixelTensor pixels = model::preprocessImageFile(m, input.image, &seen);
    record = std::make_shared<const ForwardRecord>(model::forward(m, pixels, options));
    picture = std::make_shared<const model::RgbImage>(std::move(seen));
  } else {
    record = std::make_shared<const ForwardRecord>(model::forward(m, text.ids, text.typeIds, options));
    picture.reset();
  }
  std::lock_guard lock(c.mutex);
  c.lastKey = key;
  c.lastRecord = record;
  c.lastPicture = picture;
  return record;
}

}  // namespace

std::string pictureSha256(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error("cannot read the picture " + path + ": " + ec.message());
  const auto time = fs::last_write_time(path, ec).time_since_epoch().count();
  static std::mutex mutex;
  static std::map<std::string, std::tuple<std::uintmax_t, long long, std::string>> known;
  {
    std::lock_guard lock(mutex);
    if (const auto it = known.find(path);
        it != known.end() && std::get<0>(it->second) == size && std::get<1>(it->second) == (long long)time)
      return std::get<2>(it->second);
  }
  const std::string sha = model::hub::sha256OfFile(path);
  std::lock_guard lock(mutex);
  known[path] = {size, (long long)time, sha};
  return sha;
}

PreparedSession prepareModelSession(const Session& session) {
  const std::shared_ptr<const Model> m = sharedModel(session.tokens.model);
  const model::ModelShape& c = m->shape;
  const bool vision = c.input == model::InputKind::Image;
  if (!session.tokens.source.empty())
    throw Error(session.tokens.model + " has no cross-attention (clear the source text)");
  if (vision && session.tokens.image.empty())
    throw Error(session.tokens.model + " is a vision model: open an image for it (--image FILE)");
  if (!vision && !session.tokens.image.empty())
    throw Error(session.tokens.model + " is a text model: it reads text, not an image");
  if (vision && !session.tokens.imageSha256.empty() && pictureSha256(session.tokens.image) != session.tokens.imageSha256)
    throw Error(std::filesystem::path(session.tokens.image).filename().string() +
                " changed since the session was saved (its SHA-256 differs): open it again to use it as it is now");
  if (!session.tokens.textPair.empty() && c.causal)
    throw Error(session.tokens.model + " reads one text, not a pair of sentences (clear sentence B)");
  model::TextEncoding text = vision                               ? model::TextEncoding()
                             : session.tokens.textPair.empty() ? m->tokenizer.encodeForModel(session.tokens.text)
                                                               : m->tokenizer.encodeForModel(session.tokens.text, session.tokens.textPair);
  if (!session.tokens.generated.empty()) {
    if (vision || !c.causal) throw Error(session.tokens.model + " does not generate text (decoders only): clear the generated tokens");
    for (int id : session.tokens.generated) {
      if (id < 0 || id >= c.vocabSize)
        throw Error("generated token id " + std::to_string(id) + " is not in " + session.tokens.model + "'s vocabulary of " +
                    std::to_string(c.vocabSize));
      text.ids.push_back(id);
      if (!text.typeIds.empty()) text.typeIds.push_back(text.typeIds.back());
      if (!text.sentence.empty()) text.sentence.push_back(text.sentence.back());
    }
  }
  const std::vector<int>& ids = text.ids;
  model::ForwardOptions options;
  options.ablatedHeads = session.tokens.ablatedHeads;
  std::shared_ptr<const model::RgbImage> picture;
  const auto record = sharedForward(session.tokens.model, *m, session.tokens, text, options, picture);
  if (session.view.layer < 0 || session.view.layer >= c.layers)
    throw Error("layer " + std::to_string(session.view.layer) + " does not exist: " + session.tokens.model + " has " +
                std::to_string(c.layers) + " layers (0 to " + std::to_string(c.layers - 1) + ")");
  if (session.options.heads != c.heads)
    throw Error(session.tokens.model + " has " + std::to_string(c.heads) + " heads per layer (options ask for " +
                std::to_string(session.options.heads) + ")");
  const int layer = session.view.layer;
  PreparedSession p;
  p.inputs = record->layers[layer].qkv;
  // The what-if: this layer's attention from Q and K as the projections give them, unturned.
  if (session.ropeOff && record->rotary()) {
    p.inputs.q = record->layers[layer].qUnrotated;
    p.inputs.k = record->layers[layer].kUnrotated;
  }
  p.inputs.wO = model::attentionOutputWeight(*m, layer);
  p.tokenIds = ids;
  p.sentence = text.sentence;
  p.modelLayers = c.layers;
  p.modelHeads = c.heads;
  p.viewedLayer = layer;
  TokenModel t;
  if (record->grid)
    for (int i = 0; i < record->tokens(); ++i) t.queryTokens.push_back(record->grid->tokenName(i));
  else
    for (int id : ids) t.queryTokens.push_back(m->tokenizer.displayText(id));
  t.keyTokens = t.queryTokens;
  t.xQuery = model::attentionInput(*m, *record, layer);
  t.xSource = t.xQuery;
  model::ProjectionWeights w = model::attentionProjections(*m, layer);
  t.wQ = std::move(w.wQ);
  t.wK = std::move(w.wK);
  t.wV = std::move(w.wV);
  t.wO = p.inputs.wO;
  p.queryLabels = t.queryTokens;
  p.keyLabels = t.keyTokens;
  p.model = std::move(t);
  p.loadedModel = m;
  p.modelName = session.tokens.model;
  p.forward = record;
  p.picture = std::move(picture);
  p.block = std::make_shared<const ModelBlock>(m->architecture->block(*record, layer));
  return p;
}

AttentionOptions modelLayerOptions(const PreparedSession& p, const AttentionOptions& options) {
  if (!p.forward || p.viewedLayer < 0 || options.mask != MaskKind::Causal) return options;
  const model::LayerRecord& L = p.forward->layers.at(std::size_t(p.viewedLayer));
  if (L.attention.mask != MaskKind::Custom) return options;
  AttentionOptions o = options;
  o.mask = MaskKind::Custom;
  o.customMask = L.attention.customMask;
  return o;
}

}  // namespace attnviz
