// The main heatmap: the current step's matrix for the selected head (or all heads side by side),
// with zoom, pan, fit, hover tooltips that derive the value, and click to pin.
#include <imgui.h>

#include <algorithm>
#include <cmath>

#include "actions.hpp"
#include "derivation.hpp"
#include "document.hpp"
#include "fonts.hpp"
#include "gl_heatmap.hpp"
#include "heatmap_panel.hpp"
#include "image/image.hpp"
#include "model_actions.hpp"
#include "steps.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {

void drawTooltip(AppState& app, StageId step, int head, int row, int col, ImVec2 cellMax, ImVec2 cellMin) {
  const Document& d = app.doc;
  const AttentionTrace& t = d.trace();
  const bool keyCol = stageColumnsAreKeys(step);
  // Placed beside the cell (not at the mouse) so scripted hovers look the same as real ones.
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const bool leftSide = cellMax.x > display.x * 0.55f;
  const bool above = cellMax.y > display.y * 0.6f;
  ImGui::SetNextWindowPos(ImVec2(leftSide ? cellMin.x - 8 : cellMax.x + 8, above ? cellMin.y - 4 : cellMax.y + 4),
                          ImGuiCond_Always, ImVec2(leftSide ? 1.0f : 0.0f, above ? 1.0f : 0.0f));
  ImGui::BeginTooltip();
  const std::string q = queryLabel(d, row);
  const std::string k = keyCol ? keyLabel(d, col) : "d" + std::to_string(col);
  ImGui::TextColored(ImVec4(1, 0.85f, 0.35f, 1), "query %d “%s”  →  %s %d %s%s%s", row, q.c_str(),
                     keyCol ? "key" : "dimension", col, keyCol ? "“" : "(", k.c_str(), keyCol ? "”" : ")");
  if (t.heads > 1 && stageIsPerHead(step)) {
    ImGui::SameLine();
    ImGui::TextDisabled("head %d", head);
  }
  if (const auto& grid = d.prepared.forward ? d.prepared.forward->grid : std::nullopt;
      grid && int(d.prepared.queryLabels.size()) == grid->tokens()) {
    // A vision model's tokens are patches: where each lies in the grid.
    auto where = [&](int token) {
      const int p = token - int(grid->prefix.size());
      if (p < 0) return std::string("a learned token, no patch");
      return "patch (row " + std::to_string(p / grid->cols) + ", column " + std::to_string(p % grid->cols) + ")";
    };
    const std::string text = "query: " + where(row) + (keyCol ? ";  key: " + where(col) : std::string());
    ImGui::TextDisabled("%s", text.c_str());
  }
  ImGui::Separator();
  ImGui::PushFont(fonts().mono);
  // T toggles every term of the long sums (the same setting as Options ▸ every term).
  if (!ImGui::GetIO().WantTextInput && !ImGui::GetIO().KeyCtrl && ImGui::IsKeyPressed('T', false))
    setViewToggle(app, ViewToggle::AllTerms, !viewToggle(app, ViewToggle::AllTerms));
  for (const std::string& line : deriveCell(d, step, head, row, col, app.view.allTerms))
    ImGui::TextUnformatted(line.c_str());
  ImGui::PopFont();
  if (keyCol && step == StageId::Weights && row < t.n) {
    const HeadTrace& h = t.head[std::size_t(std::clamp(head, 0, t.heads - 1))];
    if (!h.stats.fullyMasked[std::size_t(row)]) {
      ImGui::TextDisabled("row %d: entropy %.3f nats, max weight %.3f at “%s”", row, double(h.stats.entropy(row)),
                          double(h.stats.maxWeight(row)), keyLabel(d, h.stats.argmax(row)).c_str());
    }
  }
  ImGui::TextDisabled("click to pin, wheel to zoom, drag to pan, double-click to fit");
  ImGui::EndTooltip();
}

// A vision model's picture for the axes, when the step's rows are its tokens; null otherwise.
const AxisPicture* axisPicture(const Document& d, StageId step, AxisPicture& out) {
  const PreparedSession& p = d.prepared;
  if (!p.picture || !p.forward || !p.forward->grid || p.picture->pixels.empty()) return nullptr;
  const model::PatchGrid& grid = *p.forward->grid;
  if (int(d.prepared.queryLabels.size()) != grid.tokens()) return nullptr;
  const model::RgbImage& picture = *p.picture;
  out.grid = &grid;
  out.width = picture.width;
  out.height = picture.height;
  out.rows = true;
  out.cols = stageColumnsAreKeys(step);
  out.texture = pictureTexture("axis-picture", contentHash(picture.pixels), picture.width, picture.height,
                               [&] { return picture.pixels.data(); });
  return &out;
}

