// The question before a sample or session replaces a document with unsaved edits.
#include <imgui.h>

#include "replace.hpp"
#include "views.hpp"

namespace attnviz::gui {

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
  const std::string name = app.doc.path.empty() ? std::string("This session") : app.doc.path;
  ImGui::Text("%s has edits that are not saved.", name.c_str());
  ImGui::Text("Opening %s replaces them.", r.what.c_str());
  if (ImGui::Button("Save…", ImVec2(120, 0))) {
    if (!answerReplace(app, ReplaceAnswer::Save)) {
      // No file yet: the chooser asks for one and the replacement follows its save.
      r.asking = false;
      r.afterSave = true;
      openFileChooser(app, FileChooser::Purpose::SaveSession, "session.json");
    }
    ImGui::CloseCurrentPopup();
  }
  ImGui::SameLine();
  if (ImGui::Button("Don't save", ImVec2(120, 0))) {
    answerReplace(app, ReplaceAnswer::DontSave);
    ImGui::CloseCurrentPopup();
  }
  ImGui::SameLine();
  if (ImGui::Button("Cancel", ImVec2(120, 0)) || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape), false)) {
    answerReplace(app, ReplaceAnswer::Cancel);
    ImGui::CloseCurrentPopup();
  }
  ImGui::EndPopup();
}

}  // namespace attnviz::gui
