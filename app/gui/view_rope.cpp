// The RoPE step's linked panel: the hovered (or pinned) pair of dimensions of Q or K drawn as a
// 2-D vector before and after turning by θ = i · ω_c, with the angle and the numbers, why the
// rotated dot product depends on relative position only, and the what-if of RoPE switched off.
#include <imgui.h>

#include <algorithm>
#include <cmath>

#include "derivation.hpp"
#include "model_actions.hpp"
#include "steps.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {

void arrow(ImDrawList* list, ImVec2 from, ImVec2 to, ImU32 colour, float thickness) {
  list->AddLine(from, to, colour, thickness);
  const float dx = to.x - from.x, dy = to.y - from.y, len = std::sqrt(dx * dx + dy * dy);
  if (len < 1) return;
  const float ux = dx / len, uy = dy / len, head = std::min(12.0f, len * 0.35f);
  list->AddTriangleFilled(to, ImVec2(to.x - ux * head - uy * head * 0.5f, to.y - uy * head + ux * head * 0.5f),
                          ImVec2(to.x - ux * head + uy * head * 0.5f, to.y - uy * head - ux * head * 0.5f), colour);
}

// The cell the panel explains: the hovered one on the RoPE step, else the pinned one, else the
// last token's first pair.
void panelCell(const AppState& app, int& row, int& col, int& head) {
  const Document& d = app.doc;
  const ViewState& v = d.session.view;
  head = std::max(0, app.hover.head >= 0 ? app.hover.head : v.head);
  if (app.hover.row >= 0 && app.hover.col >= 0) {
    row = app.hover.row;
    col = app.hover.col;
  } else if (v.selectedRow >= 0) {
    row = v.selectedRow;
    col = std::max(0, v.selectedCol);
  } else {
    row = std::max(0, int(d.prepared.queryLabels.size()) - 1);
    col = 0;
  }
}

}  // namespace

void drawRopePanel(AppState& app) {
  const Document& d = app.doc;
  if (!modelIsRotary(app) || currentStep(d) != StageId::Rope) return;
  int row = 0, col = 0, head = 0;
  panelCell(app, row, col, head);
  const auto r = ropePair(d, head, row, col);
  if (!r) return;
  const char* x = r->key ? "k" : "q";
  ImGui::Text("%s of token %d “%s”, head %d", r->key ? "K" : "Q", row, queryLabel(d, row).c_str(), r->head);
  ImGui::TextDisabled("pair (%d, %d) of d_head %d · %s head %d", r->pair, r->partner, r->headDim,
                      r->key ? "K/V" : "reads K/V", r->kvHead);

  // The plane of the pair: x = dimension c, y = dimension c + d_head/2 (up).
  const float s = ImGui::GetFontSize() / 16.0f;
  const float side = std::min(ImGui::GetContentRegionAvail().x, 230 * s);
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImGui::Dummy(ImVec2(side, side));
  recordItemRect(app, "rope_plane");
  ImDrawList* list = ImGui::GetWindowDrawList();
  const ImVec2 c(p0.x + side / 2, p0.y + side / 2);
  list->AddRectFilled(p0, ImVec2(p0.x + side, p0.y + side), IM_COL32(24, 26, 32, 255));
  const ImU32 axis = IM_COL32(90, 90, 100, 255);
  list->AddLine(ImVec2(p0.x + 6, c.y), ImVec2(p0.x + side - 6, c.y), axis);
  list->AddLine(ImVec2(c.x, p0.y + 6), ImVec2(c.x, p0.y + side - 6), axis);
  char label[64];
  std::snprintf(label, sizeof label, "d%d", r->pair);
  list->AddText(ImVec2(p0.x + side - 8 - ImGui::CalcTextSize(label).x, c.y + 2), axis, label);
  std::snprintf(label, sizeof label, "d%d", r->partner);
  list->AddText(ImVec2(c.x + 4, p0.y + 4), axis, label);
  const float length = std::hypot(r->before[0], r->before[1]);
  const float radius = side * 0.40f, scale = length > 0 ? radius / length : 0;
  list->AddCircle(c, radius, IM_COL32(70, 70, 80, 255), 64);
  const ImVec2 before(c.x + r->before[0] * scale, c.y - r->before[1] * scale);
  const ImVec2 after(c.x + r->after[0] * scale, c.y - r->after[1] * scale);
  // The arc from the unrotated direction, counter-clockwise by θ (mod 2π).
  const double start = std::atan2(double(r->before[1]), double(r->before[0]));
  const double turn = std::fmod(r->theta, 2 * M_PI);
  const ImU32 arcColour = IM_COL32(255, 200, 90, 200);
  const int segments = std::max(2, int(turn / (2 * M_PI) * 64));
  for (int k = 0; k < segments; ++k) {
    const double a0 = start + turn * k / segments, a1 = start + turn * (k + 1) / segments;
    const float rr = radius * 0.35f;
    list->AddLine(ImVec2(c.x + float(std::cos(a0)) * rr, c.y - float(std::sin(a0)) * rr),
                  ImVec2(c.x + float(std::cos(a1)) * rr, c.y - float(std::sin(a1)) * rr), arcColour, 2.0f);
  }
  arrow(list, c, before, IM_COL32(150, 170, 200, 255), 2.0f * s);
  arrow(list, c, after, IM_COL32(255, 150, 50, 255), 3.0f * s);
  std::snprintf(label, sizeof label, "θ = %.1f°", r->theta * 180 / M_PI);
  list->AddText(ImVec2(p0.x + 6, p0.y + side - ImGui::GetFontSize() - 4), arcColour, label);

  ImGui::TextColored(ImVec4(0.6f, 0.67f, 0.8f, 1), "before (%s_%d,%d, %s_%d,%d) = (%s, %s)", x, row, r->pair, x, row,
                     r->partner, formatValue(r->before[0]).c_str(), formatValue(r->before[1]).c_str());
  ImGui::TextColored(ImVec4(1, 0.6f, 0.2f, 1), "after  = (%s, %s)", formatValue(r->after[0]).c_str(),
                     formatValue(r->after[1]).c_str());
  const double deg = r->theta * 180 / M_PI;
  ImGui::Text("θ = %d · ω_%d = %d · %s = %.3f rad = %.1f°", r->position, r->pair, r->position,
              formatValue(float(r->invFreq)).c_str(), r->theta, deg);
  if (deg >= 360) ImGui::TextDisabled("(%.1f° after whole turns)", std::fmod(deg, 360.0));
  ImGui::TextDisabled("length %s, unchanged by the turn", formatValue(length).c_str());
  ImGui::Spacing();
  ImGui::PushTextWrapPos(0);
  ImGui::TextUnformatted("Why relative position: q at position i turns by i·ω, k at position j by j·ω, in every pair.");
  ImGui::TextUnformatted("A dot product only sees the angle between two vectors, so q_i·k_j depends on (i − j)·ω: "
                         "how far apart the tokens are, not where they are.");
  ImGui::PopTextWrapPos();
  bool off = d.session.ropeOff;
  if (ImGui::Checkbox("what if RoPE were off (this layer's scores)", &off)) setRopeOff(app, off);
}

}  // namespace attnviz::gui
