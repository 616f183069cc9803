#include "generation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

namespace attnviz::model {

std::uint64_t SplitMix64::next() {
  std::uint64_t z = (state_ += kGamma);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double SplitMix64::uniform() { return double(next() >> 11) * 0x1.0p-53; }

void checkSamplingOptions(const SamplingOptions& o) {
  if (o.greedy) return;
  if (!(o.temperature > 0) || !std::isfinite(o.temperature))
    throw Error("the temperature must be a finite number > 0 (or greedy)");
  if (o.topK < 0) throw Error("top-k must be 0 (off) or more");
  if (!(o.topP > 0 && o.topP <= 1)) throw Error("top-p must be in (0, 1]");
}

namespace {

// softmax(logits · factor) in double, the largest subtracted first.
std::vector<double> softmax(const Eigen::Ref<const Eigen::RowVectorXf>& logits, double factor) {
  const double max = logits.maxCoeff();
  std::vector<double> p(std::size_t(logits.size()));
  double sum = 0;
  for (Eigen::Index i = 0; i < logits.size(); ++i) sum += p[std::size_t(i)] = std::exp((double(logits(i)) - max) * factor);
  for (double& v : p) v /= sum;
  return p;
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

SampledToken sampleToken(const Eigen::Ref<const Eigen::RowVectorXf>& logits, const SamplingOptions& o, SplitMix64& rng,
                         int topCandidates) {
  checkSamplingOptions(o);
  const int V = int(logits.size());
  if (V == 0) throw Error("no logits to sample from");
  if (!allFinite(logits)) throw Error("the logits are not finite");
  // Largest logit first, ties to the smaller id.
  std::vector<int> order(static_cast<std::size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  const auto before = [&](int a, int b) { return logits(a) > logits(b) || (logits(a) == logits(b) && a < b); };
  const std::vector<double> raw = softmax(logits, 1.0);
  SampledToken s;
  std::vector<double> tempered, kept(std::size_t(V), 0.0);
  if (o.greedy) {
    const int shown = std::min(topCandidates, V);
    std::partial_sort(order.begin(), order.begin() + shown, order.end(), before);
    tempered = raw;
    s.id = order[0];
    s.afterTopK = s.afterTopP = 1;
    kept[std::size_t(s.id)] = 1;
  } else {
    std::sort(order.begin(), order.end(), before);
    tempered = softmax(logits, 1.0 / o.temperature);
    s.afterTopK = o.topK > 0 ? std::min(o.topK, V) : V;
    double sumK = 0;
    for (int r = 0; r < s.afterTopK; ++r) sumK += tempered[std::size_t(order[std::size_t(r)])];
    s.afterTopP = s.afterTopK;
    if (o.topP < 1) {
      double cumulative = 0;
      for (int r = 0; r < s.afterTopK; ++r) {
        cumulative += tempered[std::size_t(order[std::size_t(r)])] / sumK;
        if (cumulative >= o.topP) {
          s.afterTopP = r + 1;
          break;
        }
      }
    }
    double sum = 0;
    for (int r = 0; r < s.afterTopP; ++r) sum += tempered[std::size_t(order[std::size_t(r)])];
    for (int r = 0; r < s.afterTopP; ++r) {
      const std::size_t t = std::size_t(order[std::size_t(r)]);
      kept[t] = tempered[t] / sum;
    }
    // Inverse CDF over the kept tokens in order; rounding past the last one picks the last one
    // with a probability above zero.
    const double u = rng.uniform();
    double cumulative = 0;
    s.id = order[0];
    for (int r = 0; r < s.afterTopP; ++r) {
      const int t = order[std::size_t(r)];
      if (kept[std::size_t(t)] <= 0) continue;
      s.id = t;
      cumulative += kept[std::size_t(t)];
      if (u < cumulative) break;
    }
  }
  s.probability = tempered[std::size_t(s.id)];
  s.kept = kept[std::size_t(s.id)];
  for (int r = 0; r < std::min(topCandidates, V); ++r) {
    const int t = order[std::size_t(r)];
    s.top.push_back({t, logits(t), raw[std::size_t(t)], tempered[std::size_t(t)], kept[std::size_t(t)]});
  }
  return s;
}

std::vector<int> eosTokenIds(const std::string& folder) {
  std::ifstream in(folder + "/config.json");
  if (!in) return {};
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json config = nlohmann::json::parse(text.str(), nullptr, false);
  if (config.is_discarded() || !config.is_object() || !config.contains("eos_token_id")) return {};
  const nlohmann::json& eos = config["eos_token_id"];
  std::vector<int> ids;
  if (eos.is_number_integer()) ids.push_back(eos.get<int>());
  else if (eos.is_array())
    for (const auto& e : eos)
      if (e.is_number_integer()) ids.push_back(e.get<int>());
  return ids;
}

Generation generate(const Architecture& model, const std::vector<int>& prompt, const GenerationOptions& o) {
  const ModelShape& shape = model.shape();
  if (shape.input != InputKind::Text || !shape.causal) throw Error(shape.modelType + " cannot generate (decoders only)");
  checkSamplingOptions(o.sampling);
  if (o.maxNew < 1) throw Error("the number of new tokens must be at least 1");
  if (prompt.empty()) throw Error("no tokens to start from (the text is empty)");
  if (long(prompt.size()) + o.maxNew > long(shape.positions))
    throw Error("the prompt's " + std::to_string(prompt.size()) + " tokens and " + std::to_string(o.maxNew) +
                " new ones are beyond the model's context of " + std::to_string(shape.positions) + " tokens (" +
                shape.positionsKey + ")");
  Generation g;
  g.prompt = prompt;
  SplitMix64 rng(o.sampling.seed);
  KvCache cache;
  std::vector<int> text = prompt;
  ForwardOptions lastOnly;
  lastOnly.allLogits = false;
  const auto next = [&](const std::vector<int>& ids) {
    return o.cache ? model.forwardCached(ids, cache, true) : model.forward(text, lastOnly).logits;
  };
  auto start = std::chrono::steady_clock::now();
  Matrix logits = next(prompt);
  g.promptMs = seconds(start);
  for (int step = 0; step < o.maxNew; ++step) {
    const SampledToken s = sampleToken(logits.row(0), o.sampling, rng);
    g.tokens.push_back(s);
    text.push_back(s.id);
    if (std::find(o.eosIds.begin(), o.eosIds.end(), s.id) != o.eosIds.end()) {
      g.stoppedAtEos = true;
      break;
    }
    if (step + 1 == o.maxNew) break;
    start = std::chrono::steady_clock::now();
    logits = next({s.id});
    g.stepsMs += seconds(start);
  }
  return g;
}

}  // namespace attnviz::model
