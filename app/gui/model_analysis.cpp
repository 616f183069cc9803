#include "model_analysis.hpp"

#include <memory>

#include "model.hpp"

namespace attnviz::gui {

bool hasReadout(const AppState& app) {
  const PreparedSession& p = app.doc.prepared;
  return p.forward && p.loadedModel && p.loadedModel->shape.causal && !p.forward->grid && !p.forward->ids.empty() &&
         int(p.forward->resid.size()) == p.modelLayers + 1;
}

const model::LogitLens* currentLogitLens(const AppState& app) {
  // Held with its pass, so a new pass can never reuse the old one's address.
  static std::shared_ptr<const model::ForwardRecord> forRecord;
  static std::optional<model::LogitLens> lens;
  if (!hasReadout(app)) return nullptr;
  const PreparedSession& p = app.doc.prepared;
  if (forRecord != p.forward || !lens) {
    lens = model::logitLens(*p.loadedModel->architecture, *p.forward);
    forRecord = p.forward;
  }
  return &*lens;
}

int attributionPosition(const AppState& app) {
  const PreparedSession& p = app.doc.prepared;
  const int n = p.forward ? int(p.forward->ids.size()) : 0;
  const int selected = app.doc.session.view.selectedRow;
  return selected >= 0 && selected < n ? selected : n - 1;
}

const model::LogitAttribution* currentAttribution(const AppState& app) {
  static std::shared_ptr<const model::ForwardRecord> forRecord;
  static std::optional<model::LogitAttribution> attribution;
  if (!hasReadout(app)) return nullptr;
  const PreparedSession& p = app.doc.prepared;
  const int position = attributionPosition(app);
  if (position < 0) return nullptr;
  if (forRecord != p.forward || !attribution || attribution->position != position) {
    const model::Architecture& arch = *p.loadedModel->architecture;
    const int target = model::topPrediction(arch, *p.forward, position);
    attribution = model::directLogitAttribution(arch, *p.forward, position, target);
    forRecord = p.forward;
  }
  return &*attribution;
}

}  // namespace attnviz::gui
