// The model commands: `models`, `tokenize`, and `compute --model` (every layer's attention of a
// real checkpoint, with the hidden states and logits).
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "head_scores.hpp"
#include "json_number.hpp"
#include "logit_lens.hpp"
#include "matrix_io.hpp"
#include "blocks.hpp"
#include "checkpoint.hpp"
#include "hub/hub_cache.hpp"
#include "model.hpp"
#include "numbers.hpp"
#include "rollout.hpp"
#include "session.hpp"

namespace attnviz::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace attnviz::model;

constexpr const char* kModelsHelp =
    "usage: attnviz models [--scores NAME|PATH [--text TEXT]]\n"
    "\n"
    "Lists the built-in models (name, shape, and what each was trained on), then the models in\n"
    "the Hugging Face cache (ORG/NAME, family, size of the weights, their format, the cached\n"
    "commit): HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub. Open one with\n"
    "--model ORG/NAME [--revision R].\n"
    "--scores prints every head's scores (README: \"Head scores\"): previous-token, first-token,\n"
    "duplicate-token, induction and entropy on TEXT (default: the pronoun sample's text), and the\n"
    "prefix-matching score on a repeated random sequence (Olsson et al. 2022: the start token,\n"
    "then 50 random tokens twice; attention from the second copy to the token after the first).\n";

constexpr const char* kTokenizeHelp =
    "usage: attnviz tokenize --model NAME|PATH (--text TEXT [--text-pair B] | --jsonl FILE) [--no-bos]\n"
    "\n"
    "Prints {\"ids\": [...], \"tokens\": [...]} for TEXT, tokens as display texts (a space shows\n"
    "as ·, a newline as ↵, bytes that are not whole UTF-8 as \\xNN). --jsonl reads one JSON\n"
    "string per line, or an array [A, B] for a pair, and prints one object per line. Needs only\n"
    "the tokenizer files.\n"
    "The ids are what the model receives: with the BOS (and EOS) the tokenizer's post-processor or\n"
    "tokenizer_config.json adds (e.g. <s>, <|begin_of_text|>); --no-bos prints the text's ids alone.\n";

const char* const kModelComputeHelp =
    "\n"
    "With a model (gpt2, llama, mistral, qwen2; README \"Models\"):\n"
    "  attnviz compute --model NAME|PATH (--text TEXT | --ids 1,2,3) [--layer L|all]\n"
    "  attnviz compute --model NAME|PATH (--image FILE | --pixels FILE.npy) [--layer L|all] ...\n"
    "  encoders (bert, roberta, distilbert): --text A [--text-pair B], or --ids 1,2,3 [--type-ids 0,0,1]\n"
    "  (sentence A 0, B 1); model.json's fill_mask: the ten likeliest tokens at every [MASK]\n"
    "                  [--temperature T] [--scale X] [--mask causal|none] [--ablate L.H]... --out DIR\n"
    "writes tokens.json, hidden.npy [L+1, n, d_model] (0: embeddings; l: after block l),\n"
    "logits.npy [n, vocab], model.json (config, options, per-head scores), and per layer\n"
    "layerL/ with the numbers layout of compute above (q, k, v, every stage, projected = heads ·\n"
    "c_proj or o_proj without its bias, trace.json); rotary models add\n"
    "q_unrotated.npy and k_unrotated.npy [H, n, d_head], Q and K before the rotation (k, v and\n"
    "k_unrotated repeated to the H query heads). --temperature, --scale and --mask apply to every\n"
    "layer as a \"what if\" (--mask none also lifts a sliding window); --ablate zeroes a head's output.\n";

// {"ids", "tokens"} and, for a tokenizer with token types (an encoder's), "type_ids".
void writeJsonLine(const TextEncoding& e, const TextTokenizer& tok, bool withTypes = false) {
  json tokens = json::array();
  for (int id : e.ids) tokens.push_back(tok.displayText(id));
  json line = {{"ids", e.ids}, {"tokens", tokens}};
  if (tok.wordPiece() || withTypes) line["type_ids"] = e.typeIds;
  std::cout << line.dump() << "\n";
}

