#include "cli_common.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>

#include "bundle_session.hpp"
#include "model.hpp"
#include "matrix_io.hpp"

namespace attnviz::cli {

void unknownChoice(const std::string& flag, const std::string& value, const std::string& choices) {
  throw UsageError(flag + ": unknown value \"" + printable(value) + "\" (expected " + choices + ")");
}

namespace {

// --scale and --temperature are float32 in the engine: a value that float cannot hold is named,
// not silently turned into ∞ or 0.
float floatFromFlag(const std::string& flag, const std::string& value) {
  const double v = parseDouble(flag, value);
  if (std::abs(v) > double(std::numeric_limits<float>::max()))
    throw UsageError(flag + " " + value + " is beyond float32's range (±3.4e38)");
  const float f = float(v);
  if (v != 0 && f == 0)
    throw UsageError(flag + " " + value + " is below float32's smallest positive value (1.4e-45)");
  return f;
}

float temperatureFromFlag(const std::string& value) {
  const float t = floatFromFlag("--temperature", value);
  if (!(t > 0)) throw UsageError("--temperature must be > 0");
  return t;
}

ScoreFunction scoreFromFlag(const std::string& value) {
  if (value != "scaled" && value != "dot" && value != "cosine") unknownChoice("--score", value, "scaled, dot or cosine");
  return parseScoreFunction(value);
}

// --mask NAME|FILE. A word that names no mask and no file is a mistyped name, not a file that
// cannot be opened.
void setMaskFromFlag(const std::string& value, AttentionOptions& options) {
  std::error_code ec;
  const bool looksLikeFile = value.find_first_of("./") != std::string::npos || std::filesystem::exists(value, ec);
  if (value == "none" || value == "causal" || value == "causal-top-left") {
    options.mask = parseMaskKind(value);
    options.customMask.resize(0, 0);
  } else if (!looksLikeFile) {
    unknownChoice("--mask", value, std::string(maskKindNames()) + ", or a mask file such as mask.csv");
  } else {
    options.mask = MaskKind::Custom;
    options.customMask = readMaskFile(value);
  }
}

}  // namespace

std::string takeValue(const std::vector<std::string>& args, size_t& i) {
  if (i + 1 >= args.size()) throw UsageError(args[i] + " needs a value");
  return args[++i];
}

bool readFlags(const std::vector<std::string>& args, const std::vector<ValueFlag>& values,
               const std::vector<SwitchFlag>& switches, const char* help) {
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << help;
      return false;
    }
    bool known = false;
    for (const SwitchFlag& s : switches)
      if (a == s.flag) {
        if (*s.on) throw UsageError(a + " given twice");
        *s.on = known = true;
      }
    for (const ValueFlag& f : values)
      if (a == f.flag) {
        if (*f.value) throw UsageError(a + " given twice");
        *f.value = takeValue(args, i);
        known = true;
      }
    if (!known) throw UsageError("unknown option " + a);
  }
  return true;
}

long parseLong(const std::string& flag, const std::string& value, long lo, long hi) {
  long v = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || ptr != value.data() + value.size())
    throw UsageError(flag + " expects an integer, got \"" + value + "\"");
  if (v < lo || v > hi)
    throw UsageError(flag + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return v;
}

double parseDouble(const std::string& flag, const std::string& value) {
  double v = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || ptr != value.data() + value.size() || !std::isfinite(v))
    throw UsageError(flag + " expects a finite number, got \"" + value + "\"");
  return v;
}

bool InputArgs::consume(const std::vector<std::string>& args, size_t& i) {
  const std::string& a = args[i];
  const struct { const char* flag; std::optional<std::string> InputArgs::*field; } flags[] = {
      {"--sample", &InputArgs::sample},   {"--session", &InputArgs::sessionFile},
      {"--q", &InputArgs::qFile},         {"--k", &InputArgs::kFile},
      {"--v", &InputArgs::vFile},         {"--tokens", &InputArgs::tokens},
      {"--source", &InputArgs::source},   {"--d-model", &InputArgs::dModel},
      {"--seed", &InputArgs::seed},       {"--tokenizer", &InputArgs::tokenizer},
      {"--positional", &InputArgs::positional},
      {"--score", &InputArgs::score},     {"--scale", &InputArgs::scale},
      {"--temperature", &InputArgs::temperature}, {"--mask", &InputArgs::mask},
      {"--heads", &InputArgs::heads},     {"--model", &InputArgs::model},
      {"--text", &InputArgs::text},       {"--layer", &InputArgs::layer},
      {"--image", &InputArgs::image},
      {"--bundle", &InputArgs::bundle},
  };
  if (a == "--allow-unnormalised") {
    allowUnnormalised = true;
    return true;
  }
  for (const auto& f : flags) {
    if (a != f.flag) continue;
    if (this->*f.field) throw UsageError(a + " given twice");
    this->*f.field = takeValue(args, i);
    return true;
  }
  return false;
}