// One panel: layout, mouse interaction, drawing. Returns the layout for the caller's records.
PanelLayout panel(AppState& app, StageId step, int head, ImVec2 min, ImVec2 max, bool labels, bool interactive,
                  HeatmapCamera& camera, const char* id, const StepRange* sharedRange = nullptr) {
  Document& d = app.doc;
  const StepView sv = stepView(d, app.view, step, head);
  static std::vector<std::string> cols;
  cols = columnLabels(d, step);
  PanelSpec spec;
  spec.values = sv.values;
  spec.range = sharedRange ? *sharedRange : sv.range;
  spec.anyMasked = sv.anyMasked;
  spec.texture = matrixTexture(sv.key, sv.revision, [&]() -> const Matrix& { return *sv.values; });
  applyPanelColourScale(spec, step, app.view.colourScale, sv.key, sv.revision, spec.range);
  spec.rowLabels = labels ? &d.prepared.queryLabels : nullptr;
  spec.colLabels = labels ? &cols : nullptr;
  static AxisPicture thumbnails;
  spec.thumbnails = labels ? axisPicture(d, step, thumbnails) : nullptr;
  spec.valueText = app.view.showValues;
  spec.colourBar = labels;
  if (step == StageId::RowSum && labels)
    spec.rowSums = &d.trace().head[std::size_t(std::clamp(head, 0, d.trace().heads - 1))].rowSum;
  const ViewState& v = d.session.view;
  const bool keyCols = stageColumnsAreKeys(step);
  spec.pinRow = v.selectedRow;
  spec.pinCol = keyCols ? v.selectedCol : -1;
  spec.rowDivider = sentenceBStart(app);
  spec.colDivider = keyCols ? spec.rowDivider : -1;
  const bool hoverHere = app.hover.head == head || app.hover.head < 0 || !stageIsPerHead(step);
  if (hoverHere) {
    spec.hoverRow = app.hover.row;
    spec.hoverCol = app.hover.col;
  }
  PanelLayout L = layoutPanel(spec, min, max, camera);

  ImDrawList* list = ImGui::GetWindowDrawList();
  if (interactive) {
    ImGui::SetCursorScreenPos(L.areaMin);
    const ImVec2 size(std::max(1.0f, L.areaMax.x - L.areaMin.x), std::max(1.0f, L.areaMax.y - L.areaMin.y));
    ImGui::InvisibleButton(id, size);
    const ImGuiIO& io = ImGui::GetIO();
    int r = -1, c = -1;
    const bool onCell = ImGui::IsItemHovered() && cellAt(spec, L, io.MousePos, &r, &c);
    if (onCell) hoverCell(app, r, c, head, false);
    if (ImGui::IsItemHovered() && io.MouseWheel != 0 && &camera == &app.camera) {
      const float ac = (io.MousePos.x - L.origin.x) / L.cellW, ar = (io.MousePos.y - L.origin.y) / L.cellH;
      zoomView(app, std::pow(1.2f, io.MouseWheel), ac, ar);
    }
    if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left, 4) && &camera == &app.camera) {
      panView(app, -io.MouseDelta.x / L.cellW, -io.MouseDelta.y / L.cellH);
    }
    if (ImGui::IsItemHovered() && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) fitView(app);
    else if (ImGui::IsItemDeactivated() && onCell &&
             std::hypot(io.MousePos.x - io.MouseClickedPos[0].x, io.MousePos.y - io.MouseClickedPos[0].y) < 4) {
      if (app.view.paintMask && step == StageId::Masked) toggleMaskCell(app, r, keyCols ? c : -1);
      else pinCell(app, r, keyCols ? c : -1);
    }
  }
  drawPanel(list, spec, L);
  if (interactive && L.rowThumbnails > 0) {
    // For the GUI tests: where the cells and the row thumbnails' band are.
    app.widgetRects["heatmap-cells"] = {L.origin.x, L.origin.y, L.areaMax.x, L.areaMax.y};
    app.widgetRects["heatmap-row-thumbnails"] = {L.areaMin.x - L.rowThumbnails - 2, L.areaMin.y, L.areaMin.x - 2, L.areaMax.y};
  }
  if (hoverHere && app.hover.row >= 0 && app.hover.row < spec.values->rows() && app.hover.col >= 0 &&
      app.hover.col < spec.values->cols() && (interactive || app.hover.fromScript)) {
    const ImVec2 cmin(L.origin.x + app.hover.col * L.cellW, L.origin.y + app.hover.row * L.cellH);
    const ImVec2 cmax(cmin.x + L.cellW, cmin.y + L.cellH);
    if (cmax.x > L.areaMin.x && cmin.x < L.areaMax.x && cmax.y > L.areaMin.y && cmin.y < L.areaMax.y)
      drawTooltip(app, step, head < 0 ? 0 : head, app.hover.row, app.hover.col, cmax, cmin);
  }
  return L;
}

