// Per-row statistics of the attention weights: entropy, max weight and the key it goes to.
#include <imgui.h>

#include <algorithm>
#include <cmath>

#include "actions.hpp"
#include "derivation.hpp"
#include "linked.hpp"
#include "views.hpp"

namespace attnviz::gui {

void drawStatsTable(AppState& app) {
  const Document& d = app.doc;
  const AttentionTrace& t = d.trace();
  if (t.head.empty()) return;
  const int head = focusHead(app);
  const RowStats& st = t.head[std::size_t(head)].stats;
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  ImGui::TextWrapped("head %d · entropy in nats (uniform over m keys = ln m = %.2f)", head,
                     std::log(double(std::max(1, t.m))));
  ImGui::PopStyleColor();
  const float h = std::min(ImGui::GetTextLineHeightWithSpacing() * float(t.n + 1) + 10, 300.0f);
  if (!ImGui::BeginTable("stats", 4, ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV,
                         ImVec2(0, h)))
    return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn("query");
  ImGui::TableSetupColumn("entropy");
  ImGui::TableSetupColumn("max");
  ImGui::TableSetupColumn("argmax");
  ImGui::TableHeadersRow();
  ImGuiListClipper clip;
  clip.Begin(t.n);
  while (clip.Step()) {
    for (int i = clip.DisplayStart; i < clip.DisplayEnd; ++i) {
      ImGui::TableNextRow();
      if (i == d.session.view.selectedRow)
        ImGui::TableSetBgColor(ImGuiTableBgTarget_RowBg0, IM_COL32(120, 90, 20, 200));
      ImGui::TableNextColumn();
      const std::string label = std::to_string(i) + " " + queryLabel(d, i);
      if (ImGui::Selectable(label.c_str(), false, ImGuiSelectableFlags_SpanAllColumns))
        pinCell(app, i, st.argmax(i) >= 0 ? st.argmax(i) : 0);
      ImGui::TableNextColumn();
      if (st.fullyMasked[std::size_t(i)]) {
        ImGui::TextDisabled("fully masked");
        continue;
      }
      ImGui::Text("%.3f", double(st.entropy(i)));
      ImGui::TableNextColumn();
      ImGui::Text("%.3f", double(st.maxWeight(i)));
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(keyLabel(d, st.argmax(i)).c_str());
    }
  }
  ImGui::EndTable();
}

}  // namespace attnviz::gui
