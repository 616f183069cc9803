// The one question about unsaved edits (Save… / Don't save / Cancel), asked before quitting and
// before a sample or session replaces the document.
#include <imgui.h>

#include "recovery.hpp"
#include "replace.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {

enum class UnsavedAnswer { None, Save, DontSave, Cancel };

// Draws the body of the open modal: what is unsaved, what happens next, the three buttons.
UnsavedAnswer askAboutUnsavedEdits(const AppState& app, const std::string& consequence) {
  const std::string name = app.doc.path.empty() ? std::string("This session") : app.doc.path;
  ImGui::Text("%s has edits that are not saved.", name.c_str());
  if (!consequence.empty()) ImGui::TextUnformatted(consequence.c_str());
  UnsavedAnswer answer = UnsavedAnswer::None;
  if (ImGui::Button("Save…", ImVec2(120, 0))) answer = UnsavedAnswer::Save;
  ImGui::SameLine();
  if (ImGui::Button("Don't save", ImVec2(120, 0))) answer = UnsavedAnswer::DontSave;
  ImGui::SameLine();
  if (ImGui::Button("Cancel", ImVec2(120, 0)) || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape), false))
    answer = UnsavedAnswer::Cancel;
  if (answer != UnsavedAnswer::None) ImGui::CloseCurrentPopup();
  return answer;
}

}  // namespace

void drawQuitPrompt(AppState& app) {
  Recovery& r = app.recovery;
  if (!r.askQuit) return;
  const char* id = "Save changes before quitting?";
  ImGui::OpenPopup(id);
  if (!ImGui::BeginPopupModal(id, nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
  switch (askAboutUnsavedEdits(app, "")) {
    case UnsavedAnswer::Save:
      if (app.doc.path.empty()) {
        r.askQuit = false;
        r.quitAfterSave = true;
        openFileChooser(app, FileChooser::Purpose::SaveSession, "session.json");
      } else {
        answerQuit(app, QuitAnswer::Save);
      }
      break;
    case UnsavedAnswer::DontSave: answerQuit(app, QuitAnswer::DontSave); break;
    case UnsavedAnswer::Cancel: answerQuit(app, QuitAnswer::Cancel); break;
    case UnsavedAnswer::None: break;
  }
  ImGui::EndPopup();
}

void drawReplacePrompt(AppState& app) {
  PendingReplace& r = app.replace;
  // One popup id for every replacement, so a second request while asking just updates the text.
  const char* id = "Save changes before replacing them?";
  if (!r.asking && !ImGui::IsPopupOpen(id)) return;
  if (r.asking) ImGui::OpenPopup(id);
  if (!ImGui::BeginPopupModal(id, nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
  if (!r.asking) {
    // Answered elsewhere (a script): a modal left open would keep blocking the other windows.
    ImGui::CloseCurrentPopup();
    ImGui::EndPopup();
    return;
  }
  switch (askAboutUnsavedEdits(app, "Opening " + r.what + " replaces them.")) {
    case UnsavedAnswer::Save:
      if (!answerReplace(app, ReplaceAnswer::Save)) {
        // No file yet: the chooser asks for one and the replacement follows its save.
        r.asking = false;
        r.afterSave = true;
        openFileChooser(app, FileChooser::Purpose::SaveSession, "session.json");
      }
      break;
    case UnsavedAnswer::DontSave: answerReplace(app, ReplaceAnswer::DontSave); break;
    case UnsavedAnswer::Cancel: answerReplace(app, ReplaceAnswer::Cancel); break;
    case UnsavedAnswer::None: break;
  }
  ImGui::EndPopup();
}

}  // namespace attnviz::gui