// The engine reports no progress, so the bar estimates it from the previous worker run's pace
// (time per n·m cell); without one it sweeps, to show the UI is alive.
void drawProgress(const Document& d) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - d.jobStart).count();
  float fraction = float(std::fmod(secs, 1.0));
  char label[64] = "computing…";
  const auto& runs = d.workerRuns;
  if (runs.size() >= 2 && runs[runs.size() - 2].ms > 0 && runs.back().endFrame < 0) {
    const auto& prev = runs[runs.size() - 2];
    const double estimateMs = prev.ms * double(runs.back().n * runs.back().m) / double(std::max(1L, prev.n * prev.m));
    fraction = float(std::min(0.95, secs * 1000 / std::max(1.0, estimateMs)));
    std::snprintf(label, sizeof label, "about %.0f%%", double(fraction) * 100);
  }
  const float s = ImGui::GetFontSize() / 16.0f;
  ImGui::ProgressBar(fraction, ImVec2(180 * s, 0), label);
  ImGui::SameLine();
  const long n = runs.empty() ? 0 : runs.back().n, m = runs.empty() ? 0 : runs.back().m;
  ImGui::TextColored(ImVec4(1, 0.7f, 0.2f, 1), "computing %ld × %ld on a worker thread, %.1f s — the views show the previous result (stale)",
                     n, m, secs);
}

const ImVec4 kWhatIfColour(1.0f, 0.62f, 0.2f, 1);

const char* ropeShownTitle(RopeShown shown) {
  switch (shown) {
    case RopeShown::QueryRotated: return "Q after the rotation";
    case RopeShown::KeyRotated: return "K after the rotation";
    case RopeShown::QueryUnrotated: return "Q before the rotation";
    case RopeShown::KeyUnrotated: return "K before the rotation";
  }
  return "";
}

// The head radio buttons; with grouped-query attention grouped by the K/V head they read
// ("kv1: 2 3"), tinted alike, the group's label clickable to outline its heads everywhere.
// The toolbar wraps onto another line rather than running past the panel's edge (small
// windows, eight or more heads): the next widget, `width` wide, stays on this line if it fits.
void sameLineIfRoom(float width) {
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  if (ImGui::GetItemRectMax().x + ImGui::GetStyle().ItemSpacing.x + width <= right) ImGui::SameLine();
}

void drawHeadSelector(AppState& app, int heads) {
  const ViewState& v = app.doc.session.view;
  const int kvHeads = kvHeadCount(app);
  const bool grouped = kvHeads > 0 && kvHeads < heads;
  ImGui::SameLine();
  if (ImGui::RadioButton("all##h", v.head == -1)) selectHead(app, -1);
  for (int h = 0; h < heads; ++h) {
    const int kv = grouped ? kvHeadOf(app, h) : -1;
    if (grouped && (h == 0 || kvHeadOf(app, h - 1) != kv)) {
      ImGui::SameLine(0, 10);
      char kvLabel[24];
      std::snprintf(kvLabel, sizeof kvLabel, "kv%d:##kv%d", kv, kv);
      const bool lit = app.view.highlightKvHead == kv;
      ImGui::PushStyleColor(ImGuiCol_Text, ImGui::ColorConvertU32ToFloat4(kvGroupColour(kv, lit ? 1.0f : 0.8f)));
      if (ImGui::Selectable(kvLabel, lit, 0, ImGui::CalcTextSize("kv00:"))) highlightKvHead(app, lit ? -1 : kv);
      ImGui::PopStyleColor();
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("K/V head %d: query heads %s read its K and V\nclick to outline them here and in the overview",
                          kv, queryHeadsOf(app, kv).c_str());
    }
    sameLineIfRoom(ImGui::GetFrameHeight() + ImGui::GetStyle().ItemInnerSpacing.x + ImGui::CalcTextSize("00").x);
    char label[16];
    std::snprintf(label, sizeof label, "%d##h", h);
    if (grouped) {
      const float strength = app.view.highlightKvHead == kv ? 0.75f : 0.4f;
      ImGui::PushStyleColor(ImGuiCol_FrameBg, ImGui::ColorConvertU32ToFloat4(kvGroupColour(kv, strength)));
      ImGui::PushStyleColor(ImGuiCol_FrameBgHovered, ImGui::ColorConvertU32ToFloat4(kvGroupColour(kv, 0.9f)));
    }
    if (ImGui::RadioButton(label, v.head == h)) selectHead(app, h);
    if (grouped) {
      ImGui::PopStyleColor(2);
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("query head %d reads K/V head %d (shared by query heads %s)", h, kv, queryHeadsOf(app, kv).c_str());
    }
  }
}

