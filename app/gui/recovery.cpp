#include "recovery.hpp"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions.hpp"
#include "document.hpp"

namespace attnviz::gui {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

fs::path lockPathFor(fs::path json) { return json.replace_extension(".lock"); }

// Opens and locks `path` without waiting: the descriptor, or -1 while a running process holds
// it. A lock file removed (as stale, or by its owner's clean quit) between our open and our
// flock would give us a lock no one else can see, so it counts only while the path still names
// the file we locked.
int tryLock(const fs::path& path) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return -1;
    }
    struct stat held {}, named {};
    if (::fstat(fd, &held) == 0 && ::stat(path.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev)
      return fd;
    ::close(fd);
  }
  return -1;
}

void unlock(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// The file first, then its lock, still held: whoever takes the lock next finds nothing to offer.
void removeLocked(const fs::path& json, int& fd) {
  std::error_code ec;
  fs::remove(json, ec);
  fs::remove(lockPathFor(json), ec);
  unlock(fd);
}

bool isRecoveryFile(const fs::path& p, const char* extension) {
  return p.extension() == extension && p.filename().string().rfind("recovery", 0) == 0;
}

// This process's file. Its name carries the pid for people looking at the folder; a name that
// an ended run with the same pid left a file under, or that a process in another pid namespace
// holds, is passed over.
fs::path claimOwnFile(const fs::path& dir, int& fd) {
  const std::string pid = std::to_string(::getpid());
  for (int k = 0; k < 100; ++k) {
    const fs::path json = dir / ("recovery-" + pid + (k ? "-" + std::to_string(k) : "") + ".json");
    std::error_code ec;
    if (fs::exists(json, ec)) continue;
    fd = tryLock(lockPathFor(json));
    if (fd >= 0) return json;
  }
  return dir / ("recovery-" + pid + ".json");  // unlockable folder: writing it will say why
}

// The newest file whose process has ended, locked so that a window opened at the same moment
// does not offer it too; stale locks of ended runs that left no file are removed on the way.
fs::path claimNewestOrphan(const fs::path& dir, const fs::path& own, int& fd) {
  std::vector<fs::path> files, locks;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (isRecoveryFile(e.path(), ".json") && e.path() != own) files.push_back(e.path());
    if (isRecoveryFile(e.path(), ".lock") && e.path() != lockPathFor(own)) locks.push_back(e.path());
  }
  fs::path best;
  fs::file_time_type bestTime;
  for (const fs::path& json : files) {
    int lock = tryLock(lockPathFor(json));
    if (lock < 0) continue;  // its window is still open
    const auto written = fs::last_write_time(json, ec);
    if (ec) {
      removeLocked(json, lock);  // gone meanwhile: a clean quit
      continue;
    }
    if (!best.empty() && written <= bestTime) {
      unlock(lock);
      continue;
    }
    unlock(fd);
    best = json;
    bestTime = written;
    fd = lock;
  }
  for (fs::path lock : locks) {
    const fs::path json = fs::path(lock).replace_extension(".json");
    if (fs::exists(json, ec)) continue;
    if (int held = tryLock(lock); held >= 0) removeLocked(json, held);
  }
  return best;
}

// "written 14:02:31, 3 min ago" lets the user tell a fresh crash from a stale leftover.
std::string describeWritten(const fs::path& path) {
  std::error_code ec;
  const auto written = fs::last_write_time(path, ec);
  if (ec) return "";
  const auto sys = std::chrono::file_clock::to_sys(written);
  const std::time_t t = std::chrono::system_clock::to_time_t(sys);
  const long minutes = std::chrono::duration_cast<std::chrono::minutes>(std::chrono::system_clock::now() - sys).count();
  char clock[64] = "";
  std::strftime(clock, sizeof clock, minutes < 12 * 60 ? "%H:%M:%S" : "%Y-%m-%d %H:%M", std::localtime(&t));
  return std::string("written ") + clock + (minutes < 1 ? ", moments ago" : ", " + std::to_string(minutes) + " min ago");
}

}  // namespace

std::string defaultRecoveryDirectory() {
  fs::path base;
  if (const char* s = std::getenv("XDG_STATE_HOME"); s && *s) base = s;
  else if (const char* h = std::getenv("HOME"); h && *h) base = fs::path(h) / ".local" / "state";
  else base = fs::temp_directory_path();
  return (base / "attnviz").string();
}

double recoveryIntervalFromEnv() {
  const char* s = std::getenv("ATTNVIZ_RECOVERY_SECONDS");
  if (!s || !*s) return 2.0;
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  return end != s && v == v ? std::clamp(v, 0.1, 60.0) : 2.0;
}

void enableRecovery(AppState& app, const std::string& directory) {
  Recovery& r = app.recovery;
  std::error_code ec;
  fs::create_directories(directory, ec);
  r.path = claimOwnFile(directory, r.lockFd).string();
  const fs::path orphan = claimNewestOrphan(directory, r.path, r.offerLockFd);
  r.offer = !orphan.empty();
  if (!r.offer) return;
  r.offerPath = orphan.string();
  r.offerWhen = describeWritten(orphan);
}

void updateRecovery(AppState& app) {
  Recovery& r = app.recovery;
  Document& d = app.doc;
  if (r.quitAfterSave) {
    if (!d.unsaved) app.quitRequested = true;
    else if (!app.chooser.open) r.quitAfterSave = false;  // the chooser was cancelled
  }
  if (r.path.empty()) return;
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
  if (!openSession(app, r.offerPath)) {
    unlock(r.offerLockFd);  // kept for a look; offered again next time, where Discard removes it
    return;
  }
  app.doc.path.clear();  // not a file the user chose; saving asks for a name
  app.doc.unsaved = true;
  // The file becomes this window's own: it already holds exactly this state.
  std::error_code ec;
  fs::rename(r.offerPath, r.path, ec);
  r.onDisk = !ec;
  app.doc.recoveryWritten = !ec;
  removeLocked(r.offerPath, r.offerLockFd);
  report(app, "Restored unsaved work from the last session");
}

void discardRecovery(AppState& app) {
  Recovery& r = app.recovery;
  r.offer = false;
  removeLocked(r.offerPath, r.offerLockFd);
}

void finishRecovery(AppState& app) {
  Recovery& r = app.recovery;
  unlock(r.offerLockFd);  // an offer not yet answered stays for the next launch
  if (r.path.empty()) return;
  removeLocked(r.path, r.lockFd);
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
