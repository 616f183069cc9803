// `attnviz attribute`: direct logit attribution (engine/model/attribution.hpp) of a decoder's
// logit at one position to every head, every MLP, the embeddings and the biases.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attribution.hpp"
#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "cli_token.hpp"
#include "matrix_io.hpp"
#include "model.hpp"
#include "session.hpp"

namespace attnviz::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace attnviz::model;

constexpr const char* kAttributeHelp =
    "usage: attnviz attribute --model NAME|PATH (--text TEXT | --ids 1,2,3) [--position I]\n"
    "                         [--target TOKEN] [--contrast TOKEN] --out DIR\n"
    "\n"
    "Direct logit attribution (decoders: gpt2, llama, mistral, qwen2): how much each head, each\n"
    "MLP, the embeddings and the biases write, directly, into the logit of TOKEN at position I,\n"
    "with the final norm frozen at its value on this input (its σ or rms at I), so that the\n"
    "shares add up to the logit. With --contrast, every number is logit(target) − logit(contrast).\n"
    "  --position I   a token of the text, from 0 (default: the last)\n"
    "  --target TOKEN the model's top prediction at I by default\n"
    "  TOKEN: #ID for a token id (#464), or a text the tokenizer turns into exactly one token\n"
    "         when encoded alone, without BOS: its spaces count (\" Paris\" with GPT-2's\n"
    "         leading space). Special tokens and texts that start with # and a digit: use #ID.\n"
    "writes\n"
    "  heads.npy [L, H] float64   each head's share: z_h · W_O[h] (its output, without b_O)\n"
    "  mlps.npy  [L]    float64   each MLP's share: its whole output, its output bias included\n"
    "  rest.json  embeddings (token + position), biases (every layer's attention output bias, the\n"
    "             final norm's β, any unembedding bias; each and their total), the frozen scale\n"
    "             (sigma or rms), the input's ids, the position, target and contrast (ids and\n"
    "             tokens as tokens.json shows them), the model's logit (difference), the sum of\n"
    "             every share\n"
    "and prints the logit, the five heads of largest |share| and the sum.\n";

std::string signedNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.4f", v);
  return buf;
}

}  // namespace