// --bundle FILE: an input of its own; --layer and the what-if options apply to it.
static Session bundleInput(const InputArgs& a) {
  const struct { const char* flag; bool given; } others[] = {
      {"--sample", bool(a.sample)}, {"--session", bool(a.sessionFile)}, {"--q/--k/--v", a.qFile || a.kFile || a.vFile},
      {"--tokens", bool(a.tokens)}, {"--text", bool(a.text)}, {"--source", bool(a.source)}, {"--model", bool(a.model)},
      {"--image", bool(a.image)}, {"--d-model", bool(a.dModel)}, {"--seed", bool(a.seed)}, {"--tokenizer", bool(a.tokenizer)},
      {"--positional", bool(a.positional)}, {"--heads", bool(a.heads)}};
  for (const auto& o : others)
    if (o.given) throw UsageError(std::string("--bundle is an input of its own: drop ") + o.flag);
  BundleRef ref;
  std::error_code ec;
  // Sessions saved from this one find the bundle from any working directory.
  const std::filesystem::path absolute = std::filesystem::absolute(*a.bundle, ec);
  ref.path = ec ? *a.bundle : absolute.lexically_normal().string();
  ref.allowUnnormalised = a.allowUnnormalised;
  Session s = bundleSession(ref);
  const auto bundle = sharedBundle(ref);
  if (a.layer) s.view.layer = int(parseLong("--layer", *a.layer, 0, 1023));
  if ((a.score || a.scale || a.temperature || a.mask) && !bundle->hasQK)
    throw Error(*a.bundle + ": --score, --scale, --temperature and --mask recompute the weights, which needs q and k in the bundle");
  if (a.score) s.options.score = scoreFromFlag(*a.score);
  if (a.scale) s.options.scaleOverride = floatFromFlag("--scale", *a.scale);
  if (a.temperature) s.options.temperature = temperatureFromFlag(*a.temperature);
  if (a.mask) setMaskFromFlag(*a.mask, s.options);
  return s;
}