// The RoPE step's operand (Q | K, rotated | unrotated) and the what-if of the layer without RoPE.
void drawRopeControls(AppState& app, StageId step) {
  if (!modelIsRotary(app) || (stageInfo(step).needsModel && step != StageId::Rope)) return;
  const Document& d = app.doc;
  if (step == StageId::Rope) {
    const RopeShown shown = d.session.view.rope;
    const bool key = shown == RopeShown::KeyRotated || shown == RopeShown::KeyUnrotated;
    const bool rotated = shown == RopeShown::QueryRotated || shown == RopeShown::KeyRotated;
    const auto pick = [&](bool k, bool r) {
      setRopeShown(app, k ? (r ? RopeShown::KeyRotated : RopeShown::KeyUnrotated)
                          : (r ? RopeShown::QueryRotated : RopeShown::QueryUnrotated));
    };
    ImGui::TextUnformatted("show");
    ImGui::SameLine();
    if (ImGui::RadioButton("Q##rope", !key)) pick(false, rotated);
    ImGui::SameLine();
    if (ImGui::RadioButton("K##rope", key)) pick(true, rotated);
    ImGui::SameLine();
    ImGui::TextDisabled("|");
    ImGui::SameLine();
    if (ImGui::RadioButton("rotated##rope", rotated)) pick(key, true);
    ImGui::SameLine();
    if (ImGui::RadioButton("unrotated##rope", !rotated)) pick(key, false);
    ImGui::SameLine(0, 24);
  }
  bool off = d.session.ropeOff;
  if (off) ImGui::PushStyleColor(ImGuiCol_Text, kWhatIfColour);
  if (ImGui::Checkbox("what if RoPE were off", &off)) setRopeOff(app, off);
  if (d.session.ropeOff) ImGui::PopStyleColor();
  recordItemRect(app, "rope_off");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Layer %d's scores and weights from Q and K before the rotation: no position information.\n"
                      "The RoPE step and the other layers stay real; untick for the model's real scores.",
                      d.session.view.layer);
  if (d.session.ropeOff && step != StageId::Rope) {
    ImGui::SameLine();
    ImGui::TextColored(kWhatIfColour, "these are not the model's weights");
  }
}

}  // namespace

