#include "recovery.hpp"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "actions.hpp"
#include "document.hpp"

namespace attnviz::gui {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string defaultRecoveryPath() {
  fs::path base;
  if (const char* s = std::getenv("XDG_STATE_HOME"); s && *s) base = s;
  else if (const char* h = std::getenv("HOME"); h && *h) base = fs::path(h) / ".local" / "state";
  else base = fs::temp_directory_path();
  return (base / "attnviz" / "recovery.json").string();
}

double recoveryIntervalFromEnv() {
  const char* s = std::getenv("ATTNVIZ_RECOVERY_SECONDS");
  if (!s || !*s) return 2.0;
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  return end != s && v == v ? std::clamp(v, 0.1, 60.0) : 2.0;
}

void enableRecovery(AppState& app, const std::string& path) {
  Recovery& r = app.recovery;
  r.path = path;
  std::error_code ec;
  r.offer = fs::exists(path, ec);
  if (!r.offer) return;
  // "written 14:02:31, 3 min ago" lets the user tell a fresh crash from a stale leftover.
  const auto written = fs::last_write_time(path, ec);
  if (ec) return;
  const auto sys = std::chrono::file_clock::to_sys(written);
  const std::time_t t = std::chrono::system_clock::to_time_t(sys);
  const long minutes = std::chrono::duration_cast<std::chrono::minutes>(std::chrono::system_clock::now() - sys).count();
  char clock[64] = "";
  std::strftime(clock, sizeof clock, minutes < 12 * 60 ? "%H:%M:%S" : "%Y-%m-%d %H:%M", std::localtime(&t));
  r.offerWhen = std::string("written ") + clock +
                (minutes < 1 ? ", moments ago" : ", " + std::to_string(minutes) + " min ago");
}

void updateRecovery(AppState& app) {
  Recovery& r = app.recovery;
  Document& d = app.doc;
  if (r.quitAfterSave) {
    if (!d.unsaved) app.quitRequested = true;
    else if (!app.chooser.open) r.quitAfterSave = false;  // the chooser was cancelled
  }
  // While an earlier run's file is on offer it must not be overwritten or removed.
  if (r.path.empty() || r.offer) return;
  if (!d.unsaved) {
    // Saved, or a new document loaded: the file would only offer back stale work.
    if (r.onDisk) {
      std::error_code ec;
      fs::remove(r.path, ec);
      r.onDisk = false;
    }
    r.pending = false;
    d.recoveryWritten = true;
    return;
  }
  const auto now = Clock::now();
  if (!d.recoveryWritten) {
    // A throttle, not a debounce: a slider dragged for a minute is still saved every interval.
    if (!r.pending) r.pendingSince = now;
    r.pending = true;
    d.recoveryWritten = true;
  }
  if (!r.pending || std::chrono::duration<double>(now - r.pendingSince).count() < r.intervalSeconds) return;
  r.pending = false;
  try {
    fs::create_directories(fs::path(r.path).parent_path());
    saveSession(r.path, d.session);  // writeFileAtomic: a kill mid-write leaves the old file whole
    r.onDisk = true;
    r.writeFailed = false;
  } catch (const std::exception& e) {
    // Retried after the next interval; said once, not every few seconds.
    r.pending = true;
    r.pendingSince = now;
    if (!r.writeFailed) report(app, std::string("recovery file: ") + e.what(), true);
    r.writeFailed = true;
  }
}

void restoreRecovery(AppState& app) {
  Recovery& r = app.recovery;
  r.offer = false;
  if (openSession(app, r.path)) {
    app.doc.path.clear();  // not a file the user chose; saving asks for a name
    app.doc.unsaved = true;
    r.onDisk = true;       // the file already holds exactly this state
    report(app, "Restored unsaved work from the last session");
  }
}

void discardRecovery(AppState& app) {
  Recovery& r = app.recovery;
  r.offer = false;
  r.onDisk = false;
  std::error_code ec;
  fs::remove(r.path, ec);
}

void finishRecovery(AppState& app) {
  Recovery& r = app.recovery;
  if (r.path.empty() || r.offer) return;
  std::error_code ec;
  fs::remove(r.path, ec);
  r.onDisk = r.pending = false;
}

bool quitNeedsAnswer(const AppState& app) { return !app.recovery.path.empty() && app.doc.unsaved; }

void answerQuit(AppState& app, QuitAnswer answer) {
  Recovery& r = app.recovery;
  r.askQuit = false;
  switch (answer) {
    case QuitAnswer::Save:
      if (!app.doc.path.empty() && saveSessionAs(app, app.doc.path)) app.quitRequested = true;
      else r.askQuit = !app.doc.path.empty();  // the save failed: ask again, the message says why
      break;
    case QuitAnswer::DontSave: app.quitRequested = true; break;
    case QuitAnswer::Cancel: r.quitAfterSave = false; break;
  }
}

}  // namespace attnviz::gui
