#include "actions.hpp"
#include "model_actions.hpp"
#include "model_download.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "colormap_lut.hpp"
#include "derivation.hpp"
#include "model_analysis.hpp"
#include "model_block.hpp"
#include "document.hpp"
#include "gpu_compare.hpp"
#include "bundle_session.hpp"
#include "matrix_io.hpp"
#include "recovery.hpp"
#include "replace.hpp"
#include "image/image.hpp"
#include "rollout.hpp"
#include "session_stages.hpp"
#include "steps.hpp"

namespace attnviz::gui {

namespace fs = std::filesystem;

namespace {

Matrix& slotMatrix(Session& s, MatrixSlot slot) {
  return slot == MatrixSlot::Q ? s.matrices.q : slot == MatrixSlot::K ? s.matrices.k : s.matrices.v;
}

// The engine throws Error with a one-line message; actions turn it into a status-bar report.
template <typename Fn>
bool attempt(AppState& app, Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const std::exception& e) {
    report(app, e.what(), true);
    return false;
  }
}

// The document stops being the sample (or session) it was loaded as: its name, description and
// the sample's name in figure titles no longer apply.
void forgetSampleIdentity(AppState& app) {
  app.doc.session.name.clear();
  app.doc.session.description.clear();
  app.doc.sample.clear();
}

// Matrices mode starts from the Q, K, V on screen (W_O belongs to token mode).
void startMatricesFromShown(AppState& app) {
  // A sample loaded earlier in the same frame is not prepared yet: its Q, K, V are the ones meant.
  if (app.doc.needsPrepare) {
    app.doc.prepared = prepare(app.doc.session);
    app.doc.needsPrepare = false;
  }
  const AttentionInputs& shown = app.doc.prepared.inputs;
  app.doc.session.matrices = AttentionInputs{shown.q, shown.k, shown.v};
}

void keepViewInRange(AppState& app) {
  Document& d = app.doc;
  ViewState& v = d.session.view;
  // A step this document lacks: the same place in the pipeline where there is one (the layer's
  // input is the embedding at layer 0 and the residual stream after it), else the scores.
  StageId step = StageId(std::clamp(v.step, 0, kStageCount - 1));
  if (step == StageId::Embedding && !stepAvailable(d, step)) step = StageId::ResidPre;
  else if (step == StageId::ResidPre && !stepAvailable(d, step)) step = StageId::Embedding;
  else if (step == StageId::Projected && !stepAvailable(d, step)) step = StageId::Output;
  v.step = int(stepAvailable(d, step) ? step : currentStep(d));
  if (v.head >= d.session.options.heads) v.head = 0;
}

// A painted mask starts from what the user currently sees (causal or everything allowed).
void ensureCustomMask(Session& s, int n, int m) {
  AttentionOptions& o = s.options;
  if (o.mask == MaskKind::Custom && o.customMask.rows() == n && o.customMask.cols() == m) return;
  MaskMatrix mask(n, m);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) mask(i, j) = isAllowed(o, n, m, i, j) ? 1 : 0;
  o.customMask = mask;
  o.mask = MaskKind::Custom;
}

// A session on a bundle is refused before it replaces the document when its bundle is missing
// or does not fit the session (its path found from the session's folder when relative).
void checkBundleSession(Session& s, const std::string& sessionPath) {
  if (s.bundle.path.empty()) return;
  s.bundle.path = resolveBundlePath(s.bundle.path, sessionPath);
  try {
    const auto b = sharedBundle(s.bundle);
    if (s.view.layer >= b->layers)
      throw Error("view.layer " + std::to_string(s.view.layer) + " does not exist (the bundle has " +
                  std::to_string(b->layers) + (b->layers == 1 ? " layer)" : " layers)"));
    if (s.options.heads != b->heads)
      throw Error("options.heads is " + std::to_string(s.options.heads) + " but the bundle has " +
                  std::to_string(b->heads) + " heads per layer");
  } catch (const Error& e) {
    throw Error(sessionPath + ": " + e.what());
  }
}

float parseFloat(const std::string& s) {
  std::size_t used = 0;
  const float v = std::stof(s, &used);
  if (used != s.size()) throw Error("not a number: \"" + s + "\"");
  return v;
}

// "focus" (the focused head alone), "all", or heads by number: "0,2,3".
std::uint64_t parseHeadSet(const std::string& s) {
  if (s == "focus") return 0;
  if (s == "all") return ~std::uint64_t(0);
  std::uint64_t bits = 0;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    std::size_t used = 0;
    int h = -1;
    try {
      h = std::stoi(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size() || h < 0 || h > 63) throw Error("lines-heads takes focus, all or heads 0-63 like 0,2,3; got \"" + s + "\"");
    bits |= std::uint64_t(1) << h;
  }
  return bits;
}

ViewSettings::SentenceLines parseSentenceLines(const std::string& s) {
  using S = ViewSettings::SentenceLines;
  if (s == "all") return S::All;
  if (s == "AA" || s == "A-A") return S::AA;
  if (s == "AB" || s == "A-B") return S::AB;
  if (s == "BA" || s == "B-A") return S::BA;
  if (s == "BB" || s == "B-B") return S::BB;
  throw Error("lines-sentences takes all, AA, AB, BA or BB; got \"" + s + "\"");
}

bool parseBool(const std::string& s) {
  if (s == "on" || s == "true" || s == "1" || s == "yes") return true;
  if (s == "off" || s == "false" || s == "0" || s == "no") return false;
  throw Error("expected on/off, got \"" + s + "\"");
}

