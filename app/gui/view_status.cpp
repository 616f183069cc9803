// The status bar: sizes, backend, compute time of the last update, frame rate, last message.
#include <imgui.h>

#include <algorithm>

#include "document.hpp"
#include "gpu_compare.hpp"
#include "model_actions.hpp"
#include "model_block.hpp"
#include "views.hpp"

namespace attnviz::gui {

void drawStatusBar(AppState& app) {
  const Document& d = app.doc;
  const AttentionTrace& t = d.trace();
  ImGui::Text("n=%d  m=%d  d_k=%d  d_v=%d  heads=%d", t.n, t.m, t.dk, t.dv, t.heads);
  if (const std::vector<std::string> whatIfs = modelWhatIfs(app); !whatIfs.empty()) {  // a what-if is never silent
    std::string list;
    for (const std::string& w : whatIfs) list += (list.empty() ? "" : ", ") + w;
    ImGui::SameLine(0, 24);
    ImGui::TextColored(ImVec4(1.0f, 0.62f, 0.2f, 1), "WHAT IF: %s (not the model's own numbers)", list.c_str());
  }
  ImGui::SameLine(0, 24);
  ImGui::TextDisabled("%s", activeBackendName(d).c_str());
  if (!d.gpu.note.empty()) {
    ImGui::SameLine();
    // The note is long (it carries the driver's reason); the full text is in the Options panel.
    const std::string& note = d.gpu.note;
    std::size_t cut = std::min<std::size_t>(note.size(), 90);
    while (cut < note.size() && cut > 0 && (static_cast<unsigned char>(note[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8 characters
    const std::string shown = cut < note.size() ? note.substr(0, cut) + "…" : note;
    ImGui::TextColored(ImVec4(1, 0.7f, 0.2f, 1), "%s", shown.c_str());
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", note.c_str());
  }
  ImGui::SameLine(0, 24);
  if (isComputing(d))
    ImGui::TextColored(ImVec4(1, 0.7f, 0.2f, 1), "computing…");
  else
    ImGui::Text("update %.2f ms", d.lastComputeMs);
  ImGui::SameLine(0, 24);
  ImGui::Text("%.0f fps (%.1f ms)", double(ImGui::GetIO().Framerate), app.lastFrameMs);
  if (d.unsaved) {
    ImGui::SameLine(0, 24);
    ImGui::TextDisabled("● unsaved");
  }
  if (!app.message.empty()) {
    ImGui::SameLine(0, 24);
    const double age = std::chrono::duration<double>(std::chrono::steady_clock::now() - app.messageTime).count();
    if (app.messageIsError || age < 8)
      ImGui::TextColored(app.messageIsError ? ImVec4(1, 0.45f, 0.45f, 1) : ImVec4(0.6f, 0.9f, 0.6f, 1), "%s",
                         app.message.c_str());
  }
}

}  // namespace attnviz::gui
