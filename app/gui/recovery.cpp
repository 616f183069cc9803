#include "recovery.hpp"

#include <cstdlib>
#include <filesystem>

#include "actions.hpp"
#include "document.hpp"

namespace attnviz::gui {

namespace fs = std::filesystem;

namespace {
constexpr double kRecoveryDelaySeconds = 3.0;  // a few seconds behind the edits, not every keystroke
}

std::string defaultRecoveryPath() {
  fs::path base;
  if (const char* s = std::getenv("XDG_STATE_HOME"); s && *s) base = s;
  else if (const char* h = std::getenv("HOME"); h && *h) base = fs::path(h) / ".local" / "state";
  else base = fs::temp_directory_path();
  return (base / "attnviz" / "recovery.json").string();
}

void writeRecoveryIfDue(AppState& app) {
  Document& d = app.doc;
  if (d.recoveryWritten || app.recoveryPath.empty() || app.offerRecovery) return;
  const double age = std::chrono::duration<double>(std::chrono::steady_clock::now() - d.lastEdit).count();
  if (age < kRecoveryDelaySeconds) return;
  d.recoveryWritten = true;
  try {
    fs::create_directories(fs::path(app.recoveryPath).parent_path());
    if (d.unsaved) saveSession(app.recoveryPath, d.session);
    else fs::remove(app.recoveryPath);
  } catch (const std::exception& e) {
    report(app, std::string("recovery file: ") + e.what(), true);
  }
}

void offerRecoveryIfPresent(AppState& app) {
  std::error_code ec;
  app.offerRecovery = !app.recoveryPath.empty() && fs::exists(app.recoveryPath, ec);
}

void restoreRecovery(AppState& app) {
  app.offerRecovery = false;
  if (openSession(app, app.recoveryPath)) {
    app.doc.path.clear();  // it is not a file the user chose; saving asks for a name
    app.doc.unsaved = true;
    report(app, "Restored unsaved work from the last session");
  }
}

void discardRecovery(AppState& app) {
  app.offerRecovery = false;
  std::error_code ec;
  fs::remove(app.recoveryPath, ec);
}

}  // namespace attnviz::gui
