#include "model_analysis.hpp"

#include <memory>

#include "model.hpp"

namespace attnviz::gui {

namespace {

std::string lastError;

// One result of one pass (and position), computed once: a failure is remembered with its pass
// too, so a model that cannot do it is not tried again every frame. The pass is held, so a new
// one can never reuse the old one's address.
template <typename Result>
struct Cached {
  void clear() {
    forRecord.reset();
    result.reset();
    position = -1;
  }
  std::shared_ptr<const model::ForwardRecord> forRecord;
  int position = -1;
  std::optional<Result> result;
  std::string error;

  template <typename Compute>
  const Result* get(const std::shared_ptr<const model::ForwardRecord>& record, int at, Compute compute) {
    if (forRecord != record || position != at) {
      forRecord = record;
      position = at;
      result.reset();
      error.clear();
      try {
        result = compute();
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    lastError = error;
    return result ? &*result : nullptr;
  }
};

}  // namespace

const std::string& analysisError() { return lastError; }

bool hasReadout(const AppState& app) {
  const PreparedSession& p = app.doc.prepared;
  return p.forward && p.loadedModel && p.loadedModel->shape.causal && !p.forward->grid && !p.forward->ids.empty() &&
         int(p.forward->resid.size()) == p.modelLayers + 1;
}

const model::LogitLens* currentLogitLens(const AppState& app) {
  static Cached<model::LogitLens> cache;
  lastError.clear();
  if (!hasReadout(app)) {
    cache.clear();  // no pass held after leaving a decoder
    return nullptr;
  }
  const PreparedSession& p = app.doc.prepared;
  return cache.get(p.forward, 0, [&] { return model::logitLens(*p.loadedModel->architecture, *p.forward); });
}

int attributionPosition(const AppState& app) {
  const PreparedSession& p = app.doc.prepared;
  const int n = p.forward ? int(p.forward->ids.size()) : 0;
  const int selected = app.doc.session.view.selectedRow;
  return selected >= 0 && selected < n ? selected : n - 1;
}

const model::LogitAttribution* currentAttribution(const AppState& app) {
  static Cached<model::LogitAttribution> cache;
  lastError.clear();
  if (!hasReadout(app)) {
    cache.clear();
    return nullptr;
  }
  const PreparedSession& p = app.doc.prepared;
  const int position = attributionPosition(app);
  if (position < 0) return nullptr;
  return cache.get(p.forward, position, [&] {
    const model::Architecture& arch = *p.loadedModel->architecture;
    return model::directLogitAttribution(arch, *p.forward, position, model::topPrediction(arch, *p.forward, position));
  });
}

}  // namespace attnviz::gui
