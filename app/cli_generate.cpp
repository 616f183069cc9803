// `attnviz generate`: a decoder's continuation of a text (engine/model/generation.hpp), with the
// key/value cache or (--no-cache) a full forward pass per token, and the same sampling on every
// machine.
#include <climits>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "cli_token.hpp"
#include "generation.hpp"
#include "model.hpp"

namespace attnviz::cli {
namespace {

using nlohmann::json;
using namespace attnviz::model;

constexpr const char* kGenerateHelp =
    "usage: attnviz generate --model NAME|PATH (--text TEXT | --ids 1,2,3) --max-new N\n"
    "                        [--temperature T] [--top-k K] [--top-p P] [--seed S | --greedy]\n"
    "                        [--json] [--no-cache]\n"
    "\n"
    "Continues a text with a decoder (gpt2, llama, mistral, qwen2) and prints the whole text: the\n"
    "prompt, then the new tokens. Stops after N new tokens or at the model's end-of-sequence token\n"
    "(config.json's eos_token_id, when it has one; its text is not printed, stderr says where it\n"
    "stopped); the prompt and the N new tokens must fit in the model's context. Each new token runs through the model's key/value cache: one new row of\n"
    "attention per layer, the same logits as a full pass over the text within float rounding.\n"
    "  --text TEXT      tokenised with the special tokens the model's files ask for (e.g. BOS)\n"
    "  --ids 1,2,3      token ids as they are\n"
    "  --max-new N      at most N new tokens\n"
    "  --temperature T  logits / T before the softmax (default 1); 0 is --greedy\n"
    "  --top-k K        keep the K most probable tokens (default 0: all); ties at the boundary\n"
    "                   keep the smaller ids\n"
    "  --top-p P        then the fewest most probable whose probabilities (renormalised after\n"
    "                   top-k) add up to at least P, in (0, 1] (default 1: all)\n"
    "  --seed S         the draws' seed (default 0): splitmix64, one draw per token, the same\n"
    "                   text on every machine for the same model, options and seed\n"
    "  --greedy         the most likely token each time (ties: the smaller id); no draws\n"
    "  --json           one JSON document instead of the text: the prompt's ids and text, each new\n"
    "                   token (id, text, its probability after temperature and after the cut-offs,\n"
    "                   the counts top-k and top-p kept, the 10 largest logits with their\n"
    "                   probabilities before and after temperature and after the cut-offs), why\n"
    "                   it stopped (\"eos\" or \"max_new\"), the whole text and the timings\n"
    "  --no-cache       a full forward pass over the whole text for every new token (slower; for\n"
    "                   checks and timings)\n"
    "Tokens are ordered by logit, largest first, ties to the smaller id; the draw u in [0, 1) picks\n"
    "the first kept token whose cumulative renormalised probability exceeds u.\n";

// The text ids stand for (added tokens as their content); ids the tokenizer does not have (a
// model's vocabulary may be padded beyond it) stand for nothing.
std::string decoded(const Model& model, const std::vector<int>& ids) {
  const BpeTokenizer* bpe = model.tokenizer.bpe();
  if (!bpe) return "";
  std::vector<int> known;
  for (int id : ids)
    if (bpe->hasToken(id)) known.push_back(id);
  return bpe->decode(known);
}

}  // namespace

int cmdGenerate(const std::vector<std::string>& args) {
  std::optional<std::string> modelArg, text, ids, maxNewArg, temperatureArg, topKArg, topPArg, seedArg;
  bool greedy = false, asJson = false, noCache = false;
  if (!readFlags(args,
                 {{"--model", &modelArg}, {"--text", &text}, {"--ids", &ids}, {"--max-new", &maxNewArg},
                  {"--temperature", &temperatureArg}, {"--top-k", &topKArg}, {"--top-p", &topPArg}, {"--seed", &seedArg}},
                 {{"--greedy", &greedy}, {"--json", &asJson}, {"--no-cache", &noCache}}, kGenerateHelp))
    return 0;
  if (!modelArg) throw UsageError("generate needs --model NAME|PATH");
  if (!maxNewArg) throw UsageError("generate needs --max-new N");
  GenerationOptions options;
  options.maxNew = int(parseLong("--max-new", *maxNewArg, 1, INT_MAX));
  SamplingOptions& s = options.sampling;
  if (temperatureArg) {
    s.temperature = parseDouble("--temperature", *temperatureArg);
    if (!(s.temperature >= 0) || !std::isfinite(s.temperature))
      throw UsageError("--temperature must be a finite number >= 0 (0: --greedy), not " + *temperatureArg);
    if (s.temperature == 0) s.greedy = true;
  }
  if (topKArg) s.topK = int(parseLong("--top-k", *topKArg, 0, INT_MAX));
  if (topPArg) {
    s.topP = parseDouble("--top-p", *topPArg);
    if (!(s.topP > 0 && s.topP <= 1)) throw UsageError("--top-p must be in (0, 1], not " + *topPArg);
  }
  if (seedArg) s.seed = std::uint64_t(parseLong("--seed", *seedArg, 0, LONG_MAX));
  if (greedy) {
    if (seedArg || temperatureArg || topKArg || topPArg)
      throw UsageError("--greedy takes no --seed, --temperature, --top-k or --top-p");
    s.greedy = true;
  }
  options.cache = !noCache;

  const Model model = loadModel(*modelArg, modelsDirectory());
  const ModelShape& shape = model.shape;
  if (shape.input != InputKind::Text || !shape.causal) throw Error(shape.modelType + " cannot generate (decoders only)");
  const std::vector<int> prompt = textOrIds(model, "generate", text, ids);
  if (long(prompt.size()) + options.maxNew > long(shape.positions))
    throw UsageError("the prompt's " + std::to_string(prompt.size()) + " tokens and --max-new " +
                     std::to_string(options.maxNew) + " are beyond the model's context of " +
                     std::to_string(shape.positions) + " tokens (" + shape.positionsKey + ")");
  options.eosIds = eosTokenIds(model.path);

  const Generation g = generate(*model.architecture, prompt, options);
  std::vector<int> added, all = prompt;  // `all`: without the end-of-sequence token's text
  for (const SampledToken& t : g.tokens) added.push_back(t.id);
  all.insert(all.end(), added.begin(), added.end() - (g.stoppedAtEos ? 1 : 0));
  const std::string promptText = decoded(model, prompt), whole = decoded(model, all);
  // The new text: the whole text after the prompt's (a SentencePiece decode of the new ids alone
  // could drop a leading space).
  const std::string newText = whole.compare(0, promptText.size(), promptText) == 0
                                  ? whole.substr(promptText.size())
                                  : decoded(model, std::vector<int>(all.begin() + long(prompt.size()), all.end()));
  const int steps = int(g.tokens.size());
  const double perToken = steps > 1 ? g.stepsMs / (steps - 1) : 0;
  const std::string stop = g.stoppedAtEos ? "eos" : "max_new";
  if (asJson) {
    json tokens = json::array();
    for (const SampledToken& t : g.tokens) {
      json top = json::array();
      for (const Candidate& c : t.top)
        top.push_back({{"id", c.id}, {"token", model.tokenizer.displayText(c.id)}, {"logit", c.logit},
                       {"probability", c.probability}, {"probability_tempered", c.tempered},
                       {"probability_kept", c.kept}});
      tokens.push_back({{"id", t.id},
                        {"text", decoded(model, {t.id})},
                        {"token", model.tokenizer.displayText(t.id)},
                        {"probability", t.probability},
                        {"probability_kept", t.kept},
                        {"kept_after_top_k", t.afterTopK},
                        {"kept_after_top_p", t.afterTopP},
                        {"top", top}});
    }
    const json doc = {
        {"attnviz_version", ATTNVIZ_VERSION},
        {"model", model.name},
        {"prompt_ids", prompt},
        {"prompt_text", promptText},
        {"sampling", {{"greedy", s.greedy}, {"temperature", s.greedy ? json(nullptr) : json(s.temperature)},
                      {"top_k", s.topK}, {"top_p", s.topP}, {"seed", s.greedy ? json(nullptr) : json(s.seed)}}},
        {"cache", options.cache},
        {"max_new", options.maxNew},
        {"eos_token_ids", options.eosIds},
        {"stopped", stop},
        {"tokens", tokens},
        {"new_ids", added},
        {"new_text", newText},
        {"text", whole},
        {"prompt_ms", g.promptMs},
        {"ms_per_token", perToken},
        {"probability_fields",
         "probability: after temperature, before top-k/top-p (greedy: softmax of the logits); probability_kept: "
         "after the cut-offs, renormalised (0: cut; greedy: 1 for the choice); top[].probability: before temperature"},
    };
    std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    std::cout << whole << "\n";
  }
  char timing[160];
  std::snprintf(timing, sizeof timing, "%d new token(s), %.2f ms per token after the prompt's %.2f ms (%s)", steps,
                perToken, g.promptMs, options.cache ? "key/value cache" : "a full pass per token");
  std::cerr << "attnviz: " << timing << "; stopped at "
            << (g.stoppedAtEos ? "the end-of-sequence token #" + std::to_string(g.tokens.back().id)
                               : "--max-new " + std::to_string(options.maxNew))
            << "\n";
  return 0;
}

}  // namespace attnviz::cli