// `set picture-heads selected|mean|all`, picture-overlay attention|rollout, picture-fusion
// mean|max|min, picture-rollout-from LAYER, picture-opacity F, picture-smooth on|off,
// picture-keep F (a share, 0 = all).
PictureView parsePictureSetting(PictureView p, const std::string& key, const std::string& value) {
  if (key == "picture-heads") {
    if (value == "selected") p.heads = PictureHeads::Selected;
    else if (value == "mean") p.heads = PictureHeads::Mean;
    else if (value == "all") p.heads = PictureHeads::All;
    else throw Error("picture-heads is selected, mean or all (got " + value + ")");
  } else if (key == "picture-overlay") {
    if (value != "attention" && value != "rollout") throw Error("picture-overlay is attention or rollout (got " + value + ")");
    p.rollout = value == "rollout";
  } else if (key == "picture-fusion") {
    p.fusion = model::parseHeadFusion(value);
  } else if (key == "picture-rollout-from") {
    p.rolloutFrom = std::max(0, std::stoi(value));
  } else if (key == "picture-opacity") {
    p.opacity = parseFloat(value);
  } else if (key == "picture-smooth") {
    p.smooth = parseBool(value);
  } else if (key == "picture-keep") {
    p.keep = parseFloat(value);
  } else {
    throw Error("unknown picture setting " + key + " (picture-heads, -overlay, -fusion, -rollout-from, -opacity, -smooth, -keep)");
  }
  return p;
}


}  // namespace

const char* slotName(MatrixSlot slot) {
  return slot == MatrixSlot::Q ? "Q" : slot == MatrixSlot::K ? "K" : "V";
}

void report(AppState& app, const std::string& message, bool error) {
  // The status bar, the log and --dump-state all show this line: file names and values in it
  // may hold anything.
  app.message = printable(message);
  app.messageIsError = error;
  app.messageTime = std::chrono::steady_clock::now();
  if (error) app.automation.failed = app.automation.failed || !app.automation.script.empty();
}

// ---- files and samples ----

void afterNewSession(AppState& app) {
  app.hover = {};
  fitView(app);
  keepViewInRange(app);
}

bool loadSample(AppState& app, const std::string& name) {
  return attempt(app, [&] {
    PendingReplace r;
    r.session = attnviz::loadSample(name);
    r.sample = name;
    r.what = "sample \u201c" + name + "\u201d";
    replaceDocument(app, std::move(r));
  });
}

bool openSession(AppState& app, const std::string& path) {
  return attempt(app, [&] {
    Session s = loadSession(path);
    checkBundleSession(s, path);
    replaceSession(app.doc, std::move(s), path);
    app.hover = {};
    app.camera = {};
    keepViewInRange(app);
    report(app, "Opened " + path);
  });
}

bool openFile(AppState& app, const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  // A model: a checkpoint folder, a .safetensors file, or a pickle (refused with its message).
  if (looksLikeBundle(path)) return openBundle(app, path);
  std::error_code ec;
  if (fs::is_directory(path, ec) || ext == ".safetensors" || ext == ".bin" || ext == ".pt" || ext == ".pth")
    return setModel(app, path);
  if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") return openImage(app, path);
  if (ext == ".json") {
    // A JSON file is a session unless it holds a bare matrix.
    std::optional<Session> s;
    try {
      s = loadSession(path);
    } catch (const std::exception&) {
    }
    if (s) {
      if (!attempt(app, [&] { checkBundleSession(*s, path); })) return false;
      PendingReplace r;
      r.session = std::move(s);
      r.path = r.what = path;
      replaceDocument(app, std::move(r));
      return true;
    }
  }
  // A matrix goes into Q: an edit of the current document, not a replacement, so no question.
  return loadMatrix(app, MatrixSlot::Q, path);
}

bool saveSessionAs(AppState& app, const std::string& path) {
  return attempt(app, [&] {
    saveSession(path, app.doc.session);
    app.doc.path = path;
    app.doc.unsaved = false;
    report(app, "Saved " + path);
  });
}

bool loadMatrix(AppState& app, MatrixSlot slot, const std::string& path) {
  return attempt(app, [&] {
    if (!app.doc.session.bundle.path.empty())
      throw Error("a bundle's Q, K, V come from its file: open a sample or session to load " + path + " into " +
                  slotName(slot));
    LoadedMatrix lm = readMatrixFile(path);
    Session& s = app.doc.session;
    // One's own matrices are no longer the sample: its name and description stop applying.
    forgetSampleIdentity(app);
    const bool switched = s.mode != InputMode::Matrices;
    if (switched) {
      // Switching to matrices mode keeps the current projections as the starting point; the
      // token model (and its W_O) goes with token mode.
      startMatricesFromShown(app);
      s.mode = InputMode::Matrices;
    }
    slotMatrix(s, slot) = std::move(lm.values);
    // A 3-D [H, rows, cols] .npy sets the head count, as on the command line.
    std::string heads;
    if (lm.heads > 1) {
      s.options.heads = lm.heads;
      if (s.view.head >= lm.heads) s.view.head = 0;
      heads = " (" + std::to_string(lm.heads) + " heads, from the file)";
    }
    if (slot == MatrixSlot::V && !switched) markValuesChanged(app.doc); else markInputsChanged(app.doc);
    keepViewInRange(app);
    report(app, std::string("Loaded ") + slotName(slot) + " from " + path + heads);
  });
}

