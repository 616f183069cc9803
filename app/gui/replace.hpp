#pragma once
// Replacing the document (a sample, an opened or dropped session) never drops unsaved edits
// silently: with edits unsaved it asks Save / Don't save / Cancel, under the same rule as
// quitting (off with --no-recovery and in automated runs without --recovery).
#include <string>

#include "app_state.hpp"

namespace attnviz::gui {

// Puts r.session in place of the document now, or keeps it in app.replace and asks.
void replaceDocument(AppState& app, PendingReplace r);

enum class ReplaceAnswer { Save, DontSave, Cancel };
// Save writes to `savePath`, else to the session's own file, then replaces. With neither it
// returns false and changes nothing: the caller opens the file chooser and sets
// PendingReplace::afterSave, and the replacement happens once that save succeeds.
bool answerReplace(AppState& app, ReplaceAnswer answer, const std::string& savePath = "");
// Each frame: finishes a replacement that waited for the chooser's save (or drops it when the
// chooser was cancelled).
void updateReplace(AppState& app);

}  // namespace attnviz::gui
