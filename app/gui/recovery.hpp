#pragma once
// The recovery file: unsaved edits are written a few seconds after they happen to
// $XDG_STATE_HOME/attnviz/recovery.json (~/.local/state/...), removed on save or a clean quit
// with nothing unsaved, and offered back on the next launch.
#include <string>

#include "app_state.hpp"

namespace attnviz::gui {

std::string defaultRecoveryPath();
void writeRecoveryIfDue(AppState& app);  // each frame; cheap when nothing changed
void offerRecoveryIfPresent(AppState& app);
void restoreRecovery(AppState& app);
void discardRecovery(AppState& app);

}  // namespace attnviz::gui