bool loadMask(AppState& app, const std::string& path) {
  return attempt(app, [&] {
    app.doc.session.options.customMask = readMaskFile(path);
    app.doc.session.options.mask = MaskKind::Custom;
    markOptionsChanged(app.doc);
    report(app, "Loaded mask from " + path);
  });
}

void screenshot(AppState& app, const std::string& path, std::array<int, 4> crop) {
  app.automation.pendingScreenshot = path;
  app.automation.screenshotCrop = crop;
  app.automation.screenshotCountdown = 1;
}

void quit(AppState& app) {
  if (quitNeedsAnswer(app)) app.recovery.askQuit = true;  // Save / Don't save / Cancel
  else app.quitRequested = true;
}

// ---- options ----

void setScoreFunction(AppState& app, ScoreFunction f) {
  app.doc.session.options.score = f;
  markOptionsChanged(app.doc);
}

void setScaleOverride(AppState& app, std::optional<float> scale) {
  app.doc.session.options.scaleOverride = scale;
  markOptionsChanged(app.doc);
}

void setTemperature(AppState& app, float t) {
  app.doc.session.options.temperature = std::clamp(t, 0.01f, 100.0f);
  markOptionsChanged(app.doc);
}

void setMaskKind(AppState& app, MaskKind k) {
  Session& s = app.doc.session;
  if (k == MaskKind::Custom) {
    const auto [n, m] = sessionShape(app.doc);
    ensureCustomMask(s, int(n), int(m));
  } else {
    s.options.mask = k;
  }
  markOptionsChanged(app.doc);
}

void setPaintMask(AppState& app, bool on) {
  app.view.paintMask = on;
  if (!on) return;
  // Painting happens on the mask step, starting from the mask the user sees.
  stepGoto(app, StageId::Masked);
  if (app.doc.session.options.mask != MaskKind::Custom) setMaskKind(app, MaskKind::Custom);
}

void toggleMaskCell(AppState& app, int row, int col) {
  const auto [rows, cols] = sessionShape(app.doc);
  const int n = int(rows), m = int(cols);
  if (row < 0 || col < 0 || row >= n || col >= m) return;
  Session& s = app.doc.session;
  ensureCustomMask(s, n, m);
  std::uint8_t& cell = s.options.customMask(row, col);
  cell = cell ? 0 : 1;
  markOptionsChanged(app.doc);
}

bool setHeadsQuiet(AppState& app, int heads) {
  Session& s = app.doc.session;
  if (!s.bundle.path.empty() || inModelMode(app)) return false;
  const int width = s.mode == InputMode::Tokens ? s.tokens.dModel : int(s.matrices.q.cols());
  const int vwidth = s.mode == InputMode::Tokens ? s.tokens.dModel : int(s.matrices.v.cols());
  if (heads < 1 || width % heads != 0 || vwidth % heads != 0) return false;
  return setHeads(app, heads);
}

bool setHeads(AppState& app, int heads) {
  Session& s = app.doc.session;
  if (!s.bundle.path.empty()) {
    report(app, "the bundle has " + std::to_string(s.options.heads) + " heads per layer; its heads cannot be changed", true);
    return false;
  }
  if (inModelMode(app)) {
    // A trained layer's heads are fixed by its weights: re-splitting them would show numbers
    // that are not the model's.
    report(app, s.tokens.model + "'s layers have " + std::to_string(s.options.heads) +
                    " heads; a trained model's heads cannot be changed", true);
    return false;
  }
  const int width = s.mode == InputMode::Tokens ? s.tokens.dModel : int(s.matrices.q.cols());
  const int vwidth = s.mode == InputMode::Tokens ? s.tokens.dModel : int(s.matrices.v.cols());
  if (heads < 1 || width % heads != 0 || vwidth % heads != 0) {
    report(app, "heads must divide d_k and d_v (" + std::to_string(width) + ", " +
                    std::to_string(vwidth) + ")", true);
    return false;
  }
  s.options.heads = heads;
  if (s.view.head >= heads) s.view.head = 0;
  markOptionsChanged(app.doc);
  return true;
}

void setColormap(AppState& app, ColormapId id) {
  if (id == ColormapId::RdBu) app.view.divergingForSigned = true; else app.view.sequential = id;
}

void selectBackend(AppState& app, BackendKind kind) {
  GpuCompare& g = app.doc.gpu;
  g.selected = kind;
  g.note.clear();
  if (kind == BackendKind::Gpu) {
    probeGpu(app.doc);
    if (!g.unavailable.empty()) {
      g.selected = BackendKind::Cpu;
      g.note = "GPU unavailable, using the CPU: " + g.unavailable;
      report(app, g.note, true);
      return;
    }
  }
  markBackendChanged(app.doc);
}

void setGpuBufferLimit(AppState& app, std::uint64_t bytes) {
  releaseGpu(app.doc);
  app.doc.gpu.bufferLimit = bytes;
  if (app.doc.gpu.selected == BackendKind::Gpu) selectBackend(app, BackendKind::Gpu);
}

