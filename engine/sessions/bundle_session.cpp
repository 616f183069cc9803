// Sessions on an attention bundle: the views get the viewed layer's Q, K, V (then every stage
// is the engine's own) or, for weights alone, a trace holding the given weights.
#include "bundle_session.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>

#include "safetensors.hpp"
#include "stages.hpp"

namespace attnviz {
namespace {

struct CachedBundle {
  long long modified = 0, size = 0;
  std::shared_ptr<const AttentionBundle> bundle;
};

struct BundleCache {
  std::mutex mutex;
  std::map<std::pair<std::string, bool>, CachedBundle> bundles;
};

BundleCache& cache() {
  static BundleCache c;
  return c;
}

std::string shortNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

std::shared_ptr<const AttentionBundle> sharedBundle(const BundleRef& ref) {
  struct stat st {};
  if (::stat(ref.path.c_str(), &st) != 0)
    throw Error(ref.path + ": the attention bundle does not exist (moved or deleted?)");
  const long long modified = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  const auto key = std::make_pair(ref.path, ref.allowUnnormalised);
  BundleCache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    const auto it = c.bundles.find(key);
    if (it != c.bundles.end() && it->second.modified == modified && it->second.size == st.st_size) return it->second.bundle;
  }
  BundleReadOptions options;
  options.allowUnnormalised = ref.allowUnnormalised;
  auto loaded = std::make_shared<const AttentionBundle>(readBundle(ref.path, options));
  std::lock_guard lock(c.mutex);
  c.bundles[key] = {modified, (long long)st.st_size, loaded};
  return loaded;
}

Session bundleSession(const BundleRef& ref) {
  const auto b = sharedBundle(ref);
  Session s;
  s.name = std::filesystem::path(ref.path).filename().string();
  s.bundle = ref;
  s.mode = InputMode::Matrices;
  s.options.heads = b->heads;
  s.options.score = ScoreFunction::Scaled;
  if (b->mask.size()) {
    s.options.mask = MaskKind::Custom;
    s.options.customMask = b->mask;
  } else {
    s.options.mask = b->causalWeights ? MaskKind::Causal : MaskKind::None;
  }
  // Weights alone open on the weights; with Q and K the step-through starts at the scores.
  s.view.step = int(b->hasQK ? StageId::Scores : StageId::Weights);
  return s;
}

AttentionTrace givenWeightsTrace(const AttentionBundle& b, int layer, const AttentionOptions& options) {
  AttentionTrace t;
  t.n = b.n;
  t.m = b.m;
  t.heads = b.heads;
  t.dk = 0;
  t.dv = b.hasV ? b.heads * b.dValue : 0;
  t.options = options;
  t.head.resize(size_t(b.heads));
  for (int h = 0; h < b.heads; ++h) {
    HeadTrace& ht = t.head[size_t(h)];
    ht.weights = b.weights(layer, h);
    ht.rowSum = ht.weights.rowwise().sum();
    ht.stats.entropy.resize(b.n);
    ht.stats.maxWeight.resize(b.n);
    ht.stats.argmax.resize(b.n);
    ht.stats.fullyMasked.assign(size_t(b.n), false);
    for (int i = 0; i < b.n; ++i) {
      double entropy = 0;
      float best = -1;
      int arg = -1;
      bool attends = false;
      for (int j = 0; j < b.m; ++j) {
        const float a = ht.weights(i, j);
        if (a != 0) attends = true;
        if (a > 0) entropy -= double(a) * std::log(double(a));
        if (a > best) {
          best = a;
          arg = j;
        }
      }
      ht.stats.fullyMasked[size_t(i)] = !attends;
      ht.stats.entropy(i) = attends ? float(std::max(0.0, entropy)) : 0.0f;
      ht.stats.maxWeight(i) = attends ? best : 0.0f;
      ht.stats.argmax(i) = attends ? arg : -1;
    }
    if (b.hasV) ht.output = ht.weights * b.v[size_t(layer)].middleCols(h * b.dValue, b.dValue);
  }
  if (b.hasV) {
    t.concatenated.resize(b.n, t.dv);
    for (int h = 0; h < b.heads; ++h) t.concatenated.middleCols(h * b.dValue, b.dValue) = t.head[size_t(h)].output;
  }
  return t;
}

PreparedSession prepareBundleSession(const Session& session) {
  const auto b = sharedBundle(session.bundle);
  const int layer = session.view.layer;
  if (layer < 0 || layer >= b->layers)
    throw Error("layer " + std::to_string(layer) + " does not exist: " + session.bundle.path + " has " +
                std::to_string(b->layers) + (b->layers == 1 ? " layer (0)" : " layers (0 to " + std::to_string(b->layers - 1) + ")"));
  if (session.options.heads != b->heads)
    throw Error(session.bundle.path + " has " + std::to_string(b->heads) + " heads per layer (options ask for " +
                std::to_string(session.options.heads) + ")");
  PreparedSession p;
  p.bundle = b;
  p.modelLayers = b->layers;
  p.modelHeads = b->heads;
  p.viewedLayer = layer;
  p.queryLabels = b->queryTokens;
  p.keyLabels = b->keyTokens;
  if (b->hasQK) {
    p.inputs.q = b->q[size_t(layer)];
    p.inputs.k = b->k[size_t(layer)];
    // Without v the output stage shows A·I: each head's output row is its weights row.
    if (b->hasV) {
      p.inputs.v = b->v[size_t(layer)];
    } else {
      p.inputs.v = Matrix::Zero(b->m, Eigen::Index(b->heads) * b->m);
      for (int h = 0; h < b->heads; ++h) p.inputs.v.middleCols(Eigen::Index(h) * b->m, b->m).setIdentity();
    }
  } else {
    p.givenTrace = std::make_shared<const AttentionTrace>(givenWeightsTrace(*b, layer, session.options));
    if (b->hasV) p.inputs.v = b->v[size_t(layer)];
  }
  return p;
}

AttentionTrace computeSessionTrace(const PreparedSession& prepared, const AttentionOptions& options) {
  if (prepared.givenTrace) return *prepared.givenTrace;
  return computeAttention(prepared.inputs, options);
}

WeightsDifference compareWithGiven(const AttentionTrace& t, const AttentionBundle& b, int layer) {
  WeightsDifference d;
  d.layer = layer;
  for (int h = 0; h < b.heads && h < t.heads; ++h) {
    const Matrix& given = b.weights(layer, h);
    const Matrix& mine = t.head[size_t(h)].weights;
    for (int i = 0; i < b.n; ++i)
      for (int j = 0; j < b.m; ++j) {
        const double diff = std::abs(double(mine(i, j)) - double(given(i, j)));
        if (diff > d.maxAbs) d = {diff, layer, h, i, j};
      }
  }
  return d;
}

std::string describeDifference(const WeightsDifference& d) {
  return "recomputed weights differ from the given ones by up to " + shortNumber(d.maxAbs) + " (layer " +
         std::to_string(d.layer) + ", head " + std::to_string(d.head) + ", row " + std::to_string(d.row) +
         ", column " + std::to_string(d.column) + ")";
}

bool bundleStageExists(const AttentionBundle& b, StageId id) {
  const StageInfo& info = stageInfo(id);
  if (info.needsModel || info.needsProjection) return false;
  if (id == StageId::Output) return b.hasV;
  return b.hasQK || id == StageId::Weights;
}

bool looksLikeBundle(const std::string& path) {
  namespace fs = std::filesystem;
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".npz") return true;
  std::error_code ec;
  if (ext != ".safetensors" || !fs::is_regular_file(path, ec)) return false;
  if (fs::exists(fs::path(path).parent_path() / "config.json", ec)) return false;
  try {
    const model::SafetensorsFile file(path);
    return file.find("attention") != nullptr;
  } catch (const Error&) {
    return false;  // not readable as either: the model loader says what is wrong with it
  }
}

std::string resolveBundlePath(const std::string& bundlePath, const std::string& sessionPath) {
  namespace fs = std::filesystem;
  const fs::path given(bundlePath);
  std::error_code ec;
  if (given.is_absolute() || fs::exists(given, ec) || sessionPath.empty()) return bundlePath;
  const fs::path beside = fs::path(sessionPath).parent_path() / given;
  return fs::exists(beside, ec) ? beside.lexically_normal().string() : bundlePath;
}

std::vector<int> labelIds(const std::vector<std::string>& labels) {
  std::map<std::string, int> ids;
  std::vector<int> out;
  for (const std::string& l : labels) out.push_back(ids.emplace(l, int(ids.size())).first->second);
  return out;
}

}  // namespace attnviz
