#include "model_actions.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "actions.hpp"
#include "bundle_session.hpp"
#include "document.hpp"
#include "image/image.hpp"
#include "model.hpp"
#include "model_block.hpp"
#include "patching.hpp"
#include "replace.hpp"

namespace attnviz::gui {

bool inModelMode(const AppState& app) {
  const Session& s = app.doc.session;
  return s.mode == InputMode::Tokens && !s.tokens.model.empty();
}

namespace {

std::string shortest(float f) {
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, f).ptr;
  return std::string(buf, end);
}

}  // namespace

std::vector<std::string> modelWhatIfs(const AppState& app) {
  std::vector<std::string> out;
  if (!inModelMode(app)) return out;
  const Session& s = app.doc.session;
  const AttentionOptions& o = s.options;
  if (o.score != ScoreFunction::Scaled) out.push_back(std::string("score ") + toString(o.score));
  if (o.scaleOverride) out.push_back("scale " + shortest(*o.scaleOverride));
  if (o.temperature != 1.0f) out.push_back("temperature " + shortest(o.temperature));
  const bool causal = !app.doc.prepared.loadedModel || app.doc.prepared.loadedModel->shape.causal;
  if (o.mask != (causal ? MaskKind::Causal : MaskKind::None)) out.push_back(std::string("mask ") + toString(o.mask));
  for (const auto& [layer, head] : s.tokens.ablatedHeads)
    out.push_back("layer " + std::to_string(layer) + " head " + std::to_string(head) + " ablated");
  if (s.ropeOff && app.doc.prepared.block && app.doc.prepared.block->rotary())
    out.push_back("RoPE off in layer " + std::to_string(s.view.layer));
  return out;
}

std::string modelHeadsNote(const AppState& app) {
  const PreparedSession& p = app.doc.prepared;
  if (!inModelMode(app) || !p.loadedModel) return "";
  const model::ModelShape& shape = p.loadedModel->shape;
  std::string note = std::to_string(shape.heads) + " heads × " + std::to_string(shape.headWidth);
  if (shape.kvHeads != shape.heads) note += " sharing " + std::to_string(shape.kvHeads) + " K/V heads";
  return note + " (the model's own)";
}

bool inBundleMode(const AppState& app) { return !app.doc.session.bundle.path.empty(); }

int modelLayerCount(const AppState& app) {
  if (inBundleMode(app)) {
    if (app.doc.prepared.bundle && !app.doc.needsPrepare) return app.doc.prepared.bundle->layers;
    try {  // opened this frame: the bundle is read (and cached) already
      return sharedBundle(app.doc.session.bundle)->layers;
    } catch (const Error&) {
      return 0;
    }
  }
  if (!inModelMode(app)) return 0;
  if (app.doc.prepared.modelLayers > 0 && !app.doc.needsPrepare) return app.doc.prepared.modelLayers;
  try {  // the model was chosen this frame: its config says how many layers it has
    return model::readModelShape(app.doc.session.tokens.model, modelsDirectory()).layers;
  } catch (const Error&) {
    return 0;
  }
}

bool setModel(AppState& app, const std::string& nameOrPath) {
  Session& s = app.doc.session;
  if (nameOrPath != s.tokens.model) {  // another model's ids, draws and patching mean nothing here
    s.tokens.generated.clear();
    app.generation.lastSteps.clear();
    app.patching.result.reset();
  }
  if (nameOrPath.empty()) {
    if (s.tokens.model.empty()) return true;
    s.tokens.model.clear();
    s.tokens.textPair.clear();
    s.view.layer = 0;
    while (s.tokens.dModel % s.options.heads != 0) --s.options.heads;
    markInputsChanged(app.doc);
    report(app, "random toy model (d_model " + std::to_string(s.tokens.dModel) + ")");
    return true;
  }
  model::ModelShape config;
  try {
    config = model::readModelShape(nameOrPath, modelsDirectory());
  } catch (const Error& e) {
    report(app, e.what(), true);
    return false;
  }
  if (s.mode != InputMode::Tokens) setInputMode(app, InputMode::Tokens);
  // A vision model reads a picture: the one open stays, else the first built-in scene; a text
  // model reads the text, which a picture never replaced.
  if (config.input == model::InputKind::Image && s.tokens.image.empty())
    s.tokens.image = (std::filesystem::path(dataDirectory()) / "samples" / "scenes" / "red-circle.png").string();
  if (config.input != model::InputKind::Image) {
    s.tokens.image.clear();
    s.tokens.imageSha256.clear();
  }
  s.tokens.model = nameOrPath;
  s.tokens.source.clear();
  if (config.causal || config.input != model::InputKind::Text) s.tokens.textPair.clear();  // only encoders read pairs
  s.name = nameOrPath;
  s.description = "Attention of the trained model " + nameOrPath + ", layer by layer.";
  s.options.heads = config.heads;
  s.options.mask = config.causal ? MaskKind::Causal : MaskKind::None;
  s.options.score = ScoreFunction::Scaled;
  s.view.layer = std::clamp(s.view.layer, 0, config.layers - 1);
  s.view.head = std::clamp(s.view.head, -1, config.heads - 1);
  markInputsChanged(app.doc);
  report(app, nameOrPath + ": " + std::to_string(config.layers) + " layers × " + std::to_string(config.heads) +
                  " heads, d_model " + std::to_string(config.dModel));
  return true;
}