bool setOption(AppState& app, const std::string& key, const std::string& value) {
  return attempt(app, [&] {
    Session& s = app.doc.session;
    if (key == "temperature") setTemperature(app, parseFloat(value));
    else if (key == "scale") setScaleOverride(app, value == "auto" ? std::nullopt : std::optional(parseFloat(value)));
    else if (key == "score") setScoreFunction(app, parseScoreFunction(value));
    else if (key == "mask") setMaskKind(app, value == "custom" ? MaskKind::Custom : parseMaskKind(value));
    else if (key == "heads") { if (!setHeads(app, std::stoi(value))) throw Error(app.message); }
    else if (key == "colormap") setColormap(app, parseColormapId(value));
    else if (key == "diverging") setViewToggle(app, ViewToggle::DivergingForSigned, parseBool(value));
    else if (key == "values") setViewToggle(app, ViewToggle::Values, parseBool(value));
    else if (key == "paint-mask") setPaintMask(app, parseBool(value));
    else if (key == "export-scale") setExportScale(app, parseFloat(value));
    else if (key == "range") setViewToggle(app, ViewToggle::UnitRange, value == "unit");
    else if (key == "colour-scale") setColourScale(app, parseColourScale(value));
    else if (key == "all-terms") setViewToggle(app, ViewToggle::AllTerms, parseBool(value));
    else if (key == "threshold") setLinesThreshold(app, parseFloat(value));
    else if (key == "lines-heads") setLinesHeads(app, parseHeadSet(value));
    else if (key == "lines-sentences") setLinesSentences(app, parseSentenceLines(value));
    else if (key.rfind("picture-", 0) == 0) setPictureView(app, parsePictureSetting(app.doc.session.view.picture, key, value));
    else if (key.rfind("sample-", 0) == 0) {  // generation's sampling: greedy, temperature, top-k, top-p, seed
      model::SamplingOptions o = app.generation.sampling;
      if (key == "sample-greedy") o.greedy = parseBool(value);
      else if (key == "sample-temperature") o.temperature = std::stod(value);  // double, as generate --temperature
      else if (key == "sample-top-k") o.topK = std::stoi(value);
      else if (key == "sample-top-p") o.topP = std::stod(value);
      else if (key == "sample-seed") o.seed = std::stoull(value);
      else throw Error("unknown sampling setting " + key + " (sample-greedy, -temperature, -top-k, -top-p, -seed)");
      model::SamplingOptions sampled = o;
      sampled.greedy = false;
      model::checkSamplingOptions(sampled);  // the one-line error, even while greedy is on
      setSampling(app, o);
    }
    else if (key == "corrupted") setCorruptedPrompt(app, value);
    else if (key == "patch-target") setPatchingTokens(app, value, app.patching.contrast);
    else if (key == "patch-contrast") setPatchingTokens(app, app.patching.target, value);
    else if (key == "text") setTokensText(app, value);
    else if (key == "source") setSourceText(app, value);
    else if (key == "text-pair") setTextPair(app, value);
    else if (key == "tokenizer") setTokenizer(app, parseTokenizerKind(value));
    else if (key == "d_model") setDModel(app, std::stoi(value));
    else if (key == "seed") setSeed(app, std::stoull(value));
    else if (key == "positional") setPositional(app, parseBool(value));
    else if (key == "mode") setInputMode(app, value == "tokens" ? InputMode::Tokens : InputMode::Matrices);
    else if (key == "backend") {
      if (value != "cpu" && value != "gpu") throw Error("backend must be cpu or gpu");
      selectBackend(app, value == "gpu" ? BackendKind::Gpu : BackendKind::Cpu);
    }
    else if (key == "gpu-buffer-limit") setGpuBufferLimit(app, std::stoull(value));
    else if (key == "speed") setPlaySpeed(app, parseFloat(value));
    else if (key == "rope") {  // the RoPE step's heatmap: q, k, q_unrotated or k_unrotated
      const auto shown = findRopeShown(value);
      if (!shown) throw Error("rope must be q, k, q_unrotated or k_unrotated");
      setRopeShown(app, *shown);
    }
    else if (key == "rope-off") { if (!setRopeOff(app, parseBool(value))) throw Error(app.message); }
    else if (key == "kv-highlight") highlightKvHead(app, std::stoi(value));
    else throw Error("unknown option \"" + key + "\"");
    (void)s;
  });
}

// ---- view settings ----

namespace {
bool& toggleOf(ViewSettings& v, ViewToggle which) {
  switch (which) {
    case ViewToggle::Values: return v.showValues;
    case ViewToggle::DivergingForSigned: return v.divergingForSigned;
    case ViewToggle::UnitRange: return v.probabilitiesZeroToOne;
    case ViewToggle::InputsPanel: return v.showInputs;
    case ViewToggle::LinkedPanel: return v.showLinked;
    case ViewToggle::AllTerms: return v.allTerms;
  }
  return v.showValues;
}
}  // namespace

void setViewToggle(AppState& app, ViewToggle which, bool on) { toggleOf(app.view, which) = on; }
bool viewToggle(const AppState& app, ViewToggle which) { return toggleOf(const_cast<ViewSettings&>(app.view), which); }
void setColourScale(AppState& app, ColourScale scale) { app.view.colourScale = scale; }
void setExportScale(AppState& app, float scale) { app.view.exportScale = std::clamp(scale, 0.25f, 8.0f); }
void setLinesThreshold(AppState& app, float threshold) { app.view.linesThreshold = std::clamp(threshold, 0.0f, 1.0f); }
void setLinesHeads(AppState& app, std::uint64_t heads) { app.view.linesHeads = heads; }
void setLinesSentences(AppState& app, ViewSettings::SentenceLines which) { app.view.linesSentences = which; }
void setPlaySpeed(AppState& app, float stepsPerSecond) {
  app.view.playStepsPerSecond = std::clamp(stepsPerSecond, 0.1f, 10.0f);
}
void setPictureView(AppState& app, const PictureView& picture) {
  PictureView p = picture;
  p.opacity = std::clamp(std::isfinite(p.opacity) ? p.opacity : 0.6f, 0.0f, 1.0f);
  p.keep = std::clamp(std::isfinite(p.keep) ? p.keep : 0.0f, 0.0f, 1.0f);
  app.doc.session.view.picture = p;
}
void showSamplesBrowser(AppState& app, bool open) { app.showSamples = open; }
void chooseFile(AppState& app, FileChooser::Purpose purpose) {
  app.chooser.open = true;
  app.chooser.purpose = purpose;
}

