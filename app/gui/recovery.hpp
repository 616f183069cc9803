#pragma once
// Unsaved work is never lost, on a crash or on a quit.
// - A crash or a kill: edits reach $XDG_STATE_HOME/attnviz/recovery-<pid>.json
//   (~/.local/state/...) at most Recovery::intervalSeconds after they are made
//   (ATTNVIZ_RECOVERY_SECONDS overrides the 2 s default). Each window has its own file, locked
//   (flock on recovery-<pid>.lock) for as long as it runs, so two windows never overwrite or
//   delete each other's. A launch offers the newest file whose lock nobody holds, i.e. whose
//   process has ended; the kernel drops a killed process's lock, and the pid being reused by an
//   unrelated process changes nothing.
// - A quit (window close, Ctrl+Q, the menu, the script's quit) with unsaved edits asks
//   Save / Don't save / Cancel, so a clean exit never leaves a recovery file behind: the file
//   is removed on save, on a quit and whenever nothing is unsaved.
#include <string>

#include "app_state.hpp"

namespace attnviz::gui {

std::string defaultRecoveryDirectory();
double recoveryIntervalFromEnv();  // ATTNVIZ_RECOVERY_SECONDS, clamped to [0.1, 60]; 2 s default
// Turns recovery on with this process's file in `directory`, offering back the newest file that
// an ended run left there.
void enableRecovery(AppState& app, const std::string& directory);
void updateRecovery(AppState& app);  // each frame; cheap when nothing changed
void restoreRecovery(AppState& app);
void discardRecovery(AppState& app);
// The end of a clean run: this run's file goes (an offer not yet answered stays for next time).
void finishRecovery(AppState& app);

// quit() in actions.hpp asks through these when there are unsaved edits.
enum class QuitAnswer { Save, DontSave, Cancel };
bool quitNeedsAnswer(const AppState& app);
// Save writes to the session's own file; with none, the caller opens the file chooser and sets
// Recovery::quitAfterSave, and the quit happens once the save succeeds (cancelled with it).
void answerQuit(AppState& app, QuitAnswer answer);

}  // namespace attnviz::gui