bool openImage(AppState& app, const std::string& path) {
  Session& s = app.doc.session;
  const std::string name = std::filesystem::path(path).filename().string();
  bool vision = false;
  if (s.mode == InputMode::Tokens && !s.tokens.model.empty()) {
    try {
      vision = model::readModelShape(s.tokens.model, modelsDirectory()).input == model::InputKind::Image;
    } catch (const Error&) {
    }
  }
  if (!vision) {
    report(app, name + " is a picture: choose a vision model first (attnviz-vit-mini, or a ViT, DeiT or DINOv2 folder)",
           true);
    return false;
  }
  try {
    model::decodeImageFile(path);  // a file that cannot be read leaves the current picture open
  } catch (const Error& e) {
    report(app, e.what(), true);
    return false;
  }
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  s.tokens.image = ec ? path : absolute.lexically_normal().string();
  s.tokens.imageSha256.clear();  // the file as it is now; the next save records its hash
  s.view.selectedRow = s.view.selectedCol = -1;  // the query goes back to [CLS]
  markInputsChanged(app.doc);
  report(app, "opened the picture " + name);
  return true;
}

bool openBundle(AppState& app, const std::string& path, bool allowUnnormalised) {
  try {
    // Absolute, so a saved session finds the bundle from any working directory.
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
    BundleRef ref{ec ? path : absolute.lexically_normal().string(), allowUnnormalised};
    const auto bundle = sharedBundle(ref);  // refused here, before the document is replaced
    PendingReplace r;
    r.session = bundleSession(ref);
    r.path = "";  // a bundle is no session file: Save asks where to write one
    r.what = path;
    replaceDocument(app, std::move(r));
    if (app.replace.asking) return true;
    const AttentionBundle& b = *bundle;
    std::string shape = std::to_string(b.layers) + (b.layers == 1 ? " layer × " : " layers × ") +
                        std::to_string(b.heads) + (b.heads == 1 ? " head, " : " heads, ") + std::to_string(b.n) +
                        (b.cross ? " × " + std::to_string(b.m) : "") + " tokens";
    const char* given = b.hasQK ? (b.hasV ? "Q, K, V" : "Q, K") : (b.hasV ? "weights and V" : "weights only");
    report(app, "Opened " + path + ": " + shape + " (" + given + ")");
    return true;
  } catch (const std::exception& e) {
    std::string message = e.what();
    // The reader's advice names the command-line flag; the app's way is the chooser's checkbox.
    if (message.find("--allow-unnormalised") != std::string::npos)
      message += " (in the app: File → Open attention…, \"show rows that do not sum to 1 as given\")";
    report(app, message, true);
    return false;
  }
}

void setLayer(AppState& app, int layer) {
  const int layers = modelLayerCount(app);
  if (layers == 0) return;
  const int clamped = std::clamp(layer, 0, layers - 1);
  if (clamped == app.doc.session.view.layer) return;
  app.doc.session.view.layer = clamped;
  markInputsChanged(app.doc);  // the forward pass is cached: only this layer's Q, K, V change
}