// ---- tokens mode ----

void setTokensText(AppState& app, const std::string& text) {
  if (text != app.doc.session.tokens.text) {  // they continued the old text
    app.doc.session.tokens.generated.clear();
    app.generation.lastSteps.clear();
  }
  app.doc.session.tokens.text = text;
  markInputsChanged(app.doc);
}
void setSourceText(AppState& app, const std::string& text) {
  app.doc.session.tokens.source = text;
  markInputsChanged(app.doc);
}
void setTextPair(AppState& app, const std::string& text) {
  app.doc.session.tokens.textPair = text;
  markInputsChanged(app.doc);
}
void setTokenizer(AppState& app, TokenizerKind k) {
  app.doc.session.tokens.tokenizer = k;
  markInputsChanged(app.doc);
}
void setDModel(AppState& app, int dModel) {
  Session& s = app.doc.session;
  s.tokens.dModel = std::clamp(dModel, 1, 4096);
  // Keep heads a divisor of d_model so the edit never leaves an invalid configuration.
  while (s.tokens.dModel % s.options.heads != 0) --s.options.heads;
  markInputsChanged(app.doc);
}
void setSeed(AppState& app, std::uint64_t seed) {
  app.doc.session.tokens.seed = seed;
  markInputsChanged(app.doc);
}
void setPositional(AppState& app, bool on) {
  app.doc.session.tokens.positional = on;
  markInputsChanged(app.doc);
}
void setInputMode(AppState& app, InputMode mode) {
  Session& s = app.doc.session;
  if (!s.bundle.path.empty()) {
    // Leaving a bundle: matrices mode edits its viewed layer's Q, K, V, which weights alone lack.
    if (mode == InputMode::Matrices && !(app.doc.prepared.bundle && app.doc.prepared.bundle->hasQK)) {
      report(app, "this bundle holds weights only: it has no Q, K, V to edit", true);
      return;
    }
    if (mode == InputMode::Matrices) startMatricesFromShown(app);
    s.bundle = {};
    s.view.layer = 0;
    s.mode = InputMode::Matrices;
    if (mode == InputMode::Matrices) {
      forgetSampleIdentity(app);
      markInputsChanged(app.doc);
      keepViewInRange(app);
      return;
    }
  }
  if (s.mode == mode) return;
  forgetSampleIdentity(app);
  if (mode == InputMode::Matrices) startMatricesFromShown(app);
  if (mode == InputMode::Tokens && s.tokens.text.empty()) s.tokens.text = "The cat sat on the mat";
  s.mode = mode;
  if (mode == InputMode::Tokens) {
    while (s.tokens.dModel % s.options.heads != 0) --s.options.heads;
  }
  markInputsChanged(app.doc);
  keepViewInRange(app);
}

// ---- matrices mode ----

void setMatrixValue(AppState& app, MatrixSlot slot, int row, int col, float value) {
  Matrix& m = slotMatrix(app.doc.session, slot);
  if (row < 0 || col < 0 || row >= m.rows() || col >= m.cols() || !std::isfinite(value)) return;
  m(row, col) = value;
  if (slot == MatrixSlot::V) markValuesChanged(app.doc); else markInputsChanged(app.doc);
}

bool resizeMatrices(AppState& app, int n, int m, int dk, int dv) {
  if (n < 1 || m < 1 || dk < 1 || dv < 1 || n > kMaxSequenceLength || m > kMaxSequenceLength ||
      dk > 4096 || dv > 4096) {
    report(app, "sizes must be between 1 and 16384 (d_k, d_v ≤ 4096)", true);
    return false;
  }
  AttentionInputs& in = app.doc.session.matrices;
  auto grow = [](Matrix& x, int r, int c) {
    Matrix y = Matrix::Zero(r, c);
    const int rr = std::min<int>(r, int(x.rows())), cc = std::min<int>(c, int(x.cols()));
    y.topLeftCorner(rr, cc) = x.topLeftCorner(rr, cc);
    x = std::move(y);
  };
  grow(in.q, n, dk);
  grow(in.k, m, dk);
  grow(in.v, m, dv);
  AttentionOptions& o = app.doc.session.options;
  if (o.mask == MaskKind::Custom && (o.customMask.rows() != n || o.customMask.cols() != m)) {
    MaskMatrix mask = MaskMatrix::Ones(n, m);
    const int rr = std::min<int>(n, int(o.customMask.rows())), cc = std::min<int>(m, int(o.customMask.cols()));
    mask.topLeftCorner(rr, cc) = o.customMask.topLeftCorner(rr, cc);
    o.customMask = mask;
  }
  while (dk % o.heads != 0 || dv % o.heads != 0) --o.heads;
  markInputsChanged(app.doc);
  keepViewInRange(app);
  if (app.hover.row >= n || app.hover.col >= m) app.hover = {};
  if (app.doc.session.view.selectedRow >= n) pinCell(app, -1, -1);
  return true;
}

