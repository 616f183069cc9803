// Thumbnails of every head's attention weights; click one to select that head.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "actions.hpp"
#include "gl_heatmap.hpp"
#include "heatmap_panel.hpp"
#include "views.hpp"

namespace attnviz::gui {

void drawHeadsGrid(AppState& app) {
  const Document& d = app.doc;
  const int heads = d.trace().heads;
  if (d.trace().head.empty()) return;
  const float s = ImGui::GetFontSize() / 16.0f;
  const float width = ImGui::GetContentRegionAvail().x;
  const int perRow = std::clamp(int(width / (92 * s)), 1, 8);
  const float size = width / float(perRow) - 8 * s;
  for (int h = 0; h < heads; ++h) {
    const StepView sv = stepView(d, app.view, StageId::Weights, h);
    if (h % perRow != 0) ImGui::SameLine();
    ImGui::BeginGroup();
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const bool selected = d.session.view.head == h || d.session.view.head < 0;
    ImGui::PushID(h);
    if (ImGui::InvisibleButton("thumb", ImVec2(size, size))) selectHead(app, h);
    ImGui::PopID();
    PanelSpec spec;
    spec.values = sv.values;
    spec.range = sv.range;
    spec.texture = matrixTexture(sv.key, sv.revision, [&]() -> const Matrix& { return *sv.values; });
    applyPanelColourScale(spec, StageId::Weights, app.view.colourScale, sv.key, sv.revision, sv.range);
    spec.valueText = false;
    spec.colourBar = false;
    spec.pinRow = d.session.view.selectedRow;
    spec.pinCol = d.session.view.selectedCol;
    HeatmapCamera cam;
    const PanelLayout L = layoutPanel(spec, p, ImVec2(p.x + size, p.y + size), cam);
    ImDrawList* list = ImGui::GetWindowDrawList();
    drawPanel(list, spec, L);
    app.widgetRects["thumb:" + std::to_string(h)] = {L.areaMin.x, L.areaMin.y, L.areaMax.x, L.areaMax.y};
    list->AddRect(ImVec2(p.x - 2, p.y - 2), ImVec2(L.areaMax.x + 2, L.areaMax.y + 2),
                  d.session.view.head == h ? IM_COL32(80, 160, 255, 255) : IM_COL32(70, 70, 70, 255), 0, 0,
                  d.session.view.head == h ? 2.5f : 1.0f);
    ImGui::Text("%shead %d", selected && d.session.view.head == h ? "▶ " : "", h);
    ImGui::EndGroup();
  }
  ImGui::TextDisabled("softmax weights · click to select a head");
}

}  // namespace attnviz::gui
