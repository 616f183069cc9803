#include "patching.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace attnviz::model {
namespace {

double logitDifference(const ForwardRecord& rec, int target, int contrast) {
  const long last = rec.logits.rows() - 1;
  return double(rec.logits(last, target)) - double(rec.logits(last, contrast));
}

// The largest |difference| between two passes' last-position logits.
double logitGap(const ForwardRecord& a, const ForwardRecord& b) {
  return double((a.logits.bottomRows(1) - b.logits.bottomRows(1)).cwiseAbs().maxCoeff());
}

// Every head of every layer of `from`, as patches.
std::vector<HeadPatch> everyHead(const ForwardRecord& from) {
  std::vector<HeadPatch> out;
  for (int l = 0; l < int(from.layers.size()); ++l) {
    const Matrix& z = from.layers[std::size_t(l)].z;
    const int dh = int(z.cols()) / from.heads;
    for (int h = 0; h < from.heads; ++h) out.push_back({l, h, z.middleCols(Eigen::Index(h) * dh, dh)});
  }
  return out;
}

// Every row of `from`'s resid[layer], as patches.
std::vector<ResidualPatch> everyRow(const ForwardRecord& from, int layer) {
  std::vector<ResidualPatch> out;
  const Matrix& x = from.resid.at(std::size_t(layer));
  for (int i = 0; i < int(x.rows()); ++i) out.push_back({layer, i, x.row(i).transpose()});
  return out;
}

}  // namespace

void checkPatchable(const Architecture& model) {
  const ModelShape& s = model.shape();
  if (s.input != InputKind::Text || !s.causal)
    throw Error(s.modelType + " is not a decoder (activation patching compares next-token logits: decoders only)");
}

PatchingResult activationPatching(const Architecture& model, const std::vector<int>& clean,
                                  const std::vector<int>& corrupted, int target, int contrast,
                                  const ForwardOptions& base) {
  checkPatchable(model);
  if (clean.size() != corrupted.size())
    throw Error("the clean prompt is " + std::to_string(clean.size()) + " tokens and the corrupted one " +
                std::to_string(corrupted.size()) + ": activation patching needs the same length");
  if (clean.empty()) throw Error("activation patching needs prompts of at least one token");
  const int vocab = model.shape().vocabSize;
  for (const int t : {target, contrast})
    if (t < 0 || t >= vocab)
      throw Error("token id " + std::to_string(t) + " is not in the vocabulary (ids 0 to " +
                  std::to_string(vocab - 1) + ")");
  if (!base.patchedHeads.empty() || !base.patchedResidual.empty())
    throw Error("activation patching makes its own patches: the base options must have none");

  ForwardOptions options = base;
  options.allLogits = false;  // the metric reads the last position only
  const ForwardRecord cleanRun = model.forward(clean, options);
  const ForwardRecord corruptedRun = model.forward(corrupted, options);

  PatchingResult r;
  r.target = target;
  r.contrast = contrast;
  r.ldClean = logitDifference(cleanRun, target, contrast);
  r.ldCorrupted = logitDifference(corruptedRun, target, contrast);
  const double span = r.ldClean - r.ldCorrupted;
  if (span == 0)
    throw Error("the clean and corrupted prompts give the same logit difference (" + std::to_string(r.ldClean) +
                "): there is nothing to recover");

  const auto patched = [&](std::vector<HeadPatch> heads, std::vector<ResidualPatch> rows) {
    ForwardOptions o = options;
    o.patchedHeads = std::move(heads);
    o.patchedResidual = std::move(rows);
    return model.forward(corrupted, o);
  };

  const int L = int(cleanRun.layers.size()), H = cleanRun.heads, n = int(clean.size());
  const std::vector<HeadPatch> cleanHeads = everyHead(cleanRun);
  r.headsLd.resize(L, H);
  for (const HeadPatch& p : cleanHeads)
    r.headsLd(p.layer, p.head) = logitDifference(patched({p}, {}), target, contrast);
  r.residLd.resize(L + 1, n);
  for (int l = 0; l <= L; ++l)
    for (const ResidualPatch& p : everyRow(cleanRun, l))
      r.residLd(l, p.position) = logitDifference(patched({}, {p}), target, contrast);
  r.heads = (r.headsLd.array() - r.ldCorrupted) / span;
  r.resid = (r.residLd.array() - r.ldCorrupted) / span;

  r.selfPatchVsCorrupted = logitGap(patched(everyHead(corruptedRun), everyRow(corruptedRun, 0)), corruptedRun);
  r.resid0VsClean = logitGap(patched({}, everyRow(cleanRun, 0)), cleanRun);
  r.headsAndResid0VsClean = logitGap(patched(cleanHeads, everyRow(cleanRun, 0)), cleanRun);
  return r;
}

}  // namespace attnviz::model