void fillMatrix(AppState& app, MatrixSlot slot, FillKind kind, std::uint64_t seed) {
  Matrix& x = slotMatrix(app.doc.session, slot);
  if (kind == FillKind::Zeros) x.setZero();
  if (kind == FillKind::Identity) x.setIdentity();
  if (kind == FillKind::Random) {
    std::mt19937_64 rng(seed * 3 + std::uint64_t(slot));
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = std::round(u(rng) * 100.0f) / 100.0f;
  }
  if (slot == MatrixSlot::V) markValuesChanged(app.doc); else markInputsChanged(app.doc);
}

bool pasteMatrix(AppState& app, MatrixSlot slot, const std::string& text) {
  return attempt(app, [&] {
    Matrix x = parseClipboardMatrix(text);
    slotMatrix(app.doc.session, slot) = std::move(x);
    if (slot == MatrixSlot::V) markValuesChanged(app.doc); else markInputsChanged(app.doc);
    report(app, std::string("Pasted ") + slotName(slot) + " (" + std::to_string(slotMatrix(app.doc.session, slot).rows()) +
                    "×" + std::to_string(slotMatrix(app.doc.session, slot).cols()) + ")");
  });
}

// ---- step-through and selection ----

namespace {
// The current step's place in the strip, and the strip.
int stepPosition(const Document& d, const std::vector<StageId>& steps) {
  const auto at = std::find(steps.begin(), steps.end(), currentStep(d));
  return at == steps.end() ? 0 : int(at - steps.begin());
}
}  // namespace

void stepGoto(AppState& app, StageId step) {
  if (!stepAvailable(app.doc, step)) return;
  app.doc.session.view.step = int(step);
  app.camera.fit = true;  // the output steps have another shape
}
void stepGotoPosition(AppState& app, int position) {
  const std::vector<StageId> steps = availableSteps(app.doc);
  stepGoto(app, steps[std::size_t(std::clamp(position, 0, int(steps.size()) - 1))]);
}
void stepNext(AppState& app) {
  const std::vector<StageId> steps = availableSteps(app.doc);
  const int at = stepPosition(app.doc, steps);
  if (at + 1 >= int(steps.size())) {
    app.view.playing = false;
    return;
  }
  stepGoto(app, steps[std::size_t(at + 1)]);
}
void stepPrev(AppState& app) { stepGotoPosition(app, stepPosition(app.doc, availableSteps(app.doc)) - 1); }

void togglePlay(AppState& app) {
  app.view.playing = !app.view.playing;
  app.view.playAccumulator = 0;
  const std::vector<StageId> steps = availableSteps(app.doc);
  if (app.view.playing && stepPosition(app.doc, steps) + 1 >= int(steps.size())) stepGotoPosition(app, 0);
}

void selectHead(AppState& app, int head) {
  app.doc.session.view.head = std::clamp(head, -1, app.doc.session.options.heads - 1);
}

void hoverCell(AppState& app, int row, int col, int head, bool fromScript) {
  // The mouse's hover is collected during the frame and shown from the next one; a scripted
  // hover applies at once and stays until replaced.
  Hover& h = fromScript ? app.hover : app.hoverNext;
  h.row = row;
  h.col = col;
  h.head = head;
  h.fromScript = fromScript;
}

void commitHover(AppState& app) {
  if (app.hoverNext.row >= 0 || !app.hover.fromScript) app.hover = app.hoverNext;
  app.hoverNext = {};
}

void clearHover(AppState& app) { app.hover = {}; }

void pinCell(AppState& app, int row, int col) {
  ViewState& v = app.doc.session.view;
  const bool same = v.selectedRow == row && v.selectedCol == col;
  v.selectedRow = same ? -1 : row;  // clicking the pinned cell again unpins it
  v.selectedCol = same ? -1 : col;
  if (row < 0 || col < 0) v.selectedRow = v.selectedCol = -1;
}

void fitView(AppState& app) { app.camera.fit = true; }

void zoomView(AppState& app, float factor, float anchorCol, float anchorRow) {
  HeatmapCamera& c = app.camera;
  const float newPx = std::clamp(c.cellPx * factor, 0.05f, 400.0f);
  // Keep the cell under the mouse where it is.
  c.originCol = anchorCol - (anchorCol - c.originCol) * c.cellPx / newPx;
  c.originRow = anchorRow - (anchorRow - c.originRow) * c.cellPx / newPx;
  c.cellPx = newPx;
  c.fit = false;
}

void panView(AppState& app, float cols, float rows) {
  app.camera.fit = false;
  app.camera.originCol += cols;
  app.camera.originRow += rows;
}

// ---- state dump for tests ----