// n × H·d_head, head h in columns h·d_head …, as [H, n, d_head] (the layout of q.npy).
void writeHeads(const std::string& path, const Matrix& m, int heads) {
  const long n = m.rows(), dh = m.cols() / heads;
  std::vector<float> data;
  data.reserve(size_t(m.size()));
  for (int h = 0; h < heads; ++h)
    for (long i = 0; i < n; ++i) data.insert(data.end(), m.row(i).data() + h * dh, m.row(i).data() + (h + 1) * dh);
  writeNpy(path, data.data(), {long(heads), n, dh});
}

std::vector<int> parseIds(const std::string& text, const std::string& flag = "--ids") {
  std::vector<int> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) ids.push_back(int(parseLong(flag, item, 0, 1L << 30)));
  if (ids.empty()) throw UsageError(flag + " needs a comma-separated list of ids");
  return ids;
}

json configJson(const Model& m) { return json::parse(m.architecture->configJson()); }

json headScoresJson(const ForwardRecord& rec) {
  json layers = json::array();
  for (size_t l = 0; l < rec.layers.size(); ++l) {
    json heads = json::array();
    for (const HeadTrace& h : rec.layers[l].pattern.head) {
      const HeadScores s = scoreHead(h.weights, rec.ids);
      json j;
      for (int k = 0; k < kHeadScoreKinds; ++k) j[headScoreName(k)] = headScore(s, k);
      heads.push_back(j);
    }
    layers.push_back(heads);
  }
  return layers;
}

// Mean next-token loss (nats) over the positions that have a next token.
std::optional<double> meanLoss(const ForwardRecord& rec) {
  if (rec.ids.size() < 2 || size_t(rec.logits.rows()) != rec.ids.size()) return std::nullopt;
  double sum = 0;
  for (size_t i = 0; i + 1 < rec.ids.size(); ++i) sum -= logSoftmax(rec.logits.row(long(i)))(rec.ids[i + 1]);
  return sum / double(rec.ids.size() - 1);
}

// The text's ids (and token types), from --text [--text-pair] (tokenised) or --ids [--type-ids].
TextEncoding inputIds(const Model& model, const std::optional<std::string>& text, const std::optional<std::string>& pair,
                      const std::optional<std::string>& ids, const std::optional<std::string>& typeIds) {
  if (text && ids) throw UsageError("give --text or --ids, not both");
  if (!text && !ids) throw UsageError("a model needs --text TEXT or --ids 1,2,3");
  if (pair && !text) throw UsageError("--text-pair goes with --text");
  if (typeIds && !ids) throw UsageError("--type-ids goes with --ids");
  if (text) return model.tokenizer.encodeForModel(*text, pair);  // with the special tokens the files ask for
  TextEncoding e;
  e.ids = parseIds(*ids);
  e.typeIds = typeIds ? parseIds(*typeIds, "--type-ids") : std::vector<int>(e.ids.size(), 0);
  if (e.typeIds.size() != e.ids.size())
    throw UsageError("--type-ids has " + std::to_string(e.typeIds.size()) + " entries for " + std::to_string(e.ids.size()) +
                     " ids");
  return e;
}

// For every masked token ([MASK], <mask>) of a masked-LM's input, its ten most probable fillings.
json fillMask(const Model& model, const ForwardRecord& rec) {
  json out = json::array();
  const auto mask = model.tokenizer.maskId();
  if (!mask || rec.logits.rows() != long(rec.ids.size())) return out;
  for (std::size_t i = 0; i < rec.ids.size(); ++i) {
    if (rec.ids[i] != *mask) continue;
    const Vector logProbs = logSoftmax(rec.logits.row(long(i)));
    std::vector<int> order(std::size_t(logProbs.size()));
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = int(k);
    const std::size_t shown = std::min<std::size_t>(10, order.size());
    std::partial_sort(order.begin(), order.begin() + long(shown), order.end(),
                      [&](int a, int b) { return logProbs(a) > logProbs(b); });
    json top = json::array();
    for (std::size_t k = 0; k < shown; ++k)
      top.push_back({{"id", order[k]}, {"token", model.tokenizer.displayText(order[k])},
                     {"p", std::exp(double(logProbs(order[k])))}});
    out.push_back({{"position", i}, {"top", top}});
  }
  return out;
}

