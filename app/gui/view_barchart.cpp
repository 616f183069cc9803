// The selected query row's attention weights as a bar chart, one bar per key.
#include <imgui.h>

#include <algorithm>

#include "actions.hpp"
#include "derivation.hpp"
#include "linked.hpp"
#include "views.hpp"

namespace attnviz::gui {

int focusRow(const AppState& app) {
  const int n = app.doc.trace().n;
  int r = app.doc.session.view.selectedRow >= 0 ? app.doc.session.view.selectedRow : app.hover.row;
  return std::clamp(r, 0, std::max(0, n - 1));
}

int focusHead(const AppState& app) {
  return std::clamp(app.doc.session.view.head, 0, std::max(0, app.doc.trace().heads - 1));
}

void drawBarChart(AppState& app) {
  const Document& d = app.doc;
  const AttentionTrace& t = d.trace();
  if (t.head.empty()) return;
  const int row = focusRow(app), head = focusHead(app);
  const HeadTrace& h = t.head[std::size_t(head)];
  ImGui::Text("query %d “%s”, head %d", row, queryLabel(d, row).c_str(), head);
  if (d.session.view.selectedRow < 0) {
    ImGui::SameLine();
    ImGui::TextDisabled("(click a cell to pin a row)");
  }
  const float s = ImGui::GetFontSize() / 16.0f;
  const int m = t.m;
  const float barH = std::clamp(280.0f * s / float(std::max(m, 1)), 3.0f, ImGui::GetFontSize() + 2);
  const bool labels = barH >= ImGui::GetFontSize();
  const float labelW = labels ? 90 * s : 0;
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const float width = ImGui::GetContentRegionAvail().x;
  const float barMax = width - labelW - 60 * s;
  ImDrawList* list = ImGui::GetWindowDrawList();
  const ImGuiIO& io = ImGui::GetIO();
  const int pinCol = d.session.view.selectedCol;
  for (int j = 0; j < m; ++j) {
    const float y = p0.y + float(j) * barH;
    const float w = h.weights(row, j) * barMax;
    const bool masked = !isAllowed(t.options, t.n, t.m, row, j);
    const bool hot = j == pinCol || j == app.hover.col;
    if (labels) {
      const std::string k = keyLabel(d, j);
      const float tw = std::min(ImGui::CalcTextSize(k.c_str()).x, labelW - 6);
      list->PushClipRect(ImVec2(p0.x, y), ImVec2(p0.x + labelW - 4, y + barH), true);
      list->AddText(ImVec2(p0.x + labelW - 6 - tw, y), hot ? IM_COL32(255, 210, 60, 255) : ImGui::GetColorU32(ImGuiCol_Text), k.c_str());
      list->PopClipRect();
    }
    const ImVec2 a(p0.x + labelW, y + 1), b(p0.x + labelW + std::max(w, 1.0f), y + barH - 1);
    list->AddRectFilled(a, b, masked ? IM_COL32(110, 110, 110, 255) : hot ? IM_COL32(255, 200, 60, 255) : IM_COL32(80, 150, 230, 255));
    if (labels) {
      char buf[24];
      std::snprintf(buf, sizeof buf, masked ? "masked" : "%.3f", double(h.weights(row, j)));
      list->AddText(ImVec2(b.x + 4, y), ImGui::GetColorU32(ImGuiCol_TextDisabled), buf);
    }
    if (ImGui::IsWindowHovered() && io.MousePos.y >= y && io.MousePos.y < y + barH && io.MousePos.x >= p0.x &&
        io.MousePos.x < p0.x + width) {
      hoverCell(app, row, j, head, false);
      if (ImGui::IsMouseClicked(0)) pinCell(app, row, j);
    }
  }
  ImGui::Dummy(ImVec2(width, float(m) * barH + 4));
}

}  // namespace attnviz::gui