Session InputArgs::build() const {
  if (bundle) return bundleInput(*this);
  if (allowUnnormalised && !sessionFile) throw UsageError("--allow-unnormalised applies to an attention bundle (--bundle FILE)");
  if (text && tokens) throw UsageError("--text and --tokens are the same thing: give one");
  const std::optional<std::string> tokens = this->tokens ? this->tokens : text;
  if (text && !model) throw UsageError("--text goes with --model (or use --tokens for the random toy model)");
  if (image && !model) throw UsageError("--image goes with --model (a vision model)");
  if (image && (tokens || source)) throw UsageError("--image is a vision model's input: drop --text, --tokens and --source");
  if (layer && !model && !sample && !sessionFile) throw UsageError("--layer needs --model");
  const int inputKinds = int(bool(sample)) + int(bool(sessionFile)) + int(bool(qFile || kFile || vFile)) +
                         int(bool(tokens)) + int(bool(image));
  if (inputKinds == 0)
    throw UsageError("no input: give --sample NAME, --session FILE, --q/--k/--v FILES, --tokens TEXT or --model M --image FILE");
  if (inputKinds > 1) throw UsageError("give only one input: --sample, --session, --q/--k/--v, --tokens or --image");
  if (source && !tokens) throw UsageError("--source needs --tokens (it is the key/value sequence of cross-attention)");
  if ((dModel || seed || tokenizer || positional) && !tokens && !sample && !sessionFile)
    throw UsageError("--d-model, --seed, --tokenizer and --positional apply to token mode only");

  // Enumerated values are checked before any file is read, whichever input they apply to.
  if (tokenizer && *tokenizer != "words" && *tokenizer != "chars") unknownChoice("--tokenizer", *tokenizer, "words or chars");
  if (positional && *positional != "on" && *positional != "off") unknownChoice("--positional", *positional, "on or off");
  if (score) scoreFromFlag(*score);

  Session s;
  if (sample) {
    s = loadSample(*sample);
  } else if (sessionFile) {
    s = loadSession(*sessionFile);
    if (allowUnnormalised && s.bundle.path.empty()) throw UsageError("--allow-unnormalised applies to an attention bundle");
    if (allowUnnormalised) s.bundle.allowUnnormalised = true;
  } else if (image) {
    s.name = "image";
    s.mode = InputMode::Tokens;
  } else if (tokens) {
    s.name = "tokens";
    s.mode = InputMode::Tokens;
    s.tokens.text = *tokens;
    if (source) s.tokens.source = *source;
  } else {
    if (!qFile || !kFile || !vFile) throw UsageError("matrix input needs all three of --q, --k and --v");
    s.name = "matrices";
    s.mode = InputMode::Matrices;
    const auto load = [](const std::string& path, const char* name) {
      LoadedMatrix m = readMatrixFile(path);
      (void)name;
      return m;
    };
    const LoadedMatrix q = load(*qFile, "Q"), k = load(*kFile, "K"), v = load(*vFile, "V");
    s.matrices = {q.values, k.values, v.values};
    // A 3-D [H, rows, cols] .npy carries its head count.
    if (q.heads > 1) s.options.heads = q.heads;
    if ((q.heads != k.heads || q.heads != v.heads) && (q.heads > 1 || k.heads > 1 || v.heads > 1))
      throw Error("Q, K and V have different head counts (" + std::to_string(q.heads) + ", " +
                  std::to_string(k.heads) + ", " + std::to_string(v.heads) + ")");
  }
  if (model) {
    if (s.mode != InputMode::Tokens) throw UsageError("--model needs a text: --text TEXT, or a token sample");
    if (dModel || seed || tokenizer || positional)
      throw UsageError("--d-model, --seed, --tokenizer and --positional are for the random toy model, not --model");
    const model::ModelShape config = model::readModelShape(*model, modelsDirectory());
    const bool vision = config.input == model::InputKind::Image;
    if (vision && !image && s.tokens.image.empty())
      throw UsageError(*model + " is a vision model: give it --image FILE");
    if (!vision && image) throw UsageError(*model + " is a text model: give it --text TEXT");
    if (image) s.tokens.image = *image;
    if (s.tokens.model != *model) {
      s.options.heads = config.heads;
      s.options.mask = config.causal ? MaskKind::Causal : MaskKind::None;
      s.options.score = ScoreFunction::Scaled;
      s.view = {};
    }
    s.tokens.model = *model;
    if (s.name == "tokens") s.name = *model;
  }
  if (layer) {
    if ((s.mode != InputMode::Tokens || s.tokens.model.empty()) && s.bundle.path.empty())
      throw UsageError("--layer applies to a model's attention");
    s.view.layer = int(parseLong("--layer", *layer, 0, 1023));
  }
  if (s.mode == InputMode::Tokens && !s.tokens.model.empty()) {
    // Token-mode flags of the toy model do not apply.
  } else if (s.mode == InputMode::Tokens) {
    if (dModel) s.tokens.dModel = int(parseLong("--d-model", *dModel, 1, 4096));
    if (seed) s.tokens.seed = std::uint64_t(parseLong("--seed", *seed, 0, 1L << 53));
    if (tokenizer) s.tokens.tokenizer = parseTokenizerKind(*tokenizer);
    if (positional) {
      s.tokens.positional = *positional == "on";
    }
  } else if (dModel || seed || tokenizer || positional) {
    throw UsageError("--d-model, --seed, --tokenizer and --positional apply to token mode only");
  }
  if (score) s.options.score = scoreFromFlag(*score);
  if (scale) s.options.scaleOverride = floatFromFlag("--scale", *scale);
  if (temperature) s.options.temperature = temperatureFromFlag(*temperature);
  if (heads) s.options.heads = int(parseLong("--heads", *heads, 1, 4096));
  if (mask) setMaskFromFlag(*mask, s.options);
  return s;
}

}  // namespace attnviz::cli
