// The picture view (vision models): the picture the model saw with one query's attention over its
// patches: the selected head, the mean of the heads, every head, or the rollout up to the viewed
// layer. The query is the pinned row ([CLS] when none); clicking a patch pins it. Hovering a
// patch hovers its heatmap cell; a hovered heatmap cell outlines its query and key patches.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "actions.hpp"
#include "colormap_lut.hpp"
#include "figure/picture_overlay.hpp"
#include "gl_heatmap.hpp"
#include "linked.hpp"
#include "rollout.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {


void disabledWrapped(const std::string& text) {
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  ImGui::TextWrapped("%s", text.c_str());
  ImGui::PopStyleColor();
}

std::string shortNumber(float v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", double(v));
  return text;
}


// The rollout is a product of layers' matrices: kept until the pass, layer or fusion change (the
// pass is held, so a new one can never reuse the old one's address).
const Matrix& cachedRollout(const std::shared_ptr<const model::ForwardRecord>& record, int from, int layer,
                            model::HeadFusion fusion) {
  static std::shared_ptr<const model::ForwardRecord> forRecord;
  static int forFrom = -1, forLayer = -1;
  static model::HeadFusion forFusion = model::HeadFusion::Mean;
  static Matrix rollout;
  if (forRecord != record || forFrom != from || forLayer != layer || forFusion != fusion) {
    rollout = model::attentionRollout(*record, from, layer, fusion);
    forRecord = record;
    forFrom = from;
    forLayer = layer;
    forFusion = fusion;
  }
  return rollout;
}

// The engine's panels for the view's settings; the rollout is kept between frames.
std::vector<PicturePanel> viewPanels(const AppState& app, const model::PatchGrid& grid, int query) {
  const Document& d = app.doc;
  const PictureView& settings = app.doc.session.view.picture;
  PictureSelection selection;
  selection.query = query;
  selection.heads = settings.heads;
  selection.head = focusHead(app);
  selection.rollout = settings.rollout;
  selection.fusion = settings.fusion;
  selection.rolloutFrom = settings.rolloutFrom;
  const int layer = d.prepared.viewedLayer;
  const Matrix* rollout =
      settings.rollout ? &cachedRollout(d.prepared.forward, rolloutFirstLayer(selection, layer), layer, selection.fusion)
                       : nullptr;
  return picturePanels(d.trace(), grid, selection, rollout, d.prepared.viewedLayer);
}

void controls(AppState& app, const model::PatchGrid& grid, const Matrix& firstPanel) {
  PictureView p = app.doc.session.view.picture;
  const PictureView before = p;
  int heads = int(p.heads);
  ImGui::BeginDisabled(p.rollout);
  ImGui::RadioButton("selected head", &heads, int(PictureHeads::Selected));
  ImGui::SameLine();
  ImGui::RadioButton("mean", &heads, int(PictureHeads::Mean));
  ImGui::SameLine();
  ImGui::RadioButton("every head", &heads, int(PictureHeads::All));
  ImGui::EndDisabled();
  p.heads = PictureHeads(heads);
  ImGui::Checkbox("rollout", &p.rollout);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Attention rollout (Abnar & Zuidema 2020): each layer's heads fused, half the identity added\n"
                      "for the residual stream, rows renormalised, multiplied from layer 0 to the viewed layer.\n"
                      "It assumes the residual carries as much as attention; the MLPs are ignored.");
  if (p.rollout) {
    ImGui::SameLine();
    const char* fusions[] = {"mean", "max", "min"};
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 4.5f);
    int fusion = int(p.fusion);
    ImGui::Combo("heads fused", &fusion, fusions, 3);
    p.fusion = model::HeadFusion(fusion);
    const int layer = std::max(0, app.doc.prepared.viewedLayer);
    ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x * 0.45f);
    int from = std::min(p.rolloutFrom, layer);
    ImGui::SliderInt("from layer", &from, 0, layer, ("%d to " + std::to_string(layer)).c_str());
    p.rolloutFrom = std::clamp(from, 0, layer);
  }
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x * 0.45f);
  ImGui::SliderFloat("opacity", &p.opacity, 0.0f, 1.0f, "%.2f");
  ImGui::SameLine();
  ImGui::Checkbox("smooth", &p.smooth);
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x * 0.45f);
  float keepPercent = p.keep * 100;
  ImGui::SliderFloat("keep", &keepPercent, 0.0f, 100.0f, keepPercent <= 0 ? "all patches" : "%.0f%% of weight");
  p.keep = keepPercent / 100;
  if (p.keep > 0 && p.keep < 1) {
    const MaskMatrix kept = keptPatches(firstPanel, p.keep);
    ImGui::TextDisabled("%d of %d patches hold %.1f%% of the weight", int(kept.cast<int>().sum()), grid.rows * grid.cols,
                        100.0 * keptShare(firstPanel, kept));
  }
  if (!(p == before))
    setPictureView(app, p);
}

}  // namespace

std::uint64_t contentHash(const std::vector<std::uint8_t>& bytes) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::uint8_t b : bytes) h = (h ^ b) * 1099511628211ull;
  return h;
}

