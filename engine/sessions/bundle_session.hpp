#pragma once
// Sessions on an attention bundle (engine/model/bundle.hpp): loading it once, the trace of a
// layer given as weights alone, and how far the engine's recomputed weights are from the given.
#include <memory>
#include <string>
#include <vector>

#include "bundle.hpp"
#include "session.hpp"
#include "stages.hpp"

namespace attnviz {

// Above this, the recomputed weights differ from the given ones enough to say so (the user's
// model may scale or mask differently).
inline constexpr double kBundleMismatchTolerance = 1e-4;

// The bundle at `ref.path`, read once while the file is unchanged (shared by the command line and
// the app's worker thread). Throws Error "PATH: ..." (a path that no longer exists included).
std::shared_ptr<const AttentionBundle> sharedBundle(const BundleRef& ref);

// A session showing `ref` at its first layer, with the options the bundle implies: its heads,
// scaled dot product, and its mask (given, else causal when the weights are, else none).
Session bundleSession(const BundleRef& ref);

// The attention of `layer` as a trace holding what weights alone can give: weights, per-row
// statistics, and with v the per-head output (A·V) and their concatenation.
AttentionTrace givenWeightsTrace(const AttentionBundle& bundle, int layer, const AttentionOptions& options);

// The largest |recomputed − given| weight of one layer, and where it is.
struct WeightsDifference {
  double maxAbs = 0;
  int layer = 0, head = 0, row = 0, column = 0;
};
WeightsDifference compareWithGiven(const AttentionTrace& recomputed, const AttentionBundle& bundle, int layer);
// "recomputed weights differ from the given ones by up to 0.03 (layer 1, head 2, row 3, column 0)".
std::string describeDifference(const WeightsDifference& d);

// The stages a bundle can show: every attention stage when it has q and k (the output only with
// v, since without it the output would be A·I), else the weights and, with v, the output.
bool bundleStageExists(const AttentionBundle& bundle, StageId id);

// Whether `path` is an attention bundle rather than a model or a session, by content: a .npz, or
// a .safetensors file with an `attention` tensor and no config.json beside it (a checkpoint).
bool looksLikeBundle(const std::string& path);

// Where a session's bundle is: its path as written when that exists from the working directory
// (or is absolute), else the same relative path from the session file's folder.
std::string resolveBundlePath(const std::string& bundlePath, const std::string& sessionPath);

// Token ids for the head scores: equal labels share an id (as equal tokens would).
std::vector<int> labelIds(const std::vector<std::string>& labels);

}  // namespace attnviz