PixelTensor preprocessImage(const Model& model, const std::string& image, json& preprocessing) {
  PixelTensor pixels = preprocessImageFile(model, image);
  preprocessing = json::parse(model.imageProcessor->json());
  preprocessing["source"] = "image";
  preprocessing["file"] = image;
  preprocessing["from_file"] = model.imageProcessor->fromFile;
  preprocessing["summary"] = model.imageProcessor->summary();
  return pixels;
}

// A vision model's input: --pixels as given ([C, H, W] or [1, C, H, W] float32, already
// preprocessed), or --image through the model's image processor. `preprocessing` says which.
PixelTensor inputPixels(const Model& model, const std::optional<std::string>& image,
                        const std::optional<std::string>& pixels, json& preprocessing) {
  if (image && pixels) throw UsageError("give --image or --pixels, not both");
  if (!image && !pixels)
    throw UsageError(model.name + " is a vision model: give it --image FILE or --pixels FILE.npy");
  if (image) return preprocessImage(model, *image, preprocessing);
  const NpyArray a = parseNpyArray(readFile(*pixels), *pixels, 1L << 28);
  std::vector<long> shape = a.shape;
  if (shape.size() == 4 && shape[0] == 1) shape.erase(shape.begin());
  if (a.isText || shape.size() != 3)
    throw Error(*pixels + ": pixels must be a float array [C, H, W] or [1, C, H, W] (got " +
                (a.isText ? std::string("text") : std::to_string(a.shape.size()) + " axes") + ")");
  PixelTensor t;
  t.channels = int(shape[0]);
  t.height = int(shape[1]);
  t.width = int(shape[2]);
  t.values = a.values;
  preprocessing = {{"source", "pixels"}, {"file", *pixels}};
  return t;
}

// The five most probable labels: softmax of the logits, most probable first.
json topLabels(const Model& model, const Matrix& logits) {
  json top = json::array();
  if (logits.size() == 0) return top;
  const Vector logProbs = logSoftmax(logits.row(0));
  std::vector<int> order(std::size_t(logProbs.size()));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = int(i);
  const std::size_t k = std::min<std::size_t>(5, order.size());
  std::partial_sort(order.begin(), order.begin() + long(k), order.end(),
                    [&](int a, int b) { return logProbs(a) > logProbs(b); });
  for (std::size_t i = 0; i < k; ++i)
    top.push_back({{"id", order[i]}, {"label", model.shape.labels.at(std::size_t(order[i]))},
                   {"p", std::exp(double(logProbs(order[i])))}});
  return top;
}

}  // namespace

bool hasFlag(const std::vector<std::string>& args, const std::string& flag) {
  for (size_t i = 1; i < args.size(); ++i)
    if (args[i] == flag) return true;
  return false;
}

int cmdModels(const std::vector<std::string>& args) {
  std::optional<std::string> scoresOf, text;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kModelsHelp;
      return 0;
    }
    if (args[i] == "--scores") scoresOf = takeValue(args, i);
    else if (args[i] == "--text") text = takeValue(args, i);
    else throw UsageError("unknown option " + args[i]);
  }
  if (!scoresOf) {
    if (text) throw UsageError("--text goes with --scores");
    for (const BuiltinModel& b : listBuiltinModels(modelsDirectory())) std::cout << b.name << "\t" << b.shape << "\t" << b.description << "\n";
    for (const hub::CachedModel& m : hub::listCachedModels(hub::cacheDirectory()))
      std::cout << m.repoId << "\t" << describeCachedModel(m) << "\n";
    return 0;
  }
  const Model model = loadModel(*scoresOf, modelsDirectory());
  if (model.shape.input != InputKind::Text)
    throw UsageError(model.name + " is a vision model: head scores are measured on text");
  if (!text) text = loadSample(kDefaultSample).tokens.text;
  const ForwardRecord onText = forward(model, model.tokenizer.encodeForModel(*text).ids);
  const ForwardRecord onRepeat = forward(model, repeatedRandomTokens(model, 50, 1));
  std::cout << "layer\thead\tprevious_token\tfirst_token\tduplicate_token\tinduction\tentropy\tprefix_matching\n";
  for (int l = 0; l < model.shape.layers; ++l)
    for (int h = 0; h < model.shape.heads; ++h) {
      const HeadScores s = scoreHead(onText.layers[l].pattern.head[h].weights, onText.ids);
      const HeadScores r = scoreHead(onRepeat.layers[l].pattern.head[h].weights, onRepeat.ids);
      std::cout << l << "\t" << h;
      for (int k = 0; k < kHeadScoreKinds; ++k) std::cout << "\t" << std::fixed << std::setprecision(3) << headScore(s, k);
      std::cout << "\t" << r.induction << "\n";
    }
  return 0;
}