bool isHeadAblated(const AppState& app, int layer, int head) {
  const auto& a = app.doc.session.tokens.ablatedHeads;
  return std::find(a.begin(), a.end(), std::make_pair(layer, head)) != a.end();
}

void setHeadAblated(AppState& app, int layer, int head, bool ablated) {
  if (!inModelMode(app) || layer < 0 || head < 0 || isHeadAblated(app, layer, head) == ablated) return;
  auto& a = app.doc.session.tokens.ablatedHeads;
  if (ablated) a.emplace_back(layer, head);
  else a.erase(std::find(a.begin(), a.end(), std::make_pair(layer, head)));
  markInputsChanged(app.doc);
  report(app, std::string(ablated ? "ablated" : "restored") + " layer " + std::to_string(layer) + " head " +
                  std::to_string(head));
}

bool modelIsRotary(const AppState& app) {
  return inModelMode(app) && app.doc.prepared.block && app.doc.prepared.block->rotary();
}

void setRopeShown(AppState& app, RopeShown shown) { app.doc.session.view.rope = shown; }

bool setRopeOff(AppState& app, bool off) {
  // Before the model is prepared its family is not known yet; the forward pass ignores the
  // flag for a model without rotation.
  if (off && !app.doc.needsPrepare && !modelIsRotary(app)) {
    report(app, "what if RoPE were off: needs a rotary model (the Llama family)", true);
    return false;
  }
  if (app.doc.session.ropeOff == off) return true;
  app.doc.session.ropeOff = off;
  markInputsChanged(app.doc);  // the forward pass is cached: only the viewed layer's Q, K change
  report(app, off ? "what if: RoPE off — layer " + std::to_string(app.doc.session.view.layer) +
                        "'s scores from Q and K before the rotation"
                  : "RoPE on: the model's real scores");
  return true;
}

int kvHeadCount(const AppState& app) {
  const auto& b = app.doc.prepared.block;
  return inModelMode(app) && b ? b->kvHeads : 0;
}

int kvHeadOf(const AppState& app, int head) {
  const auto& b = app.doc.prepared.block;
  return inModelMode(app) && b ? b->kvHeadOf(head) : head;
}

void highlightKvHead(AppState& app, int kvHead) {
  app.view.highlightKvHead = kvHead >= 0 && kvHead < kvHeadCount(app) ? kvHead : -1;
}

void selectLayerHead(AppState& app, int layer, int head) {
  setLayer(app, layer);
  selectHead(app, head);
}

bool canGenerate(const AppState& app) {
  const PreparedSession& p = app.doc.prepared;
  // Not while another model's pass is still shown: its model would generate into this session.
  return inModelMode(app) && p.modelName == app.doc.session.tokens.model && p.loadedModel && p.loadedModel->shape.causal &&
         p.loadedModel->shape.input == model::InputKind::Text;
}

namespace {

// The ids the model reads now: the text's own, then those generated so far (the prepared pass may
// still be computing the previous press's).
std::vector<int> currentIds(const AppState& app) {
  const model::Model& m = *app.doc.prepared.loadedModel;
  std::vector<int> ids = m.tokenizer.encodeForModel(app.doc.session.tokens.text).ids;
  ids.insert(ids.end(), app.doc.session.tokens.generated.begin(), app.doc.session.tokens.generated.end());
  return ids;
}

}  // namespace

bool generateTokens(AppState& app, int count) {
  if (!canGenerate(app)) {
    report(app, "generation needs a text decoder (GPT-2 or Llama family) in model mode", true);
    return false;
  }
  if (!app.doc.session.tokens.ablatedHeads.empty()) {
    report(app, "generation runs the model as trained: restore the ablated heads first", true);
    return false;
  }
  try {
    const model::Model& m = *app.doc.prepared.loadedModel;
    const std::vector<int> prompt = currentIds(app);
    const int room = m.shape.positions - int(prompt.size());
    if (room <= 0)
      throw Error("the text fills " + app.doc.session.tokens.model + "'s context of " + std::to_string(m.shape.positions) +
                  " tokens: nothing more can be generated");
    model::GenerationOptions o;
    o.maxNew = std::clamp(count, 1, room);  // as many as fit, said below
    o.sampling = app.generation.sampling;
    // Continue the seed's sequence: one draw per sampled token so far.
    if (!o.sampling.greedy)
      o.sampling.seed = model::SplitMix64::advanced(o.sampling.seed, app.doc.session.tokens.generated.size());
    o.eosIds = model::eosTokenIds(m.path);
    const model::Generation g = model::generate(*m.architecture, prompt, o);
    std::string text;
    for (const model::SampledToken& t : g.tokens) {
      app.doc.session.tokens.generated.push_back(t.id);
      text += m.tokenizer.displayText(t.id);
    }
    app.generation.lastSteps = g.tokens;
    markInputsChanged(app.doc);
    report(app, "generated “" + text + "”" + (g.stoppedAtEos ? " (stopped at the end-of-text token)" : "") +
                    (count > room ? " (the context had room for " + std::to_string(room) + ")" : ""));
    return true;
  } catch (const std::exception& e) {
    report(app, e.what(), true);
    return false;
  }
}