int cmdAttribute(const std::vector<std::string>& args) {
  std::optional<std::string> modelArg, text, ids, positionArg, targetArg, contrastArg, out;
  if (!readFlags(args,
                 {{"--model", &modelArg}, {"--text", &text}, {"--ids", &ids}, {"--position", &positionArg},
                  {"--target", &targetArg}, {"--contrast", &contrastArg}, {"--out", &out}},
                 {}, kAttributeHelp))
    return 0;
  if (!modelArg) throw UsageError("attribute needs --model NAME|PATH");
  if (!out) throw UsageError("attribute needs --out DIR");
  const Model model = loadModel(*modelArg, modelsDirectory());
  checkAttributable(*model.architecture);  // one line for an encoder or a vision model
  const std::vector<int> input = textOrIds(model, "attribute", text, ids);
  const int n = int(input.size());
  int position = n - 1;
  if (positionArg) {
    position = int(parseLong("--position", *positionArg, -(1L << 30), 1L << 30));
    if (position < 0 || position >= n)
      throw UsageError("--position " + std::to_string(position) + " is outside the text's " + std::to_string(n) +
                       " tokens (0 to " + std::to_string(n - 1) + ")");
  }
  const std::optional<int> target = targetArg ? std::optional<int>(tokenOf(model, "--target", *targetArg)) : std::nullopt;
  const std::optional<int> contrast =
      contrastArg ? std::optional<int>(tokenOf(model, "--contrast", *contrastArg)) : std::nullopt;

  ForwardOptions options;
  options.allLogits = false;  // the readout of position I is recomputed from the residual stream
  const ForwardRecord rec = forward(model, input, options);
  const int t = target ? *target : topPrediction(*model.architecture, rec, position);
  const LogitAttribution a = directLogitAttribution(*model.architecture, rec, position, t, contrast);

  std::error_code ec;
  fs::create_directories(*out, ec);
  if (ec) throw Error("cannot create " + *out + ": " + ec.message());
  const fs::path dir(*out);
  const int L = int(a.heads.rows()), H = int(a.heads.cols());
  std::vector<double> heads;  // row-major [L, H]
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < H; ++h) heads.push_back(a.heads(l, h));
  writeNpy((dir / "heads.npy").string(), heads.data(), {long(L), long(H)});
  writeNpy((dir / "mlps.npy").string(), a.mlps.data(), {long(L)});
  const auto tokenText = [&](int id) { return model.tokenizer.displayText(id); };
  json rest = {
      {"attnviz_version", ATTNVIZ_VERSION},
      {"model", model.name},
      {"ids", input},
      {"position", a.position},
      {"position_token", tokenText(input[std::size_t(position)])},
      {"target", a.target},
      {"target_token", tokenText(a.target)},
      {"contrast", a.contrast ? json(*a.contrast) : json(nullptr)},
      {"contrast_token", a.contrast ? json(tokenText(*a.contrast)) : json(nullptr)},
      {"quantity", a.contrast ? "logit(target) - logit(contrast)" : "logit(target)"},
      {"logit", a.logit()},
      {"logit_target", a.logitTarget},
      {"logit_contrast", a.contrast ? json(a.logitContrast) : json(nullptr)},
      {"norm", toString(a.norm)},
      {a.norm == NormKind::LayerNorm ? "sigma" : "rms", a.scale},
      {"embeddings", a.embeddings},
      {"biases", a.biases()},
      {"bias_terms", {{"attention_output", a.attentionBiases}, {"final_norm", a.normBias},
                      {"unembedding", a.unembeddingBias}}},
      {"heads_total", a.heads.sum()},
      {"mlps_total", a.mlps.sum()},
      {"sum", a.sum()},
      {"heads_file", "heads.npy [layers, heads] float64: z_h · W_O[h], without the attention output bias"},
      {"mlps_file", "mlps.npy [layers] float64: each MLP's output as the block adds it, its output bias included"},
  };
  writeFileAtomic((dir / "rest.json").string(), rest.dump(2) + "\n");

  std::cout << model.name << ": position " << position << " (\"" << printable(tokenText(input[std::size_t(position)]))
            << "\"), " << (a.contrast ? "logit difference " : "logit ") << "\"" << printable(tokenText(t)) << "\" #" << t;
  if (a.contrast) std::cout << " − \"" << printable(tokenText(*a.contrast)) << "\" #" << *a.contrast;
  std::cout << " = " << signedNumber(a.logit()) << "\n";
  std::vector<std::pair<int, int>> order;
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < H; ++h) order.emplace_back(l, h);
  const std::size_t top = std::min<std::size_t>(5, order.size());
  std::partial_sort(order.begin(), order.begin() + long(top), order.end(), [&](auto x, auto y) {
    return std::abs(a.heads(x.first, x.second)) > std::abs(a.heads(y.first, y.second));
  });
  std::cout << "top heads by |share|:";
  for (std::size_t k = 0; k < top; ++k)
    std::cout << "  L" << order[k].first << "H" << order[k].second << " " << signedNumber(a.heads(order[k].first, order[k].second));
  std::cout << "\nheads " << signedNumber(a.heads.sum()) << ", MLPs " << signedNumber(a.mlps.sum()) << ", embeddings "
            << signedNumber(a.embeddings) << ", biases " << signedNumber(a.biases()) << "; sum " << signedNumber(a.sum())
            << " (frozen " << (a.norm == NormKind::LayerNorm ? "σ " : "rms ") << a.scale << ")\n";
  std::cerr << "attnviz: wrote heads.npy, mlps.npy and rest.json to " << printable(*out) << "\n";
  return 0;
}

}  // namespace attnviz::cli
