// The lines view: queries on the left, keys on the right, one line per pair with opacity equal
// to the attention weight. Hovering a token keeps only its lines; a threshold hides faint ones.
#include <imgui.h>

#include <algorithm>

#include "actions.hpp"
#include "derivation.hpp"
#include "linked.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {
constexpr int kMaxTokens = 160;  // beyond this the lines are a grey blur; the heatmap says more
}

void drawLinesView(AppState& app) {
  const Document& d = app.doc;
  const AttentionTrace& t = d.trace();
  if (t.head.empty()) return;
  const int head = focusHead(app);
  const HeadTrace& h = t.head[std::size_t(head)];
  ImGui::SetNextItemWidth(150 * ImGui::GetFontSize() / 16);
  float threshold = app.view.linesThreshold;
  if (ImGui::SliderFloat("threshold", &threshold, 0.0f, 0.5f, "%.2f")) setLinesThreshold(app, threshold);
  if (t.n > kMaxTokens || t.m > kMaxTokens) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("%d × %d tokens: too many for lines; use the heatmap", t.n, t.m);
    ImGui::PopStyleColor();
    return;
  }
  const float s = ImGui::GetFontSize() / 16.0f;
  const int rows = std::max(t.n, t.m);
  const float rowH = std::clamp(260.0f * s / float(rows), 4.0f, ImGui::GetFontSize() + 3);
  const bool labels = rowH >= ImGui::GetFontSize();
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const float width = ImGui::GetContentRegionAvail().x;
  const float labelW = labels ? 84 * s : 8;
  const float xq = p0.x + labelW, xk = p0.x + width - labelW;
  auto yq = [&](int i) { return p0.y + (float(i) + 0.5f) * rowH * float(rows) / float(t.n); };
  auto yk = [&](int j) { return p0.y + (float(j) + 0.5f) * rowH * float(rows) / float(t.m); };
  const ImGuiIO& io = ImGui::GetIO();
  // A token under the mouse filters the lines to its own.
  int fq = -1, fk = -1;
  if (ImGui::IsWindowHovered() && io.MousePos.y >= p0.y && io.MousePos.y < p0.y + rowH * float(rows)) {
    if (io.MousePos.x < xq + 4 && io.MousePos.x >= p0.x) fq = std::clamp(int((io.MousePos.y - p0.y) / (rowH * rows / t.n)), 0, t.n - 1);
    if (io.MousePos.x > xk - 4 && io.MousePos.x < p0.x + width) fk = std::clamp(int((io.MousePos.y - p0.y) / (rowH * rows / t.m)), 0, t.m - 1);
  }
  const int pinRow = d.session.view.selectedRow;
  if (fq < 0 && fk < 0 && pinRow >= 0) fq = pinRow;
  ImDrawList* list = ImGui::GetWindowDrawList();
  for (int i = 0; i < t.n; ++i) {
    if (fq >= 0 && i != fq) continue;
    for (int j = 0; j < t.m; ++j) {
      if (fk >= 0 && j != fk) continue;
      const float w = h.weights(i, j);
      if (w < app.view.linesThreshold || w <= 0) continue;
      list->AddLine(ImVec2(xq, yq(i)), ImVec2(xk, yk(j)), IM_COL32(90, 170, 255, int(std::clamp(w, 0.04f, 1.0f) * 255)),
                    1.0f + 2.5f * w);
    }
  }
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text), hot = IM_COL32(255, 210, 60, 255);
  for (int i = 0; i < t.n; ++i) {
    list->AddCircleFilled(ImVec2(xq, yq(i)), 2.5f, i == fq ? hot : text);
    if (labels) {
      const std::string q = queryLabel(d, i);
      const float tw = std::min(ImGui::CalcTextSize(q.c_str()).x, labelW - 8);
      list->PushClipRect(ImVec2(p0.x, p0.y), ImVec2(xq - 5, p0.y + rowH * rows), true);
      list->AddText(ImVec2(xq - 6 - tw, yq(i) - ImGui::GetFontSize() * 0.5f), i == fq ? hot : text, q.c_str());
      list->PopClipRect();
    }
  }
  for (int j = 0; j < t.m; ++j) {
    list->AddCircleFilled(ImVec2(xk, yk(j)), 2.5f, j == fk ? hot : text);
    if (labels) list->AddText(ImVec2(xk + 6, yk(j) - ImGui::GetFontSize() * 0.5f), j == fk ? hot : text, keyLabel(d, j).c_str());
  }
  ImGui::Dummy(ImVec2(width, rowH * float(rows) + 4));
  ImGui::TextDisabled("head %d · hover a token to isolate its lines", head);
}

}  // namespace attnviz::gui