int cmdTokenize(const std::vector<std::string>& args) {
  std::optional<std::string> modelArg, text, pair, jsonl;
  bool noBos = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kTokenizeHelp;
      return 0;
    }
    if (args[i] == "--model") modelArg = takeValue(args, i);
    else if (args[i] == "--text") text = takeValue(args, i);
    else if (args[i] == "--text-pair") pair = takeValue(args, i);
    else if (args[i] == "--jsonl") jsonl = takeValue(args, i);
    else if (args[i] == "--no-bos") noBos = true;
    else throw UsageError("unknown option " + args[i]);
  }
  if (!modelArg) throw UsageError("tokenize needs --model NAME|PATH");
  if (bool(text) == bool(jsonl)) throw UsageError("tokenize needs --text TEXT or --jsonl FILE");
  if (pair && !text) throw UsageError("--text-pair goes with --text");
  if (pair && noBos) throw UsageError("--text-pair is what the model receives for two texts: drop --no-bos");
  const TextTokenizer tok = loadTokenizer(*modelArg, modelsDirectory());
  const auto ids = [&](const std::string& t) {
    if (!noBos) return tok.encodeForModel(t);
    TextEncoding alone;
    alone.ids = tok.encode(t);
    alone.typeIds.assign(alone.ids.size(), 0);
    return alone;
  };
  if (text) {
    writeJsonLine(pair ? tok.encodeForModel(*text, *pair) : ids(*text), tok, bool(pair));
    return 0;
  }
  const std::string lines = readFile(*jsonl);
  std::stringstream in(lines);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    const json j = json::parse(line, nullptr, false);
    const bool isPair = j.is_array() && j.size() == 2 && j[0].is_string() && j[1].is_string();
    if (j.is_discarded() || !(j.is_string() || isPair))
      throw Error(*jsonl + ": line " + std::to_string(number) + " is neither a JSON string nor a pair [\"A\", \"B\"]");
    if (isPair && noBos)
      throw UsageError(*jsonl + ": line " + std::to_string(number) + " is a pair, which is what the model receives: drop --no-bos");
    if (isPair) writeJsonLine(tok.encodeForModel(j[0].get<std::string>(), j[1].get<std::string>()), tok, true);
    else writeJsonLine(ids(j.get<std::string>()), tok);
  }
  return 0;
}

const char* modelComputeHelp() { return kModelComputeHelp; }

