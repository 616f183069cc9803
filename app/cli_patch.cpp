// `attnviz patch`: activation patching (engine/model/patching.hpp) of a decoder, a corrupted
// prompt's run with one head's output, or one row of the residual stream, from a clean one's.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "cli_token.hpp"
#include "matrix_io.hpp"
#include "model.hpp"
#include "patching.hpp"
#include "session.hpp"

namespace attnviz::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace attnviz::model;

constexpr const char* kPatchHelp =
    "usage: attnviz patch --model NAME|PATH --clean TEXT --corrupted TEXT\n"
    "                     --target TOKEN --contrast TOKEN --out DIR\n"
    "\n"
    "Activation patching (decoders: gpt2, llama, mistral, qwen2). Two prompts of the same token\n"
    "length; the metric is the logit difference LD = logit(target) − logit(contrast) at the last\n"
    "position. The corrupted prompt is run again with one activation taken from the clean run,\n"
    "and each patch is scored by the fraction of the LD it recovers:\n"
    "  (LD_patched − LD_corrupted) / (LD_clean − LD_corrupted)   0: no effect, 1: the clean LD\n"
    "  TOKEN: #ID for a token id (#464), or a text the tokenizer turns into exactly one token\n"
    "         when encoded alone, without BOS: its spaces count (\" Mary\" with GPT-2's leading\n"
    "         space). Special tokens and texts that start with # and a digit: use #ID.\n"
    "writes\n"
    "  heads.npy [L, H]    float64  each head's output (its slice of z, before W_O, at every\n"
    "                               position) patched alone\n"
    "  resid.npy [L+1, n]  float64  row i of the residual stream entering block l (resid_pre;\n"
    "                               l = L: the final stream, before the final norm) patched alone\n"
    "  patch.json  both prompts' ids and tokens, target and contrast, LD_clean, LD_corrupted, L,\n"
    "              H, n, and three sanity checks (see engine/model/patching.hpp)\n"
    "and prints both LDs and the five heads that recover the most.\n";

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.4f", v);
  return buf;
}

// Row-major values of a matrix, for writeNpy.
std::vector<double> rowMajor(const Eigen::MatrixXd& m) {
  std::vector<double> out;
  out.reserve(std::size_t(m.size()));
  for (Eigen::Index r = 0; r < m.rows(); ++r)
    for (Eigen::Index c = 0; c < m.cols(); ++c) out.push_back(m(r, c));
  return out;
}

}  // namespace

int cmdPatch(const std::vector<std::string>& args) {
  std::optional<std::string> modelArg, clean, corrupted, targetArg, contrastArg, out;
  if (!readFlags(args,
                 {{"--model", &modelArg}, {"--clean", &clean}, {"--corrupted", &corrupted}, {"--target", &targetArg},
                  {"--contrast", &contrastArg}, {"--out", &out}},
                 {}, kPatchHelp))
    return 0;
  for (const auto& [value, flag] : {std::pair{&modelArg, "--model NAME|PATH"}, {&clean, "--clean TEXT"},
                                    {&corrupted, "--corrupted TEXT"}, {&targetArg, "--target TOKEN"},
                                    {&contrastArg, "--contrast TOKEN"}, {&out, "--out DIR"}})
    if (!*value) throw UsageError(std::string("patch needs ") + flag);
  const Model model = loadModel(*modelArg, modelsDirectory());
  checkPatchable(*model.architecture);  // one line for an encoder or a vision model
  const std::vector<int> cleanIds = model.tokenizer.encodeForModel(*clean).ids;
  const std::vector<int> corruptedIds = model.tokenizer.encodeForModel(*corrupted).ids;
  if (cleanIds.size() != corruptedIds.size())
    throw UsageError("--clean is " + std::to_string(cleanIds.size()) + " tokens and --corrupted " +
                     std::to_string(corruptedIds.size()) + ": activation patching needs prompts of the same length");
  const int target = tokenOf(model, "--target", *targetArg);
  const int contrast = tokenOf(model, "--contrast", *contrastArg);

  const auto start = std::chrono::steady_clock::now();
  const PatchingResult r = activationPatching(*model.architecture, cleanIds, corruptedIds, target, contrast);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::error_code ec;
  fs::create_directories(*out, ec);
  if (ec) throw Error("cannot create " + *out + ": " + ec.message());
  const fs::path dir(*out);
  const long L = long(r.heads.rows()), H = long(r.heads.cols()), n = long(cleanIds.size());
  writeNpy((dir / "heads.npy").string(), rowMajor(r.heads).data(), {L, H});
  writeNpy((dir / "resid.npy").string(), rowMajor(r.resid).data(), {L + 1, n});
  const auto tokenText = [&](int id) { return model.tokenizer.displayText(id); };
  const auto tokens = [&](const std::vector<int>& ids) {
    std::vector<std::string> t;
    for (const int id : ids) t.push_back(tokenText(id));
    return t;
  };
  const json info = {
      {"attnviz_version", ATTNVIZ_VERSION},
      {"model", model.name},
      {"clean", {{"ids", cleanIds}, {"tokens", tokens(cleanIds)}}},
      {"corrupted", {{"ids", corruptedIds}, {"tokens", tokens(corruptedIds)}}},
      {"target", target},
      {"target_token", tokenText(target)},
      {"contrast", contrast},
      {"contrast_token", tokenText(contrast)},
      {"position", n - 1},
      {"metric", "logit(target) - logit(contrast) at the last position"},
      {"logits", "the model's own readout (float32, final norm and unembedding) of each forward pass, last position"},
      {"ld_clean", r.ldClean},
      {"ld_corrupted", r.ldCorrupted},
      {"layers", L},
      {"heads", H},
      {"n", n},
      {"heads_file", "heads.npy [layers, heads] float64: recovered fraction, the head's z (every position) patched"},
      {"resid_file", "resid.npy [layers + 1, n] float64: recovered fraction, row i of resid_pre of block l "
                     "(l = layers: the final stream before the final norm) patched"},
      {"checks", {{"self_patch_vs_corrupted", r.selfPatchVsCorrupted},
                  {"resid0_vs_clean", r.resid0VsClean},
                  {"heads_and_resid0_vs_clean", r.headsAndResid0VsClean}}},
      {"seconds", seconds},
  };
  writeFileAtomic((dir / "patch.json").string(), info.dump(2) + "\n");

  std::cout << model.name << ": " << n << " tokens, LD = \"" << printable(tokenText(target)) << "\" #" << target
            << " − \"" << printable(tokenText(contrast)) << "\" #" << contrast << ": clean " << number(r.ldClean)
            << ", corrupted " << number(r.ldCorrupted) << "\n";
  std::vector<std::pair<int, int>> order;
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < H; ++h) order.emplace_back(l, h);
  const std::size_t top = std::min<std::size_t>(5, order.size());
  std::partial_sort(order.begin(), order.begin() + long(top), order.end(),
                    [&](auto x, auto y) { return r.heads(x.first, x.second) > r.heads(y.first, y.second); });
  std::cout << "top heads by recovered fraction:";
  for (std::size_t k = 0; k < top; ++k)
    std::cout << "  L" << order[k].first << "H" << order[k].second << " "
              << number(r.heads(order[k].first, order[k].second));
  std::cout << "\n" << (L * H + (L + 1) * n + 5) << " forward passes in " << seconds << " s\n";
  std::cerr << "attnviz: wrote heads.npy, resid.npy and patch.json to " << printable(*out) << "\n";
  return 0;
}

}  // namespace attnviz::cli
