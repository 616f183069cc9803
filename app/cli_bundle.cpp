// `attnviz compute --bundle FILE --out DIR`: every layer of an attention bundle in the numbers
// layout of `compute --model` (tokens.json, layerL/), with bundle.json saying what the bundle
// held and, when it has q and k, how far the engine's weights are from the given ones.
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bundle_session.hpp"
#include "cli_common.hpp"
#include "head_scores.hpp"
#include "matrix_io.hpp"
#include "numbers.hpp"

namespace attnviz::cli {

namespace fs = std::filesystem;
using nlohmann::json;

const char* bundleComputeHelp() {
  return "\n"
         "With an attention bundle (README \"Attention bundles\"; tools/attnviz_bundle.py writes them):\n"
         "  attnviz compute --bundle FILE.npz|FILE.safetensors [--layer L|all] [--allow-unnormalised]\n"
         "                  [--score S] [--scale X] [--temperature T] [--mask M] --out DIR\n"
         "writes tokens.json, bundle.json (shape, labels, metadata, head scores, and with q and k the\n"
         "largest difference between the recomputed and the given weights) and per layer layerL/ in\n"
         "the numbers layout above. With q and k every stage is recomputed by the engine (a\n"
         "difference above 1e-4 is a warning naming where); weights alone give weights, their row\n"
         "statistics and, with v, the output.\n";
}

int cmdComputeBundle(const std::vector<std::string>& args) {
  InputArgs input;
  std::optional<std::string> out, layerArg;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << bundleComputeHelp();
      return 0;
    }
    if (a == "--layer") {
      if (layerArg) throw UsageError("--layer given twice");
      layerArg = takeValue(args, i);
    } else if (a == "--out") {
      out = takeValue(args, i);
    } else if (!input.consume(args, i)) {
      throw UsageError("unknown option " + a + " with --bundle");
    }
  }
  if (!out) throw UsageError("compute needs --out DIR");
  const Session base = input.build();
  const auto bundle = sharedBundle(base.bundle);
  const AttentionBundle& b = *bundle;
  std::vector<int> layers;
  if (!layerArg || *layerArg == "all") {
    for (int l = 0; l < b.layers; ++l) layers.push_back(l);
  } else {
    layers.push_back(int(parseLong("--layer", *layerArg, 0, b.layers - 1)));
  }

  // Everything is computed before the first file is written.
  std::vector<AttentionTrace> traces;
  std::vector<PreparedSession> prepared;
  WeightsDifference worst;
  json perLayer = json::array();
  for (int l : layers) {
    Session s = base;
    s.view.layer = l;
    prepared.push_back(prepare(s));
    traces.push_back(computeSessionTrace(prepared.back(), s.options));
    finishTrace(traces.back(), prepared.back().inputs);
    if (b.hasQK) {
      const WeightsDifference d = compareWithGiven(traces.back(), b, l);
      perLayer.push_back(d.maxAbs);
      if (d.maxAbs >= worst.maxAbs) worst = d;
    }
  }

  std::error_code ec;
  fs::create_directories(*out, ec);
  if (ec) throw Error("cannot create " + *out + ": " + ec.message());
  const fs::path dir(*out);
  TokenModel labels;
  labels.queryTokens = b.queryTokens;
  labels.keyTokens = b.keyTokens;
  labels.cross = b.cross;
  json tokens = {{"queries", b.queryTokens}, {"keys", b.keyTokens}, {"cross", b.cross}, {"labelled", b.hasLabels}};
  if (!b.cross) tokens["tokens"] = b.queryTokens;
  writeFileAtomic((dir / "tokens.json").string(), tokens.dump(2) + "\n");
  const std::string fileName = fs::path(b.path).filename().string();
  for (size_t k = 0; k < layers.size(); ++k) {
    NumbersSource source;
    source.name = fileName + " layer " + std::to_string(layers[k]);
    source.mode = InputMode::Tokens;
    source.backend = b.hasQK ? "cpu" : "given";
    source.tokens = &labels;
    writeNumbers((dir / ("layer" + std::to_string(layers[k]))).string(), traces[k], prepared[k].inputs, source,
                 NumbersFormat::Npy);
  }

  json j;
  j["attnviz_version"] = ATTNVIZ_VERSION;
  j["bundle"] = {{"path", b.path},       {"format_version", b.formatVersion}, {"layers", b.layers},
                 {"heads", b.heads},     {"n", b.n},                          {"m", b.m},
                 {"has_qk", b.hasQK},    {"has_v", b.hasV},                   {"d_head", b.dHead},
                 {"d_v", b.dValue},      {"has_mask", b.mask.size() > 0},     {"metadata", b.metadata}};
  j["options"] = {{"score", toString(base.options.score)},
                  {"scale", base.options.scaleOverride ? json(*base.options.scaleOverride) : json(nullptr)},
                  {"temperature", base.options.temperature},
                  {"mask", toString(base.options.mask)},
                  {"mask_inferred_causal", b.mask.size() == 0 && b.causalWeights}};
  j["layers_written"] = layers;
  j["recomputed"] = b.hasQK;
  if (!b.rowsNotNormalised.empty()) j["not_normalised"] = b.rowsNotNormalised;
  if (b.hasQK) {
    j["comparison"] = {{"max_abs_difference", worst.maxAbs},
                       {"where", {{"layer", worst.layer}, {"head", worst.head}, {"row", worst.row}, {"column", worst.column}}},
                       {"per_layer", perLayer},
                       {"tolerance", kBundleMismatchTolerance},
                       {"within_tolerance", worst.maxAbs <= kBundleMismatchTolerance}};
  }
  // Head scores compare each head's weights with 0/1 patterns over the token sequence, so they
  // need self-attention.
  if (!b.cross && b.n == b.m) {
    const std::vector<int> ids = labelIds(b.queryTokens);
    json scores = json::array();
    for (int l = 0; l < b.layers; ++l) {
      json heads = json::array();
      for (int h = 0; h < b.heads; ++h) {
        const model::HeadScores s = model::scoreHead(b.weights(l, h), ids);
        json one;
        for (int kind = 0; kind < model::kHeadScoreKinds; ++kind) one[model::headScoreName(kind)] = model::headScore(s, kind);
        heads.push_back(one);
      }
      scores.push_back(heads);
    }
    j["head_scores"] = scores;
  }
  writeFileAtomic((dir / "bundle.json").string(), j.dump(2) + "\n");

  if (b.hasQK && worst.maxAbs > kBundleMismatchTolerance)
    std::cerr << "attnviz: warning: " << printable(b.path) << ": " << describeDifference(worst)
              << ", above 1e-4: the model may scale or mask differently (see --scale, --mask)\n";
  std::cerr << "attnviz: " << b.layers << " layer(s) × " << b.heads << " head(s), " << b.n << "×" << b.m
            << (b.hasQK ? ", recomputed from q and k (" + describeDifference(worst) + ")" : ", weights as given")
            << "; wrote " << layers.size() << " layer(s) to " << printable(*out) << "\n";
  return 0;
}

}  // namespace attnviz::cli