int cmdComputeModel(const std::vector<std::string>& args) {
  std::optional<std::string> modelArg, text, pair, ids, typeIds, image, pixels, out, layerArg;
  ForwardOptions options;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--model") modelArg = takeValue(args, i);
    else if (a == "--text") text = takeValue(args, i);
    else if (a == "--text-pair") pair = takeValue(args, i);
    else if (a == "--ids") ids = takeValue(args, i);
    else if (a == "--type-ids") typeIds = takeValue(args, i);
    else if (a == "--image") image = takeValue(args, i);
    else if (a == "--pixels") pixels = takeValue(args, i);
    else if (a == "--out") out = takeValue(args, i);
    else if (a == "--layer") layerArg = takeValue(args, i);
    else if (a == "--temperature") options.temperature = float(parseDouble(a, takeValue(args, i)));
    else if (a == "--scale") options.scale = float(parseDouble(a, takeValue(args, i)));
    else if (a == "--mask") {
      const std::string m = takeValue(args, i);
      if (m == "causal") options.mask = MaskKind::Causal;
      else if (m == "none") options.mask = MaskKind::None;
      else throw UsageError("--mask with a model expects causal or none (got " + m + ")");
    } else if (a == "--ablate") {
      const std::string v = takeValue(args, i);
      const size_t dot = v.find('.');
      if (dot == std::string::npos) throw UsageError("--ablate expects LAYER.HEAD, e.g. 1.3 (got " + v + ")");
      options.ablatedHeads.emplace_back(int(parseLong(a, v.substr(0, dot), 0, 1 << 20)),
                                        int(parseLong(a, v.substr(dot + 1), 0, 1 << 20)));
    } else {
      throw UsageError("unknown option " + a + " with --model");
    }
  }
  if (!out) throw UsageError("compute needs --out DIR");
  const Model model = loadModel(*modelArg, modelsDirectory());
  const ModelShape& c = model.shape;
  const bool vision = c.input == InputKind::Image;
  if (vision && (text || ids)) throw UsageError(model.name + " is a vision model: give it --image FILE or --pixels FILE.npy");
  if (!vision && (image || pixels)) throw UsageError(model.name + " is a text model: give it --text TEXT or --ids 1,2,3");
  std::vector<int> layers;
  if (!layerArg || *layerArg == "all") {
    for (int l = 0; l < c.layers; ++l) layers.push_back(l);
  } else {
    layers.push_back(int(parseLong("--layer", *layerArg, 0, c.layers - 1)));
  }
  json preprocessing;
  std::optional<PixelTensor> input;
  ForwardRecord rec;
  if (vision) {
    input = inputPixels(model, image, pixels, preprocessing);
    rec = forward(model, *input, options);
  } else {
    const TextEncoding input = inputIds(model, text, pair, ids, typeIds);
    rec = forward(model, input.ids, input.typeIds, options);
  }

  // Everything is computed before the first file is written.
  std::vector<AttentionTrace> traces;
  for (int l : layers) traces.push_back(layerTrace(rec.layers[l], attentionOutputWeight(model, l)));
  const Matrix rollout = vision ? attentionRollout(rec, 0, c.layers - 1) : Matrix();
  // Decoders: each layer's guess for the next token (the logit lens).
  std::optional<LogitLens> lens;
  if (!vision && c.causal) lens = logitLens(*model.architecture, rec);

  std::error_code ec;
  fs::create_directories(*out, ec);
  if (ec) throw Error("cannot create " + *out + ": " + ec.message());
  const fs::path dir(*out);
  const long n = rec.tokens(), d = c.dModel;
  json tokens = json::array();
  if (vision) {
    const PatchGrid& g = *rec.grid;
    for (int i = 0; i < n; ++i) tokens.push_back(g.tokenName(i));
    writeFileAtomic((dir / "tokens.json").string(),
                    json{{"tokens", tokens}, {"grid", {g.rows, g.cols}}, {"patch", g.patch}, {"prefix", g.prefix.size()}}
                            .dump(2) + "\n");
    writeNpy((dir / "pixels.npy").string(), input->values.data(), {input->channels, input->height, input->width});
    writeNpy((dir / "rollout.npy").string(), rollout.data(), {n, n});
    if (rec.logits.size()) writeNpy((dir / "logits.npy").string(), rec.logits.data(), {rec.logits.cols()});
  } else {
    for (int id : rec.ids) tokens.push_back(model.tokenizer.displayText(id));
    json tokenFile = {{"ids", rec.ids}, {"tokens", tokens}};
    // Encoders: the type ids (DistilBERT's are its tokenizer's, which the model ignores).
    const bool pair = std::any_of(rec.typeIds.begin(), rec.typeIds.end(), [](int t) { return t != 0; });
    if (c.typeVocabSize > 0 || pair) tokenFile["type_ids"] = rec.typeIds;
    writeFileAtomic((dir / "tokens.json").string(), tokenFile.dump(2) + "\n");
    // An encoder without a masked-LM head has no logits.
    if (rec.logits.size()) writeNpy((dir / "logits.npy").string(), rec.logits.data(), {rec.logits.rows(), rec.logits.cols()});
  }
  if (lens) {
    json entries = json::array();
    for (int e = 0; e < lens->entries; ++e) {
      json positions = json::array();
      for (int i = 0; i < lens->positions; ++i) {
        const LensGuess& g = lens->at(e, i);
        json names = json::array();
        for (int id : g.ids) names.push_back(model.tokenizer.displayText(id));
        positions.push_back({{"ids", g.ids}, {"tokens", names}, {"p", g.probabilities}});
      }
      entries.push_back(positions);
    }
    writeFileAtomic((dir / "logit_lens.json").string(),
                    json{{"entries", lens->entries}, {"positions", lens->positions},
                         {"what", "entry l: the residual stream after block l through the final norm and the unembedding "
                                  "(entry 0: the embeddings; the last entry: the model's own prediction)"},
                         {"top", entries}}
                            .dump() + "\n");
    writeNpy((dir / "logit_lens_next.npy").string(), lens->nextTokenProbability.data(),
             {lens->nextTokenProbability.rows(), lens->nextTokenProbability.cols()});
  }
  std::vector<float> hidden;
  for (const Matrix& r : rec.resid) hidden.insert(hidden.end(), r.data(), r.data() + r.size());
  writeNpy((dir / "hidden.npy").string(), hidden.data(), {long(rec.resid.size()), n, d});
  // Each layer's folder is the one numbers layout of `compute` (README "File formats").
  for (size_t k = 0; k < layers.size(); ++k) {
    NumbersSource source;
    source.name = model.name + " layer " + std::to_string(layers[k]);
    source.mode = InputMode::Tokens;
    source.backend = "cpu";
    const LayerRecord& L = rec.layers[layers[k]];
    AttentionInputs inputs = L.qkv;
    inputs.wO = attentionOutputWeight(model, layers[k]);
    const fs::path layerDir = dir / ("layer" + std::to_string(layers[k]));
    writeNumbers(layerDir.string(), traces[k], inputs, source, NumbersFormat::Npy);
    if (rec.rotary()) {
      writeHeads((layerDir / "q_unrotated.npy").string(), L.qUnrotated, c.heads);
      writeHeads((layerDir / "k_unrotated.npy").string(), L.kUnrotated, c.heads);
    }
  }
  json j;
  j["attnviz_version"] = ATTNVIZ_VERSION;
  j["model"] = {{"name", model.name}, {"path", model.path}, {"weights_dtype", model.weightsDtype},
                {"parameters", model.parameterCount()}, {"config", configJson(model)}};
  json kvHeadOf = json::array();
  for (int h = 0; h < rec.heads; ++h) kvHeadOf.push_back(rec.kvHeadOf(h));
  j["attention"] = {{"norm", toString(rec.norm)},
                    {"heads", rec.heads},
                    {"kv_heads", rec.kvHeads},
                    {"kv_head_of", kvHeadOf},
                    {"rope_inverse_frequencies",
                     std::vector<float>(rec.ropeFrequencies.data(), rec.ropeFrequencies.data() + rec.ropeFrequencies.size())}};
  json ablated = json::array();
  for (const auto& [l, h] : options.ablatedHeads) ablated.push_back({l, h});
  j["options"] = {{"temperature", shortestDecimal(options.temperature)},
                  {"scale", options.scale ? json(shortestDecimal(*options.scale)) : json(nullptr)},
                  {"effective_scale", shortestDecimal(rec.layers[0].pattern.head[0].scale)},
                  {"mask", toString(rec.layers[0].attention.mask == MaskKind::Custom ? MaskKind::Causal
                                                                                    : rec.layers[0].attention.mask)},
                  {"ablated_heads", ablated}};
  j["n"] = n;
  j["layers_written"] = layers;
  if (vision) {
    j["top_labels"] = topLabels(model, rec.logits);
    j["preprocessing"] = preprocessing;
    j["rollout"] = {{"heads", "mean"}, {"layers", {0, c.layers - 1}}};
  } else {
    j["head_scores"] = headScoresJson(rec);
    if (c.causal) {
      if (const auto loss = meanLoss(rec)) j["mean_next_token_loss"] = *loss;
    } else {
      j["fill_mask"] = fillMask(model, rec);
    }
  }
  j["forward_ms"] = rec.milliseconds;
  writeFileAtomic((dir / "model.json").string(), j.dump(2) + "\n");
  std::cerr << "attnviz: " << c.layers << " layers × " << c.heads << " heads on " << n << (vision ? " image tokens" : " tokens")
            << "; wrote " << layers.size() << " layer(s) to " << printable(*out) << "\n";
  return 0;
}

}  // namespace attnviz::cli