void clearGenerated(AppState& app) {
  if (app.doc.session.tokens.generated.empty()) return;
  app.doc.session.tokens.generated.clear();
  app.generation.lastSteps.clear();
  markInputsChanged(app.doc);
}

void setSampling(AppState& app, const model::SamplingOptions& sampling) {
  try {
    // Checked as if greedy were off, so that unticking greedy always leaves settings that work.
    model::SamplingOptions sampled = sampling;
    sampled.greedy = false;
    model::checkSamplingOptions(sampled);
    app.generation.sampling = sampling;
  } catch (const std::exception& e) {
    report(app, e.what(), true);
  }
}

void setCorruptedPrompt(AppState& app, const std::string& text) { app.patching.corrupted = text; }

void setPatchingTokens(AppState& app, const std::string& target, const std::string& contrast) {
  app.patching.target = target;
  app.patching.contrast = contrast;
}

bool runPatching(AppState& app) {
  if (!canGenerate(app)) {
    report(app, "patching needs a text decoder (GPT-2 or Llama family) in model mode", true);
    return false;
  }
  try {
    const model::Model& m = *app.doc.prepared.loadedModel;
    const std::vector<int> clean = currentIds(app);
    const std::vector<int> corrupted = m.tokenizer.encodeForModel(app.patching.corrupted).ids;
    if (app.patching.corrupted.empty()) throw Error("type a corrupted prompt first (the text with the key fact changed)");
    if (corrupted.size() != clean.size())
      throw Error("the prompts must have the same number of tokens: the text has " + std::to_string(clean.size()) +
                  ", the corrupted prompt " + std::to_string(corrupted.size()));
    model::ForwardOptions base;
    base.allLogits = false;
    base.ablatedHeads = app.doc.session.tokens.ablatedHeads;  // both runs as the views show the model
    // Default tokens: what each prompt's own run predicts at the last position.
    auto topOf = [&](const std::vector<int>& ids) {
      const model::ForwardRecord r = m.architecture->forward(ids, base);
      Eigen::Index best = 0;
      r.logits.row(r.logits.rows() - 1).maxCoeff(&best);
      return int(best);
    };
    const int target = app.patching.target.empty() ? topOf(clean) : model::singleTokenId(m, app.patching.target);
    const int contrast = app.patching.contrast.empty() ? topOf(corrupted) : model::singleTokenId(m, app.patching.contrast);
    if (target == contrast)
      throw Error("the target and contrast tokens are the same (\"" + m.tokenizer.displayText(target) +
                  "\"): give a contrast token");
    model::ForwardOptions patchBase;
    patchBase.ablatedHeads = base.ablatedHeads;
    app.patching.result = model::activationPatching(*m.architecture, clean, corrupted, target, contrast, patchBase);
    app.patching.cleanIds = clean;
    app.patching.cleanTokens.clear();
    for (int id : clean) app.patching.cleanTokens.push_back(m.tokenizer.displayText(id));
    report(app, "patched " + std::to_string(app.patching.result->heads.size() + app.patching.result->resid.size()) +
                    " activations: LD clean " + shortest(float(app.patching.result->ldClean)) + ", corrupted " +
                    shortest(float(app.patching.result->ldCorrupted)));
    return true;
  } catch (const std::exception& e) {
    report(app, e.what(), true);
    return false;
  }
}

}  // namespace attnviz::gui