void drawHeatmapView(AppState& app) {
  Document& d = app.doc;
  app.geometry.valid = false;
  if (!d.hasTrace || d.trace().head.empty()) {
    if (isComputing(d)) drawProgress(d);
    else ImGui::TextWrapped("%s", d.error.empty() ? "Computing…" : d.error.c_str());
    return;
  }
  const ViewState& v = d.session.view;
  const StageId step = currentStep(d);
  const int heads = d.trace().heads;
  const StageInfo& info = stageInfo(step);

  // Toolbar: what is shown, head switcher, fit and value toggles.
  ImGui::PushFont(fonts().title);
  const std::vector<std::string> whatIfs = info.needsModel ? std::vector<std::string>() : modelWhatIfs(app);
  if (!whatIfs.empty()) {  // a what-if is marked on every figure it changes
    std::string list;
    for (const std::string& w : whatIfs) list += (list.empty() ? "" : ", ") + w;
    ImGui::TextColored(kWhatIfColour, "WHAT IF %s:", list.c_str());
    ImGui::SameLine();
  }
  if (step == StageId::Rope) ImGui::Text("%s  %s: %s", info.label, info.title, ropeShownTitle(d.session.view.rope));
  else ImGui::Text("%s  %s", info.label, info.title);
  ImGui::PopFont();
  ImGui::SameLine();
  const Matrix* shape = stepView(d, app.view, step, v.head).values;
  ImGui::TextDisabled("  %ld × %ld", long(shape->rows()), long(shape->cols()));
  if (heads > 1 && stageIsPerHead(step)) {
    // Grouped heads (kv0: 0 1 2 3  kv1: …) take a line of their own.
    const int kvHeads = kvHeadCount(app);
    if (!(kvHeads > 0 && kvHeads < heads)) ImGui::SameLine();
    ImGui::TextUnformatted(kvHeads > 0 && kvHeads < heads ? "head" : "   head");
    drawHeadSelector(app, heads);
  }
  sameLineIfRoom(ImGui::CalcTextSize("Fit").x + 2 * ImGui::GetStyle().FramePadding.x);
  if (ImGui::SmallButton("Fit")) fitView(app);
  sameLineIfRoom(ImGui::GetFrameHeight() + ImGui::GetStyle().ItemInnerSpacing.x + ImGui::CalcTextSize("values").x);
  bool values = viewToggle(app, ViewToggle::Values);
  if (ImGui::Checkbox("values", &values)) setViewToggle(app, ViewToggle::Values, values);

  drawRopeControls(app, step);
  if (d.stale || isComputing(d)) drawProgress(d);
  if (!d.error.empty()) ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "%s", d.error.c_str());
  drawBundleWarning(app);

  const ImVec2 min = ImGui::GetCursorScreenPos();
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const ImVec2 max(min.x + avail.x, min.y + avail.y);
  if (v.head >= 0 || !stageIsPerHead(step) || heads == 1) {
    const int head = stageIsPerHead(step) ? std::max(0, v.head) : 0;
    PanelLayout L = panel(app, step, head, min, max, true, true, app.camera, "##cells");
    HeatmapGeometry& g = app.geometry;
    const StepView sv = stepView(d, app.view, step, head);
    g = {true, L.origin.x, L.origin.y, L.cellW, L.cellH, L.areaMin.x, L.areaMin.y, L.areaMax.x, L.areaMax.y,
         int(sv.values->rows()), int(sv.values->cols()), sv.range.vmin, sv.range.vmax, sv.range.colormap,
         int(step), head};
  } else {
    // All heads: small multiples, each fitted, one shared colour bar.
    const int gc = int(std::ceil(std::sqrt(double(heads) * std::max(1.0f, avail.x / std::max(1.0f, avail.y)))));
    const int gcols = std::clamp(gc, 1, heads), grows = (heads + gcols - 1) / gcols;
    const float s = ImGui::GetFontSize() / 16.0f;
    const float barW = 90 * s, w = (avail.x - barW) / float(gcols), h = avail.y / float(grows);
    StepRange shared = stepView(d, app.view, step, 0).range;
    for (int k = 1; k < heads; ++k) {
      const StepRange r = stepView(d, app.view, step, k).range;
      shared.vmin = std::min(shared.vmin, r.vmin);
      shared.vmax = std::max(shared.vmax, r.vmax);
    }
    static std::vector<HeatmapCamera> cams;
    cams.resize(std::size_t(heads));
    for (int k = 0; k < heads; ++k) {
      const ImVec2 pmin(min.x + float(k % gcols) * w, min.y + float(k / gcols) * h);
      ImGui::SetCursorScreenPos(pmin);
      ImGui::Text("head %d", k);
      if (ImGui::IsItemClicked()) selectHead(app, k);
      const ImVec2 cmin(pmin.x, pmin.y + ImGui::GetFontSize() + 4), cmax(pmin.x + w - 8 * s, pmin.y + h - 6 * s);
      cams[std::size_t(k)].fit = true;
      char id[24];
      std::snprintf(id, sizeof id, "##cells%d", k);
      const PanelLayout L = panel(app, step, k, cmin, cmax, false, true, cams[std::size_t(k)], id, &shared);
      app.widgetRects["heads-panel:" + std::to_string(k)] = {L.areaMin.x, L.areaMin.y, L.areaMax.x, L.areaMax.y};
    }
    ImDrawList* list = ImGui::GetWindowDrawList();
    if (colourScaleApplies(step, app.view.colourScale)) {
      const ValueRange scaled = colourScaleRange(app.view.colourScale, {shared.vmin, shared.vmax});
      shared.vmin = scaled.lo;
      shared.vmax = scaled.hi;
    }
    drawColourBar(list, shared, ImVec2(max.x - barW + 10 * s, min.y + 30 * s),
                  ImVec2(max.x - barW + 26 * s, std::max(min.y + 200 * s, max.y - 40 * s)), false,
                  colourScaleApplies(step, app.view.colourScale) ? app.view.colourScale : ColourScale::Linear);
  }
}

}  // namespace attnviz::gui
