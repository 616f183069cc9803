#include "steps.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "colormap_lut.hpp"
#include "figure/colormap.hpp"
#include "model.hpp"
#include "session_stages.hpp"

namespace attnviz::gui {

namespace {
// A bundle's steps follow from the bundle itself, known before its layer is prepared (the
// document may still hold the previous one's prepared inputs in the frame it was opened).
std::shared_ptr<const AttentionBundle> documentBundle(const Document& doc) {
  if (doc.session.bundle.path.empty()) return nullptr;
  if (!doc.needsPrepare && doc.prepared.bundle) return doc.prepared.bundle;
  try {
    return sharedBundle(doc.session.bundle);
  } catch (const Error&) {
    return nullptr;  // the document update reports it
  }
}
}  // namespace

bool stepAvailable(const Document& doc, StageId step) {
  const StageInfo& info = stageInfo(step);
  if (!doc.session.bundle.path.empty()) {
    const auto bundle = documentBundle(doc);
    return bundle ? bundleStageExists(*bundle, step) : step == StageId::Weights;
  }
  if (info.needsProjection) return doc.session.mode == InputMode::Tokens;
  if (info.needsModel) return stageExists(doc.trace(), doc.prepared, step);
  return true;
}

std::vector<StageId> availableSteps(const Document& doc) {
  std::vector<StageId> steps;
  // A model layer shows its family's own steps in its own order (a post-norm block adds before
  // it normalises); everything else the one strip order.
  if (doc.prepared.loadedModel && doc.prepared.block) {
    for (const std::string& name : doc.prepared.loadedModel->architecture->steps())
      if (const auto id = findStage(name); id && stepAvailable(doc, *id)) steps.push_back(*id);
    return steps;
  }
  for (StageId id : stripOrder())
    if (stepAvailable(doc, id)) steps.push_back(id);
  return steps;
}

StageId currentStep(const Document& doc) {
  const StageId step = StageId(std::clamp(doc.session.view.step, 0, kStageCount - 1));
  if (stepAvailable(doc, step)) return step;
  // Scores where the document has them; a bundle of weights alone starts at its weights.
  return stepAvailable(doc, StageId::Scores) ? StageId::Scores : StageId::Weights;
}

std::vector<std::string> columnLabels(const Document& doc, StageId step) {
  return stageColumnLabels(doc.trace(), doc.prepared, step);
}

StageColours stageColours(const ViewSettings& view) {
  StageColours c;
  c.sequential = toFigureColormap(view.sequential);
  c.divergingForSigned = view.divergingForSigned;
  c.unitRange = view.probabilitiesZeroToOne;
  return c;
}

StepRange stepRange(const Matrix& values, StageId step, const ViewSettings& view) {
  const StageColours colours = stageColours(view);
  const Colormap map = stageColormap(step, colours);
  const ValueRange a = stageRange(step, map, values.data(), std::size_t(values.size()), colours);
  StepRange r;
  r.vmin = a.lo;
  r.vmax = a.hi;
  r.colormap = map == Colormap::RdBu ? ColormapId::RdBu : view.sequential;
  r.signedValues = stageInfo(step).kind == ValueKind::Signed;
  return r;
}

std::uint64_t stepRevision(const Document& doc, StageId step) {
  switch (step) {
    case StageId::Scores: return doc.scoresRev;
    case StageId::Output:
    case StageId::Projected: return doc.outputRev;
    default: return stageInfo(step).needsModel ? doc.scoresRev : doc.scaleRev;
  }
}

namespace {
struct CachedStep {
  std::uint64_t revision = ~0ull;
  int settings = -1;
  const void* pipeline = nullptr;
  Matrix scratch;
  StepView view;
};
}  // namespace

StepView stepView(const Document& doc, const ViewSettings& view, StageId step, int head) {
  static std::map<std::pair<int, int>, CachedStep> cache;
  const int h = stageIsPerHead(step) ? std::clamp(head, 0, std::max(0, doc.trace().heads - 1)) : 0;
  CachedStep& c = cache[{int(step), h}];
  const std::uint64_t rev = stepRevision(doc, step);
  // The RoPE step shows Q or K, rotated or not (ViewState::rope): one more setting of its matrix.
  const int ropeShown = step == StageId::Rope ? int(doc.session.view.rope) : 0;
  const int settings = int(view.sequential) * 4 + int(view.divergingForSigned) * 2 + int(view.probabilitiesZeroToOne) +
                       16 * ropeShown;
  if (c.revision == rev && c.settings == settings && c.pipeline == doc.front.get()) return c.view;
  c.revision = rev;
  c.settings = settings;
  c.pipeline = doc.front.get();
  const Matrix& m = step == StageId::Rope ? ropeStageValues(doc.prepared, doc.session.view.rope, h, c.scratch)
                                          : stageDisplay(doc.trace(), doc.prepared, step, h, c.scratch);
  c.view.values = &m;
  c.view.range = stepRange(m, step, view);
  c.view.anyMasked = false;
  for (Eigen::Index i = 0; i < m.size() && !c.view.anyMasked; ++i) c.view.anyMasked = std::isinf(m.data()[i]);
  c.view.key = "step" + std::to_string(int(step)) + ":" + std::to_string(h) + ":" + std::to_string(ropeShown);
  c.view.revision = rev;
  return c.view;
}

}  // namespace attnviz::gui
