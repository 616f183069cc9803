// The neuron view: for the hovered (else pinned) cell of the focused head, q_i, k_j and their
// elementwise product q ⊙ k as bars over the head's dimensions, then q·k (the sum of the last
// row), the scaled score and the softmax weight: the score's derivation made visible.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "cell_text.hpp"
#include "derivation.hpp"
#include "linked.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {

// One row of bars, centred on a zero line; blue above (positive), red below (negative). Returns
// the dimension under the mouse, or -1.
int barRow(const char* label, const std::vector<float>& values, float scale, float height) {
  ImDrawList* list = ImGui::GetWindowDrawList();
  const float fs = ImGui::GetFontSize();
  const float labelW = 3.2f * fs;
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const float width = std::max(40.0f, ImGui::GetContentRegionAvail().x - labelW);
  const float barW = width / float(values.size());
  const float mid = p0.y + height * 0.5f;
  list->AddText(ImVec2(p0.x, mid - fs * 0.5f), ImGui::GetColorU32(ImGuiCol_Text), label);
  const float x0 = p0.x + labelW;
  list->AddLine(ImVec2(x0, mid), ImVec2(x0 + width, mid), IM_COL32(110, 110, 110, 255));
  for (std::size_t c = 0; c < values.size(); ++c) {
    const float v = scale > 0 ? std::clamp(values[c] / scale, -1.0f, 1.0f) : 0;
    const float x = x0 + float(c) * barW;
    const float top = v >= 0 ? mid - v * height * 0.5f : mid, bottom = v >= 0 ? mid : mid - v * height * 0.5f;
    list->AddRectFilled(ImVec2(x + (barW > 3 ? 0.5f : 0), top), ImVec2(x + barW - (barW > 3 ? 0.5f : 0), bottom),
                        v >= 0 ? IM_COL32(90, 150, 230, 255) : IM_COL32(225, 95, 85, 255));
  }
  ImGui::Dummy(ImVec2(labelW + width, height));
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  if (ImGui::IsItemHovered() && mouse.x >= x0)
    return std::min(int(values.size()) - 1, int((mouse.x - x0) / barW));
  return -1;
}

void wrappedNote(const char* text) {
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  ImGui::TextWrapped("%s", text);
  ImGui::PopStyleColor();
}

float largestMagnitude(const std::vector<float>& v) {
  float m = 0;
  for (float x : v)
    if (std::isfinite(x)) m = std::max(m, std::fabs(x));
  return m;
}

}  // namespace

void drawNeuronView(AppState& app) {
  const Document& d = app.doc;
  const AttentionTrace& t = d.trace();
  if (t.head.empty()) return;
  const AttentionInputs& in = d.givenTrace ? d.prepared.inputs : d.front->inputs();
  if (in.q.rows() != t.n || in.k.rows() != t.m || in.q.cols() != t.dk || in.k.cols() != t.dk) {
    wrappedNote("no Q and K here (a bundle of weights alone)");
    return;
  }
  const ViewState& v = d.session.view;
  const bool hovered = app.hover.row >= 0 && app.hover.row < t.n && app.hover.col >= 0 && app.hover.col < t.m &&
                       stageColumnsAreKeys(StageId(v.step));
  const int i = hovered ? app.hover.row : v.selectedRow, j = hovered ? app.hover.col : v.selectedCol;
  const int h = hovered && app.hover.head >= 0 ? app.hover.head : focusHead(app);
  if (i < 0 || i >= t.n || j < 0 || j >= t.m || h < 0 || h >= t.heads) {
    wrappedNote("hover or pin a cell of a score or weight step");
    return;
  }
  const int dkh = t.headKeyWidth();
  const std::size_t width = static_cast<std::size_t>(dkh);
  std::vector<float> q(width), k(width), product(width);
  for (int c = 0; c < dkh; ++c) {
    q[std::size_t(c)] = in.q(i, h * dkh + c);
    k[std::size_t(c)] = in.k(j, h * dkh + c);
    product[std::size_t(c)] = q[std::size_t(c)] * k[std::size_t(c)];
  }
  const HeadTrace& ht = t.head[std::size_t(h)];
  ImGui::TextWrapped("head %d · query %d (%s) → key %d (%s)", h, i, queryLabel(d, i).c_str(), j, keyLabel(d, j).c_str());
  const float fs = ImGui::GetFontSize();
  const float qkScale = std::max(largestMagnitude(q), largestMagnitude(k));
  int under = -1;
  for (const auto& [label, values, scale] : {std::tuple{"q", &q, qkScale}, std::tuple{"k", &k, qkScale},
                                            std::tuple{"q ⊙ k", &product, largestMagnitude(product)}}) {
    const int c = barRow(label, *values, scale, 2.2f * fs);
    if (c >= 0) under = c;
  }
  if (under >= 0) {
    const std::size_t c = std::size_t(under);
    ImGui::SetTooltip("dimension %d of %d\nq = %s\nk = %s\nq·k term = %s", under, dkh, formatValue(q[c]).c_str(),
                      formatValue(k[c]).c_str(), formatValue(product[c]).c_str());
  }
  // The terms that decide the score, largest first.
  std::vector<int> order(width);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return std::fabs(product[std::size_t(a)]) > std::fabs(product[std::size_t(b)]); });
  std::string top = "largest terms:";
  for (int r = 0; r < std::min(dkh, 3); ++r)
    top += " c" + std::to_string(order[std::size_t(r)]) + " " + formatValue(product[std::size_t(order[std::size_t(r)])]);
  wrappedNote(top.c_str());
  const bool cosine = t.options.score == ScoreFunction::Cosine;
  ImGui::TextWrapped("%s = %s", cosine ? "cos(q, k)" : "q·k = Σ q ⊙ k", formatValue(ht.scores(i, j)).c_str());
  ImGui::TextWrapped("scaled s' = %s × %s = %s", formatValue(ht.scores(i, j)).c_str(), formatValue(ht.scale).c_str(),
              formatValue(ht.scaled.size() ? ht.scaled(i, j) : ht.scores(i, j) * ht.scale).c_str());
  ImGui::TextWrapped("softmax weight = %s%s", formatValue(ht.weights(i, j)).c_str(),
              isAllowed(t.options, t.n, t.m, i, j) ? "" : " (masked)");
}

}  // namespace attnviz::gui