void dumpState(const AppState& app, const std::string& path) {
  const Document& d = app.doc;
  const Session& s = d.session;
  nlohmann::json j;
  j["step"] = s.view.step;
  j["step_name"] = stageInfo(currentStep(d)).title;
  j["stage"] = stageInfo(currentStep(d)).name;
  j["head"] = s.view.head;
  j["selected"] = {s.view.selectedRow, s.view.selectedCol};
  j["hover"] = {app.hover.row, app.hover.col};
  j["mode"] = s.mode == InputMode::Tokens ? "tokens" : "matrices";
  j["name"] = s.name;
  j["description"] = s.description;
  j["sample"] = d.sample;
  j["steps"] = nlohmann::json::array();
  for (StageId step : availableSteps(d)) j["steps"].push_back(stageInfo(step).name);
  j["trace_stages"] = nlohmann::json::array();
  for (const StageInfo& st : stageList())
    if (stageExists(d.trace(), st.id)) j["trace_stages"].push_back(st.name);
  j["d_v"] = d.trace().dv;
  j["text"] = s.tokens.text;
  j["query_tokens"] = d.prepared.queryLabels;
  j["n"] = d.trace().n;
  j["m"] = d.trace().m;
  j["heads"] = s.options.heads;
  j["temperature"] = s.options.temperature;
  j["mask"] = toString(s.options.mask);
  j["frames"] = app.frameIndex;
  j["error"] = d.error;
  j["message"] = app.message;
  j["what_ifs"] = modelWhatIfs(app);
  j["script_failed"] = app.automation.failed;
  const GpuCompare& g = d.gpu;
  j["backend"] = g.active ? "GPU" : "CPU";
  j["backend_name"] = activeBackendName(d);
  j["gpu"] = {{"selected", g.selected == BackendKind::Gpu ? "gpu" : "cpu"},
              {"active", g.active},
              {"renderer", g.renderer},
              {"unavailable", g.unavailable},
              {"note", g.note},
              {"cpu_ms", g.cpuMs},
              {"gpu_ms", g.gpuMs}};
  // NaN and infinity have no JSON form: a difference that is not a finite number is null.
  for (const auto& [stage, diff] : g.maxDiff)
    j["gpu"]["max_diff"][stage] = std::isfinite(diff) ? nlohmann::json(diff) : nlohmann::json();
  for (const Document::WorkerRun& r : d.workerRuns)
    j["worker_runs"].push_back({{"start_frame", r.startFrame}, {"end_frame", r.endFrame}, {"ms", r.ms},
                                {"n", r.n}, {"m", r.m}});
  j["computing"] = isComputing(d);
  j["stale"] = d.stale;
  j["unsaved"] = d.unsaved;
  j["recovery_offered"] = app.recovery.offer;
  j["quit_question"] = app.recovery.askQuit;
  j["replace_question"] = app.replace.asking;
  j["replace_with"] = app.replace.session ? app.replace.what : "";
  j["recovery_file"] = app.recovery.path;
  j["recovery_offer_file"] = app.recovery.offer ? app.recovery.offerPath : "";
  j["paint_mask"] = app.view.paintMask;
  // Masked cells of a painted mask as [row, col] pairs (small masks only: tests read them).
  const MaskMatrix& cm = s.options.customMask;
  if (s.options.mask == MaskKind::Custom && cm.size() <= 4096) {
    j["masked_cells"] = nlohmann::json::array();
    for (int r = 0; r < cm.rows(); ++r)
      for (int c = 0; c < cm.cols(); ++c)
        if (!cm(r, c)) j["masked_cells"].push_back({r, c});
  }
  j["model"] = s.mode == InputMode::Tokens ? s.tokens.model : "";
  j["layer"] = s.view.layer;
  j["token_ids"] = d.prepared.tokenIds;
  j["text_pair"] = s.tokens.textPair;
  j["sentence"] = d.prepared.sentence;
  j["lines_heads"] = app.view.linesHeads;
  j["lines_sentences"] = int(app.view.linesSentences);
  j["query_labels"] = d.prepared.queryLabels;
  j["key_tokens"] = d.prepared.keyLabels;
  j["bundle"] = s.bundle.path;
  j["layers"] = modelLayerCount(app);
  j["given_max_diff"] = d.givenDifference.maxAbs;
  // The viewed head's weights as the views show them (small traces only: tests compare them
  // with the file's).
  if (d.hasTrace && !d.trace().head.empty() && stageExists(d.trace(), StageId::Weights)) {
    const Matrix& w = d.trace().head[std::size_t(std::clamp(s.view.head, 0, d.trace().heads - 1))].weights;
    if (w.size() <= 4096) {
      j["weights"] = nlohmann::json::array();
      for (Eigen::Index r = 0; r < w.rows(); ++r) {
        std::vector<float> row;
        for (Eigen::Index c = 0; c < w.cols(); ++c) row.push_back(w(r, c));
        j["weights"].push_back(row);
      }
    }
  }
  j["gl_errors"] = app.glErrors;
  for (const auto& [name, r] : app.widgetRects) j["widgets"][name] = r;
  // The RoPE step, grouped-query attention and the layer's own mask (issue 16).
  j["rope_shown"] = ropeShownName(s.view.rope);
  j["rope_off"] = s.ropeOff;
  j["trace_mask"] = toString(d.trace().options.mask);
  if (const auto& b = d.prepared.block) {
    j["kv_heads"] = b->kvHeads;
    for (int h = 0; h < b->heads; ++h) j["kv_head_of"].push_back(b->kvHeadOf(h));
    j["sliding_window"] = b->slidingWindow ? nlohmann::json(*b->slidingWindow) : nlohmann::json();
  }
  j["kv_highlight"] = app.view.highlightKvHead;
  {
    const PictureView& pic = app.doc.session.view.picture;
    const char* heads[] = {"selected", "mean", "all"};
    j["picture"] = {{"shown", bool(d.prepared.picture)}, {"heads", heads[int(pic.heads)]},
                    {"overlay", pic.rollout ? "rollout" : "attention"}, {"fusion", model::toString(pic.fusion)},
                    {"rollout_from", pic.rolloutFrom},
                    {"opacity", pic.opacity}, {"smooth", pic.smooth}, {"keep", pic.keep},
                    {"image", s.tokens.image}};
    if (d.prepared.picture)
      j["picture"]["size"] = {d.prepared.picture->width, d.prepared.picture->height};
    if (d.prepared.forward && d.prepared.forward->grid) {
      const model::PatchGrid& g = *d.prepared.forward->grid;
      j["picture"]["grid"] = {{"rows", g.rows}, {"cols", g.cols}, {"patch", g.patch}, {"prefix", g.prefix.size()}};
    }
  }
  if (app.hover.row >= 0) {
    const int head = std::max(0, app.hover.head >= 0 ? app.hover.head : s.view.head);
    j["hover_derivation"] = deriveCell(d, currentStep(d), head, app.hover.row, app.hover.col, app.view.allTerms);
    if (currentStep(d) == StageId::Rope)
      if (const auto r = ropePair(d, head, app.hover.row, app.hover.col))
        j["rope_pair"] = {{"head", r->head}, {"kv_head", r->kvHead}, {"key", r->key}, {"position", r->position},
                          {"pair", {r->pair, r->partner}}, {"inv_freq", r->invFreq}, {"theta", r->theta},
                          {"before", {r->before[0], r->before[1]}}, {"after", {r->after[0], r->after[1]}},
                          {"shown", r->shown}, {"rotated_shown", r->rotatedShown}};
  }
  j["generated"] = s.tokens.generated;
  {
    nlohmann::json steps = nlohmann::json::array();
    for (const model::SampledToken& t : app.generation.lastSteps) {
      nlohmann::json top = nlohmann::json::array();
      for (const model::Candidate& c : t.top)
        top.push_back({{"id", c.id}, {"p", c.probability}, {"tempered", c.tempered}, {"kept", c.kept}});
      steps.push_back({{"id", t.id}, {"p", t.probability}, {"kept", t.kept}, {"after_top_k", t.afterTopK},
                       {"after_top_p", t.afterTopP}, {"top", top}});
    }
    j["last_sampling"] = steps;
  }
  if (const auto& r = app.patching.result) {
    nlohmann::json heads = nlohmann::json::array(), resid = nlohmann::json::array();
    for (int l = 0; l < r->heads.rows(); ++l) {
      nlohmann::json row = nlohmann::json::array();
      for (int h = 0; h < r->heads.cols(); ++h) row.push_back(r->heads(l, h));
      heads.push_back(row);
    }
    for (int l = 0; l < r->resid.rows(); ++l) {
      nlohmann::json row = nlohmann::json::array();
      for (int i = 0; i < r->resid.cols(); ++i) row.push_back(r->resid(l, i));
      resid.push_back(row);
    }
    j["patching"] = {{"target", r->target}, {"contrast", r->contrast}, {"ld_clean", r->ldClean},
                     {"ld_corrupted", r->ldCorrupted}, {"heads", heads}, {"resid", resid}};
  }
  if (hasReadout(app)) {
    if (const model::LogitLens* lens = currentLogitLens(app)) {
      nlohmann::json top = nlohmann::json::array(), prob = nlohmann::json::array();
      for (int e = 0; e < lens->entries; ++e) {
        nlohmann::json ids = nlohmann::json::array(), ps = nlohmann::json::array();
        for (int i = 0; i < lens->positions; ++i) {
          ids.push_back(lens->at(e, i).ids.front());
          ps.push_back(lens->at(e, i).probabilities.front());
        }
        top.push_back(ids);
        prob.push_back(ps);
      }
      j["logit_lens"] = {{"entries", lens->entries}, {"positions", lens->positions}, {"top_ids", top}, {"top_p", prob}};
    }
    if (const model::LogitAttribution* a = currentAttribution(app)) {
      nlohmann::json heads = nlohmann::json::array(), mlps = nlohmann::json::array();
      for (int l = 0; l < a->heads.rows(); ++l) {
        nlohmann::json row = nlohmann::json::array();
        for (int h = 0; h < a->heads.cols(); ++h) row.push_back(a->heads(l, h));
        heads.push_back(row);
        mlps.push_back(a->mlps(l));
      }
      j["head_effects"] = {{"position", a->position}, {"target", a->target}, {"heads", heads}, {"mlps", mlps},
                           {"embeddings", a->embeddings}, {"biases", a->biases()}, {"sum", a->sum()}, {"logit", a->logit()}};
    }
  }
  j["download"] = {{"dialog", app.download.dialogOpen}, {"running", isDownloading(app)},
                    {"name", app.download.name}, {"error", app.download.error}};
  j["colour_scale"] = toString(app.view.colourScale);
  j["all_terms"] = app.view.allTerms;
  std::ofstream(path) << j.dump(2) << "\n";
}

void writeScreenshotSidecar(const AppState& app, const std::string& path) {
  const HeatmapGeometry& g = app.geometry;
  nlohmann::json j;
  j["valid"] = g.valid;
  j["origin"] = {g.x0, g.y0};
  j["cell"] = {g.cellW, g.cellH};
  j["clip"] = {g.clipX0, g.clipY0, g.clipX1, g.clipY1};
  j["rows"] = g.rows;
  j["cols"] = g.cols;
  j["range"] = {g.vmin, g.vmax};
  j["colormap"] = colormapName(g.colormap);
  j["step"] = g.step;
  j["stage"] = stageInfo(StageId(std::clamp(g.step, 0, kStageCount - 1))).name;
  j["head"] = g.head;
  j["pinned"] = {app.doc.session.view.selectedRow, app.doc.session.view.selectedCol};
  // What the progress/stale marker showed when the screenshot was taken.
  j["computing"] = isComputing(app.doc);
  j["stale"] = app.doc.stale || isComputing(app.doc);
  std::ofstream(path) << j.dump(2) << "\n";
}

}  // namespace attnviz::gui