void drawPictureView(AppState& app) {
  const Document& d = app.doc;
  const PreparedSession& prepared = d.prepared;
  if (!prepared.picture || !prepared.forward || !prepared.forward->grid) return;
  const model::PatchGrid& grid = *prepared.forward->grid;
  const model::RgbImage& picture = *prepared.picture;
  const AttentionTrace& t = d.trace();
  if (t.head.empty() || t.n != grid.tokens() || t.m != grid.tokens() ||
      picture.width < grid.cols * grid.patch || picture.height < grid.rows * grid.patch) {
    ImGui::TextDisabled("the picture appears when the pass is done");
    return;
  }
  const int query = d.session.view.selectedRow >= 0 && d.session.view.selectedRow < t.n ? d.session.view.selectedRow : 0;
  const std::vector<PicturePanel> panels = viewPanels(app, grid, query);
  controls(app, grid, panels.front().values);
  ImGui::TextWrapped("where %s looks%s; click a patch to ask where it looks", grid.tokenName(query).c_str(),
                     query < int(grid.prefix.size()) ? "" : " (click it again for [CLS])");

  // One colour scale for every panel: [0, the largest value shown].
  OverlayOptions options;
  options.colormap = toFigureColormap(app.view.sequential);
  options.opacity = app.doc.session.view.picture.opacity;
  options.smooth = app.doc.session.view.picture.smooth;
  options.keep = app.doc.session.view.picture.keep;
  options.range = pictureRange(panels, options);

  const float s = ImGui::GetFontSize() / 16.0f;
  const float width = ImGui::GetContentRegionAvail().x;
  const int perRow = panels.size() == 1 ? 1 : std::clamp(int(width / (150 * s)), 1, 4);
  const float cellW = width / float(perRow) - (perRow > 1 ? 6 * s : 0);
  // Whole multiples of the picture's pixels when it is smaller than the space: every patch the
  // same size on screen, each pixel a square.
  const float fit = std::min(cellW / float(picture.width), (panels.size() == 1 ? 320 * s : cellW) / float(picture.height));
  const float zoom = fit >= 1 ? std::floor(fit) : fit;
  const ImVec2 size(float(picture.width) * zoom, float(picture.height) * zoom);
  const int prefix = int(grid.prefix.size());
  ImDrawList* list = ImGui::GetWindowDrawList();
  auto patchBox = [&](ImVec2 origin, int token, ImU32 colour, float thickness) {
    if (token < prefix || token >= grid.tokens()) return;
    const int r = (token - prefix) / grid.cols, c = (token - prefix) % grid.cols;
    const ImVec2 a(origin.x + float(c * grid.patch) * zoom, origin.y + float(r * grid.patch) * zoom);
    list->AddRect(a, ImVec2(a.x + float(grid.patch) * zoom, a.y + float(grid.patch) * zoom), colour, 0, 0, thickness);
  };
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const PicturePanel& panel = panels[i];
    if (i % std::size_t(perRow) != 0) ImGui::SameLine();
    ImGui::BeginGroup();
    if (panels.size() > 1) ImGui::TextUnformatted(panel.caption.c_str());
    const model::RgbImage shown = overlayPicture(picture, panel.values, grid.patch, options);
    const unsigned texture = pictureTexture("picture/" + std::to_string(i), contentHash(shown.pixels), shown.width,
                                            shown.height, [&] { return shown.pixels.data(); });
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(texture)), size);
    if (i == 0) recordItemRect(app, "picture");
    // The patch under the mouse: hover its cell in the heatmaps, click to make it the query.
    if (ImGui::IsItemHovered()) {
      const ImVec2 mouse = ImGui::GetIO().MousePos;
      const int x = int((mouse.x - origin.x) / zoom), y = int((mouse.y - origin.y) / zoom);
      if (x >= 0 && y >= 0 && x < grid.cols * grid.patch && y < grid.rows * grid.patch) {
        const int r = y / grid.patch, c = x / grid.patch, token = prefix + r * grid.cols + c;
        hoverCell(app, query, token, panel.head, false);
        ImGui::SetTooltip("patch (%d, %d) = %s\n%s from %s: %.4f", r, c, grid.tokenName(token).c_str(),
                          panel.caption.c_str(), grid.tokenName(query).c_str(), double(panel.values(r, c)));
        if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) pinCell(app, token, token);
      }
    }
    patchBox(origin, query, IM_COL32(255, 255, 255, 255), 2 * s);
    if (app.hover.row >= 0 && app.hover.col >= 0 && stageColumnsAreKeys(StageId(d.session.view.step))) {
      patchBox(origin, app.hover.row, IM_COL32(255, 210, 60, 255), 1.5f * s);
      patchBox(origin, app.hover.col, IM_COL32(80, 220, 255, 255), 1.5f * s);
    }
    if (panels.size() == 1) {
      disabledWrapped(panel.caption);
      disabledWrapped("colours: 0 to " + shortNumber(options.range->hi));
    }
    ImGui::EndGroup();
  }
  if (panels.size() > 1) disabledWrapped("one colour scale: 0 to " + shortNumber(options.range->hi));
  disabledWrapped("white: the query; yellow and blue: a hovered cell's query and key");
  if (ImGui::Button("Export figure…")) openFileChooser(app, FileChooser::Purpose::ExportPicture, "picture.png");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("PNG or SVG by the name's extension: what attnviz export --overlay writes");
}

}  // namespace attnviz::gui
