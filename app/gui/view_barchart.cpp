// The selected query row's attention weights as a bar chart, one bar per key.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

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

namespace {

constexpr int kMostBars = 48;     // beyond this many keys the bars are too thin to read: a plot
constexpr int kTopKeysLabelled = 5;

// Weights over key positions as a line, the top keys marked and listed, in a fixed height so the
// linked views below stay on screen however long the sequence.
void drawWeightPlot(AppState& app, const HeadTrace& h, int row, int head) {
  const Document& d = app.doc;
  const AttentionTrace& t = d.trace();
  const int m = t.m;
  const float s = ImGui::GetFontSize() / 16.0f, fs = ImGui::GetFontSize();
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const float width = ImGui::GetContentRegionAvail().x;
  const float axisW = ImGui::CalcTextSize("0.000").x + 8 * s, plotH = 120 * s;
  const ImVec2 a(p0.x + axisW, p0.y + fs * 0.5f), b(p0.x + width - 8 * s, p0.y + fs * 0.5f + plotH);
  float top = 0;
  for (int j = 0; j < m; ++j) top = std::max(top, h.weights(row, j));
  if (top <= 0) top = 1;
  auto x = [&](float j) { return a.x + (b.x - a.x) * (m > 1 ? j / float(m - 1) : 0.5f); };
  auto y = [&](float w) { return b.y - (b.y - a.y) * std::clamp(w / top, 0.0f, 1.0f); };
  ImDrawList* list = ImGui::GetWindowDrawList();
  const ImU32 grid = IM_COL32(90, 90, 100, 255), text = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  list->AddRect(a, b, grid);
  list->AddText(ImVec2(p0.x, a.y - fs * 0.5f), text, formatValue(top).c_str());
  list->AddText(ImVec2(p0.x + axisW - ImGui::CalcTextSize("0").x - 6 * s, b.y - fs * 0.5f), text, "0");
  // One vertex per key when they fit in the width, else each pixel column's maximum, so a peak
  // between two drawn keys is never lost.
  const int columns = std::max(2, int(b.x - a.x));
  std::vector<ImVec2> line;
  if (m <= columns) {
    for (int j = 0; j < m; ++j)
      if (isAllowed(t.options, t.n, t.m, row, j)) line.push_back(ImVec2(x(float(j)), y(h.weights(row, j))));
  } else {
    for (int c = 0; c < columns; ++c) {
      const int j0 = c * m / columns, j1 = std::max(j0 + 1, (c + 1) * m / columns);
      float w = 0;
      for (int j = j0; j < j1; ++j) w = std::max(w, h.weights(row, j));
      line.push_back(ImVec2(a.x + float(c), y(w)));
    }
  }
  list->AddPolyline(line.data(), int(line.size()), IM_COL32(80, 150, 230, 255), 0, 1.5f);
  // The top keys: numbered markers on the line, listed below with their tokens and weights.
  std::vector<int> order;
  for (int j = 0; j < m; ++j)
    if (isAllowed(t.options, t.n, t.m, row, j)) order.push_back(j);
  const int k = std::min<int>(kTopKeysLabelled, int(order.size()));
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int p, int q) { return h.weights(row, p) > h.weights(row, q); });
  const int pinCol = d.session.view.selectedCol;
  for (int r = 0; r < k; ++r) {
    const int j = order[std::size_t(r)];
    const ImVec2 pt(x(float(j)), y(h.weights(row, j)));
    list->AddCircleFilled(pt, 3.5f * s, IM_COL32(255, 200, 60, 255));
    const std::string tag = std::to_string(r + 1);
    list->AddText(ImVec2(std::min(pt.x + 4 * s, b.x - fs), std::max(a.y, pt.y - fs)), IM_COL32(255, 210, 60, 255), tag.c_str());
  }
  for (int marked : {pinCol, app.hover.col})
    if (marked >= 0 && marked < m) list->AddLine(ImVec2(x(float(marked)), a.y), ImVec2(x(float(marked)), b.y), IM_COL32(255, 255, 255, 140));
  const ImGuiIO& io = ImGui::GetIO();
  ImGui::SetCursorScreenPos(a);
  ImGui::InvisibleButton("##weightplot", ImVec2(std::max(1.0f, b.x - a.x), plotH));
  recordItemRect(app, "weight-plot");
  if (ImGui::IsItemHovered() && m > 0) {
    const int j = std::clamp(int(std::lround((io.MousePos.x - a.x) / std::max(1.0f, b.x - a.x) * float(m - 1))), 0, m - 1);
    hoverCell(app, row, j, head, false);
    if (ImGui::IsItemClicked()) pinCell(app, row, j);
  }
  ImGui::SetCursorScreenPos(ImVec2(p0.x, b.y + 4 * s));
  ImGui::TextDisabled("key position 0 … %d", m - 1);
  for (int r = 0; r < k; ++r) {
    const int j = order[std::size_t(r)];
    ImGui::Text("%d. key %d “%s”  %s", r + 1, j, keyLabel(d, j).c_str(), formatValue(h.weights(row, j)).c_str());
  }
  recordItemRect(app, "weight-plot-top-keys");
}

}  // namespace

void drawBarChart(AppState& app) {
  const Document& d = app.doc;
  const AttentionTrace& t = d.trace();
  if (t.head.empty()) return;
  const int row = focusRow(app), head = focusHead(app);
  const HeadTrace& h = t.head[std::size_t(head)];
  ImGui::Text("query %d “%s”, head %d", row, queryLabel(d, row).c_str(), head);
  if (d.session.view.selectedRow < 0) ImGui::TextDisabled("(click a cell to pin a row)");
  const float s = ImGui::GetFontSize() / 16.0f;
  const int m = t.m;
  if (m > kMostBars) {
    drawWeightPlot(app, h, row, head);
    return;
  }
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
