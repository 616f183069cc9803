#pragma once
// Generation with a decoder (`attnviz generate`): the loop, with the model's key/value cache
// (Architecture::forwardCached: each new token one new row of attention) or a full forward pass
// per token, and sampling, the same on every machine:
//  1. temperature T: probabilities softmax(logits / T) in double (max subtracted first);
//     greedy (or T → 0) takes the largest logit instead, ties to the smaller id;
//  2. the tokens in order of logit, largest first, ties to the smaller id (the order of the
//     probabilities, with every tie broken the same way);
//  3. top-k: the first k of that order (a tie at the boundary keeps the smaller ids);
//  4. top-p (nucleus): of those, renormalised, the shortest prefix whose probabilities add up to
//     at least p (all of them if rounding keeps the sum below p);
//  5. the kept probabilities renormalised, and a draw u in [0, 1) from splitmix64 seeded with
//     the seed (53 bits of one output; one draw per token): the first kept token, in that
//     order, whose cumulative probability exceeds u.
// No GL, no ImGui.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "family.hpp"

namespace attnviz::model {

struct SamplingOptions {
  bool greedy = false;     // the largest logit (ties: the smaller id); T, k, p and the seed unused
  double temperature = 1;  // > 0
  int topK = 0;            // keep the k most probable; 0: all
  double topP = 1;         // (0, 1]; 1: no nucleus cut
  std::uint64_t seed = 0;
};

// splitmix64 (Steele, Lea, Flood 2014): the same numbers with every compiler and library.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  double uniform();  // [0, 1): the top 53 bits of next() · 2⁻⁵³
  // The seed whose stream is `seed`'s after `draws` draws (the state moves by a constant per
  // draw): generation continued later draws what one longer run would have drawn.
  static std::uint64_t advanced(std::uint64_t seed, std::uint64_t draws) { return seed + draws * kGamma; }
 private:
  static constexpr std::uint64_t kGamma = 0x9e3779b97f4a7c15ULL;
  std::uint64_t state_;
};

// One of the most likely next tokens.
struct Candidate {
  int id = 0;
  float logit = 0;
  double probability = 0;  // softmax(logits): before temperature
  double tempered = 0;     // softmax(logits / T): after temperature (greedy: = probability)
  double kept = 0;         // after top-k and top-p, renormalised; 0 when cut (greedy: 1 for the choice)
};

// What one step chose and why.
struct SampledToken {
  int id = 0;
  double probability = 0;  // its probability after temperature, before the cut-offs (greedy: softmax(logits))
  double kept = 0;         // after top-k and top-p, renormalised (greedy: 1)
  int afterTopK = 0;       // tokens left after top-k (the vocabulary when off; greedy: 1)
  int afterTopP = 0;       // tokens left after top-p too (greedy: 1)
  std::vector<Candidate> top;  // the 10 largest logits, in the order above
};

// Checks the options (throws Error: temperature a finite number > 0, top-k >= 0, top-p in (0, 1]).
void checkSamplingOptions(const SamplingOptions& options);
// One step on one logits row; `rng` is drawn from once unless greedy.
SampledToken sampleToken(const Eigen::Ref<const Eigen::RowVectorXf>& logits, const SamplingOptions& options,
                         SplitMix64& rng, int topCandidates = 10);

struct GenerationOptions {
  int maxNew = 1;
  SamplingOptions sampling;
  bool cache = true;        // false: a full forward pass over the whole text for every token
  std::vector<int> eosIds;  // generation stops after any of these (config.json's eos_token_id)
};

struct Generation {
  std::vector<int> prompt;
  std::vector<SampledToken> tokens;
  bool stoppedAtEos = false;
  double promptMs = 0;  // the first pass over the prompt
  double stepsMs = 0;   // every later pass (one per new token after the first)
};

// config.json's eos_token_id (a number or a list) in the model's folder; empty when it has none.
std::vector<int> eosTokenIds(const std::string& modelFolder);

// Generates up to options.maxNew tokens after `prompt`. Throws Error for an encoder or a vision
// model ("<model_type> cannot generate (decoders only)"), an empty prompt, bad options, or a
// prompt plus maxNew beyond the model's context.
Generation generate(const Architecture& model, const std::vector<int>& prompt, const GenerationOptions& options);

}  // namespace attnviz::model
