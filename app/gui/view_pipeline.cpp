// The pipeline strip: every step as a chip, Previous/Next/Play, and the current step's formula
// and explanation. Also every keyboard shortcut of the app.
#include <imgui.h>

#include "actions.hpp"
#include "model_actions.hpp"
#include "fonts.hpp"
#include "steps.hpp"
#include "views.hpp"

namespace attnviz::gui {


void recordItemRect(AppState& app, const char* name) {
  const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
  app.widgetRects[name] = {a.x, a.y, b.x, b.y};
}

// Every keyboard shortcut of the app, in one place.
void handleShortcuts(AppState& app) {
  const ImGuiIO& io = ImGui::GetIO();
  if (io.KeyCtrl && ImGui::IsKeyPressed('S', false)) {
    if (app.doc.path.empty()) openFileChooser(app, FileChooser::Purpose::SaveSession, "session.json");
    else saveSessionAs(app, app.doc.path);
  }
  if (io.KeyCtrl && ImGui::IsKeyPressed('O', false)) openFileChooser(app, FileChooser::Purpose::OpenSession, "");
  if (io.KeyCtrl && ImGui::IsKeyPressed('Q', false)) quit(app);
  if (io.WantTextInput) return;  // arrows move the text cursor while typing
  if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_RightArrow))) stepNext(app);
  if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_LeftArrow))) stepPrev(app);
  if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Home), false)) stepGotoPosition(app, 0);
  if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_End), false)) stepGotoPosition(app, kStageCount);
  if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Space), false)) togglePlay(app);
  if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape), false)) pinCell(app, -1, -1);
  if (ImGui::IsKeyPressed('F', false) && !io.KeyCtrl) fitView(app);
  // GLFW's key codes for [ ] , . (ImGui 1.86 indexes keys by the backend's codes).
  if (ImGui::IsKeyPressed('[')) setLayer(app, app.doc.session.view.layer - 1);
  if (ImGui::IsKeyPressed(']')) setLayer(app, app.doc.session.view.layer + 1);
  if (ImGui::IsKeyPressed(',')) selectHead(app, std::max(0, app.doc.session.view.head - 1));
  if (ImGui::IsKeyPressed('.')) selectHead(app, app.doc.session.view.head + 1);
}

void drawPipelineStrip(AppState& app) {
  Document& d = app.doc;
  const StageId current = currentStep(d);
  const std::vector<StageId> steps = availableSteps(d);
  const int count = int(steps.size());
  if (ImGui::ArrowButton("##prev", ImGuiDir_Left)) stepPrev(app);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Previous step (←)");
  ImGui::SameLine();
  for (int i = 0; i < count; ++i) {
    const StageInfo& info = stageInfo(steps[std::size_t(i)]);
    const bool sub = info.label[1] != 0;
    char label[64];
    std::snprintf(label, sizeof label, "%s %s##step%d", info.label, info.chip, i);
    if (i > 0) {
      // The strip wraps rather than running off a narrow window (the model's steps make it long);
      // the last chip keeps room for the ▶ button beside it.
      const bool arrow = !sub || info.label[1] == 'a';
      const ImGuiStyle& style = ImGui::GetStyle();
      const float needed = ImGui::CalcTextSize(label, nullptr, true).x + 2 * style.FramePadding.x +
                           (arrow ? ImGui::CalcTextSize("→").x + 6 : 3) +
                           (i + 1 == count ? ImGui::GetFrameHeight() + style.ItemSpacing.x : 0);
      const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
      if (ImGui::GetItemRectMax().x + needed <= right) ImGui::SameLine(0, sub && !arrow ? 2 : 3);
      if (arrow) {
        ImGui::TextDisabled("→");
        ImGui::SameLine(0, 3);
      }
    }
    const bool on = steps[std::size_t(i)] == current;
    ImGui::PushStyleColor(ImGuiCol_Button, on ? ImVec4(0.26f, 0.52f, 0.88f, 1) : sub ? ImVec4(0.22f, 0.25f, 0.32f, 1)
                                                                                   : ImVec4(0.20f, 0.29f, 0.42f, 1));
    if (ImGui::Button(label)) stepGoto(app, steps[std::size_t(i)]);
    ImGui::PopStyleColor();
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s\n%s", info.title, info.formula);
  }
  ImGui::SameLine();
  if (ImGui::ArrowButton("##next", ImGuiDir_Right)) stepNext(app);
  recordItemRect(app, "next");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Next step (→)");

  // Second line: play controls, then the step's formula.
  if (ImGui::Button(app.view.playing ? "■ Stop" : "▶ Play")) togglePlay(app);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Play through the steps (Space)");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(120 * ImGui::GetFontSize() / 16);
  float speed = app.view.playStepsPerSecond;
  if (ImGui::SliderFloat("##speed", &speed, 0.2f, 5.0f, "%.1f steps/s", ImGuiSliderFlags_Logarithmic))
    setPlaySpeed(app, speed);
  const StageInfo& info = stageInfo(current);
  ImGui::SameLine(0, 20);
  ImGui::PushFont(fonts().mono);
  ImGui::TextColored(ImVec4(0.55f, 0.85f, 1.0f, 1), "%s", info.formula);
  ImGui::PopFont();
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  ImGui::TextUnformatted(info.explanation);
  ImGui::PopStyleColor();
}

}  // namespace attnviz::gui
