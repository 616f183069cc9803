#include "replace.hpp"

#include "actions.hpp"
#include "document.hpp"
#include "recovery.hpp"

namespace attnviz::gui {

namespace {

void apply(AppState& app) {
  PendingReplace r = std::move(app.replace);
  app.replace = {};
  const bool sample = !r.sample.empty();
  replaceSession(app.doc, std::move(*r.session), r.path);
  app.doc.sample = r.sample;
  afterNewSession(app);
  report(app, sample ? "Loaded " + r.what : "Opened " + r.what);
}

}  // namespace

void replaceDocument(AppState& app, PendingReplace r) {
  app.replace = std::move(r);
  // The same rule as quitting: wherever a quit would ask, so does this.
  app.replace.asking = quitNeedsAnswer(app);
  if (!app.replace.asking) apply(app);
}

bool answerReplace(AppState& app, ReplaceAnswer answer, const std::string& savePath) {
  PendingReplace& r = app.replace;
  if (!r.session) return false;
  switch (answer) {
    case ReplaceAnswer::Save: {
      const std::string path = savePath.empty() ? app.doc.path : savePath;
      if (path.empty()) return false;
      // A failed save keeps the question up; the status bar says why.
      if (saveSessionAs(app, path)) apply(app);
      return true;
    }
    case ReplaceAnswer::DontSave: apply(app); return true;
    case ReplaceAnswer::Cancel:
      report(app, "Kept the current session; " + r.what + " was not opened");
      app.replace = {};
      return true;
  }
  return false;
}

void updateReplace(AppState& app) {
  PendingReplace& r = app.replace;
  if (!r.afterSave) return;
  if (!app.doc.unsaved) apply(app);
  else if (!app.chooser.open) app.replace = {};  // the chooser was cancelled: so is the replacement
}

}  // namespace attnviz::gui
