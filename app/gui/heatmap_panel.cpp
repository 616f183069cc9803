#include "heatmap_panel.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "cell_text.hpp"

#include "colormap_lut.hpp"
#include "derivation.hpp"
#include "fonts.hpp"
#include "gl_heatmap.hpp"

namespace attnviz::gui {

namespace {

constexpr std::size_t kLabelScan = 4096;  // enough labels to size margins without scanning 16k

float widest(const std::vector<std::string>* labels) {
  float w = 0;
  if (!labels) return 0;
  for (std::size_t i = 0; i < std::min(labels->size(), kLabelScan); ++i)
    w = std::max(w, ImGui::CalcTextSize((*labels)[i].c_str()).x);
  return w;
}

// Text rotated 90° counter-clockwise (reads bottom to top), its start at `bottom`.
void addVerticalText(ImDrawList* list, ImVec2 bottom, ImU32 color, const char* text) {
  const int first = list->VtxBuffer.Size;
  list->AddText(bottom, color, text);
  for (int i = first; i < list->VtxBuffer.Size; ++i) {
    ImDrawVert& v = list->VtxBuffer[i];
    const ImVec2 d(v.pos.x - bottom.x, v.pos.y - bottom.y);
    v.pos = ImVec2(bottom.x + d.y, bottom.y - d.x);
  }
}

void hatch(ImDrawList* list, ImVec2 a, ImVec2 b) {
  list->AddRectFilled(a, b, IM_COL32(kMaskedColor[0], kMaskedColor[1], kMaskedColor[2], 255));
  list->PushClipRect(a, b, true);
  for (float x = a.x - (b.y - a.y); x < b.x; x += 6)
    list->AddLine(ImVec2(x, b.y), ImVec2(x + (b.y - a.y), a.y),
                  IM_COL32(kMaskedHatch[0], kMaskedHatch[1], kMaskedHatch[2], 255), 1.5f);
  list->PopClipRect();
}

// The band beside the cells where each patch's thumbnail stands (0 without thumbnails).
float thumbnailStrip(const PanelSpec& spec, bool rows) {
  const AxisPicture* t = spec.thumbnails;
  if (!t || !t->grid || !t->texture || !(rows ? t->rows && spec.rowLabels : t->cols && spec.colLabels)) return 0;
  return std::round(ImGui::GetFontSize() * 1.5f) + 4;
}

// Patch p of the grid as texture coordinates of the picture.
void patchUv(const AxisPicture& t, int patch, ImVec2& uv0, ImVec2& uv1) {
  const int P = t.grid->patch, r = patch / t.grid->cols, c = patch % t.grid->cols;
  uv0 = ImVec2(float(c * P) / float(t.width), float(r * P) / float(t.height));
  uv1 = ImVec2(float((c + 1) * P) / float(t.width), float((r + 1) * P) / float(t.height));
}

}  // namespace

PanelLayout layoutPanel(const PanelSpec& spec, ImVec2 min, ImVec2 max, HeatmapCamera& camera) {
  PanelLayout L;
  const float s = ImGui::GetFontSize() / 16.0f;
  const int rows = int(spec.values->rows()), cols = std::max<int>(1, int(spec.values->cols()));
  const float fs = ImGui::GetFontSize();
  const float left = (spec.rowLabels ? std::min(widest(spec.rowLabels), 140 * s) + 8 * s : 0) + thumbnailStrip(spec, true);
  const float colW = widest(spec.colLabels) + thumbnailStrip(spec, false);
  const float right = (spec.colourBar ? 86 * s : 0) + (spec.rowSums ? 78 * s : 0);
  auto cellFor = [&](float top) {
    const float w = max.x - min.x - left - right, h = max.y - min.y - top - 4 * s;
    // No lower bound but a positive one: a fitted 512×512 matrix in a 90-pixel thumbnail needs
    // cells below a pixel, and a larger floor would crop it to a non-square corner.
    return std::max(1e-3f, std::min({w / float(cols), h / float(std::max(rows, 1)), 90 * s}));
  };
  // Column labels lie flat when they fit their column, else they stand upright.
  const float topStrip = thumbnailStrip(spec, false);
  float top = spec.colLabels ? std::min(colW, 110 * s + topStrip) + 10 * s : 0;
  if (spec.colLabels && camera.fit && colW + 6 * s <= cellFor(fs + 8 * s + topStrip)) top = fs + 8 * s + topStrip;
  float cell = camera.fit ? cellFor(top) : camera.cellPx;
  if (spec.colLabels && !camera.fit && colW + 6 * s <= cell) top = fs + 8 * s + topStrip;
  L.areaMin = ImVec2(std::floor(min.x + left), std::floor(min.y + top));
  if (camera.fit) {
    camera.cellPx = cell;
    camera.originCol = camera.originRow = 0;
  }
  L.cellW = L.cellH = cell;
  L.rowThumbnails = thumbnailStrip(spec, true);
  L.colThumbnails = topStrip;
  L.origin = ImVec2(L.areaMin.x - camera.originCol * cell, L.areaMin.y - camera.originRow * cell);
  L.areaMax = ImVec2(std::min(max.x - right, L.origin.x + cell * float(cols)),
                     std::min(max.y - 4 * s, L.origin.y + cell * float(rows)));
  L.areaMax.x = std::max(L.areaMax.x, L.areaMin.x);
  L.areaMax.y = std::max(L.areaMax.y, L.areaMin.y);
  const float barX = L.areaMax.x + (spec.rowSums ? 78 * s : 0) + 12 * s;
  L.colourBarMin = ImVec2(barX, L.areaMin.y);
  // Room under the bar for the hatched "masked" swatch.
  const float barBottom = std::min(L.areaMax.y, max.y - (spec.anyMasked ? 2 * fs : 0));
  L.colourBarMax = ImVec2(barX + 16 * s, std::max(barBottom, L.areaMin.y + 160 * s));
  return L;
}

bool cellAt(const PanelSpec& spec, const PanelLayout& L, ImVec2 p, int* row, int* col) {
  if (p.x < L.areaMin.x || p.y < L.areaMin.y || p.x >= L.areaMax.x || p.y >= L.areaMax.y) return false;
  const int c = int(std::floor((p.x - L.origin.x) / L.cellW));
  const int r = int(std::floor((p.y - L.origin.y) / L.cellH));
  if (r < 0 || c < 0 || r >= spec.values->rows() || c >= spec.values->cols()) return false;
  *row = r;
  *col = c;
  return true;
}

void applyPanelColourScale(PanelSpec& spec, StageId step, ColourScale scale, const std::string& key,
                           std::uint64_t revision, const StepRange& linear) {
  if (!colourScaleApplies(step, scale)) return;
  struct Scaled {
    std::uint64_t revision = ~0ull;
    ValueRange linear;
    Matrix values;
  };
  static std::map<std::string, Scaled> cache;
  const ValueRange lin{linear.vmin, linear.vmax};
  const std::string k = key + ":" + toString(scale);
  Scaled& c = cache[k];
  if (c.revision != revision || !(c.linear == lin) || c.values.size() != spec.values->size()) {
    c.revision = revision;
    c.linear = lin;
    c.values = *spec.values;
    applyColourScale(c.values, scale, lin);
  }
  // The range is part of the texture's revision: a new linear range transforms anew.
  const std::uint64_t texRevision = revision * 1000003u + std::uint64_t(std::hash<float>{}(lin.hi));
  spec.colourValues = &c.values;
  spec.texture = matrixTexture(k, texRevision, [&]() -> const Matrix& { return c.values; });
  const ValueRange r = colourScaleRange(scale, lin);
  spec.range.vmin = r.lo;
  spec.range.vmax = r.hi;
  spec.scale = scale;
}

void drawColourBar(ImDrawList* list, const StepRange& range, ImVec2 a, ImVec2 b, bool showMasked,
                   ColourScale scale) {
  const ColormapLut& lut = colormapLut(range.colormap);
  constexpr int kSegments = 64;
  const float h = (b.y - a.y) / kSegments;
  for (int i = 0; i < kSegments; ++i) {
    // Top is the maximum; each segment's colours are the LUT entries at its two ends.
    const int hiIdx = 255 - i * 256 / kSegments, loIdx = std::max(0, 255 - (i + 1) * 256 / kSegments + 1);
    auto col = [&](int k) { return IM_COL32(lut[k][0], lut[k][1], lut[k][2], 255); };
    list->AddRectFilledMultiColor(ImVec2(a.x, a.y + h * i), ImVec2(b.x, a.y + h * (i + 1)), col(hiIdx),
                                  col(hiIdx), col(loIdx), col(loIdx));
  }
  list->AddRect(a, b, IM_COL32(120, 120, 120, 255));
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  const float fs = ImGui::GetFontSize();
  auto tick = [&](float t, float v) {
    const float y = b.y - t * (b.y - a.y);
    list->AddLine(ImVec2(b.x, y), ImVec2(b.x + 4, y), text);
    // Log ticks name the value itself (10^v); the per-row scale's ticks are fractions of the row max.
    const std::string label = scale == ColourScale::Log ? formatValue(std::pow(10.0f, v))
                              : scale == ColourScale::RowNormalised ? formatValue(v) + (t == 1 ? " × row max" : "")
                                                                    : formatValue(v);
    list->AddText(ImVec2(b.x + 6, y - fs * 0.5f), text, label.c_str());
  };
  tick(1, range.vmax);
  tick(0.5f, 0.5f * (range.vmin + range.vmax));
  tick(0, range.vmin);
  if (scale != ColourScale::Linear) {  // the scale named above the bar, as in exported figures
    const char* title = scale == ColourScale::Log ? "log scale" : "per row";
    list->AddText(ImVec2(a.x, a.y - fs - 2), ImGui::GetColorU32(ImGuiCol_TextDisabled), title);
  }
  if (scale == ColourScale::Log) {
    const float y = b.y - 0.25f * (b.y - a.y);
    list->AddText(ImVec2(b.x + 6, y - fs * 0.5f), text, formatValue(std::pow(10.0f, range.vmin + 0.25f * (range.vmax - range.vmin))).c_str());
  }
  if (showMasked) {
    const ImVec2 m0(a.x, b.y + fs * 0.6f), m1(b.x, b.y + fs * 1.6f);
    hatch(list, m0, m1);
    list->AddText(ImVec2(b.x + 6, m0.y), text, "masked");
  }
}

void drawPanel(ImDrawList* list, const PanelSpec& spec, const PanelLayout& L) {
  const Matrix& m = *spec.values;
  const int rows = int(m.rows()), cols = int(m.cols());
  if (rows == 0 || cols == 0 || L.areaMax.x <= L.areaMin.x || L.areaMax.y <= L.areaMin.y) return;
  HeatmapDraw d;
  d.texture = spec.texture;
  d.rows = rows;
  d.cols = cols;
  d.x0 = L.areaMin.x;
  d.y0 = L.areaMin.y;
  d.x1 = L.areaMax.x;
  d.y1 = L.areaMax.y;
  d.col0 = (L.areaMin.x - L.origin.x) / L.cellW;
  d.row0 = (L.areaMin.y - L.origin.y) / L.cellH;
  d.col1 = (L.areaMax.x - L.origin.x) / L.cellW;
  d.row1 = (L.areaMax.y - L.origin.y) / L.cellH;
  const Matrix& colours = spec.colourValues ? *spec.colourValues : m;
  d.vmin = spec.range.vmin;
  d.vmax = spec.range.vmax;
  d.colormap = spec.range.colormap;
  d.pinRow = spec.pinRow;
  d.pinCol = spec.pinCol;
  addHeatmap(list, d);

  const int r0 = std::max(0, int(d.row0)), r1 = std::min(rows, int(std::ceil(d.row1)));
  const int c0 = std::max(0, int(d.col0)), c1 = std::min(cols, int(std::ceil(d.col1)));
  auto cellMin = [&](int r, int c) { return ImVec2(L.origin.x + c * L.cellW, L.origin.y + r * L.cellH); };
  const float fs = ImGui::GetFontSize();
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);

  list->PushClipRect(L.areaMin, L.areaMax, true);
  // Numbers inside cells big enough to read them (and not too many to draw).
  ImFont* mono = fonts().mono;
  const float valueSize = std::min(fs * 0.9f, L.cellH * 0.42f);
  const float valueWidth = mono->CalcTextSizeA(valueSize, FLT_MAX, 0, "−0.00").x;
  if (spec.valueText && valueSize >= 9 && valueWidth + 4 <= L.cellW && (r1 - r0) * (c1 - c0) <= 6000) {
    // One precision for the whole matrix (cellDecimals of its largest |value|), so the numbers
    // of a row or column read alike and do not change as the view pans.
    float maxAbs = 0;
    for (Eigen::Index k = 0; k < m.size(); ++k)
      if (std::isfinite(m.data()[k])) maxAbs = std::max(maxAbs, std::fabs(m.data()[k]));
    const int decimals = cellDecimals(maxAbs);
    for (int r = r0; r < r1; ++r)
      for (int c = c0; c < c1; ++c) {
        const float v = m(r, c);
        if (!std::isfinite(v)) continue;
        const std::string text = formatFixed(v, decimals);
        const ImVec2 ts = mono->CalcTextSizeA(valueSize, FLT_MAX, 0, text.c_str());
        if (ts.x + 4 > L.cellW) continue;
        const ImVec2 p = cellMin(r, c);
        const Rgb8 bg = colormapColor(spec.range.colormap, colours(r, c), spec.range.vmin, spec.range.vmax);
        list->AddText(mono, valueSize, ImVec2(p.x + (L.cellW - ts.x) * 0.5f, p.y + (L.cellH - ts.y) * 0.5f),
                      textColourOn(bg), text.c_str());
      }
  }
  if (spec.pinRow >= 0 && spec.pinCol >= 0 && spec.pinRow < rows && spec.pinCol < cols) {
    const ImVec2 p = cellMin(spec.pinRow, spec.pinCol);
    list->AddRect(p, ImVec2(p.x + L.cellW, p.y + L.cellH), IM_COL32(255, 200, 0, 255), 0, 0, 2.5f);
  }
  if (spec.hoverRow >= 0 && spec.hoverCol >= 0 && spec.hoverRow < rows && spec.hoverCol < cols) {
    const ImVec2 p = cellMin(spec.hoverRow, spec.hoverCol);
    list->AddRect(p, ImVec2(p.x + L.cellW, p.y + L.cellH), IM_COL32(255, 255, 255, 255), 0, 0, 2.0f);
  }
  list->PopClipRect();

  // Where sentence B starts: a line across the axes' label margins (the cells keep their colours).
  const ImU32 divider = IM_COL32(235, 120, 215, 230);
  const float reach = 5 * fs;
  if (spec.rowDivider > 0 && spec.rowDivider < rows) {
    const float y = L.origin.y + float(spec.rowDivider) * L.cellH;
    if (y >= L.areaMin.y && y <= L.areaMax.y) list->AddLine(ImVec2(L.areaMin.x - reach, y), ImVec2(L.areaMin.x - 1, y), divider, 2.0f);
  }
  if (spec.colDivider > 0 && spec.colDivider < cols) {
    const float x = L.origin.x + float(spec.colDivider) * L.cellW;
    if (x >= L.areaMin.x && x <= L.areaMax.x) list->AddLine(ImVec2(x, L.areaMin.y - reach), ImVec2(x, L.areaMin.y - 1), divider, 2.0f);
  }
  // Axis labels, every k-th when rows are thinner than a line of text.
  const ImVec2 clipMin = ImGui::GetWindowPos();
  const ImVec2 clipMax(clipMin.x + ImGui::GetWindowWidth(), clipMin.y + ImGui::GetWindowHeight());
  auto highlighted = [](bool on) { return on ? IM_COL32(255, 210, 60, 255) : ImGui::GetColorU32(ImGuiCol_Text); };
  const float rowStrip = L.rowThumbnails, colStrip = L.colThumbnails;
  // A patch's thumbnail fills the strip: beside every row (column) when rows are at least that
  // tall, else beside every k-th, like the labels.
  auto thumbnail = [&](int index, ImVec2 centre) {
    const AxisPicture& t = *spec.thumbnails;
    const int patch = index - int(t.grid->prefix.size());
    if (patch < 0 || patch >= t.grid->rows * t.grid->cols) return;
    const float side = std::max(rowStrip, colStrip) - 4;
    ImVec2 uv0, uv1;
    patchUv(t, patch, uv0, uv1);
    const ImVec2 a(centre.x - side * 0.5f, centre.y - side * 0.5f), b(centre.x + side * 0.5f, centre.y + side * 0.5f);
    list->AddImage(reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(t.texture)), a, b, uv0, uv1);
    list->AddRect(a, b, IM_COL32(0, 0, 0, 160));
  };
  if (spec.rowLabels) {
    const int k = std::max(1, int(std::ceil(fs / L.cellH)));
    list->PushClipRect(ImVec2(clipMin.x, L.areaMin.y - fs * 0.5f), ImVec2(L.areaMin.x, L.areaMax.y + fs * 0.5f), true);
    const int kThumb = rowStrip > 0 ? std::max(1, int(std::ceil((rowStrip - 4) / L.cellH))) : 1;
    for (int r = r0; r < r1 && r < int(spec.rowLabels->size()); ++r) {
      const float cy = L.origin.y + (r + 0.5f) * L.cellH;
      if (rowStrip > 0 && (r % kThumb == 0 || r == spec.pinRow))
        thumbnail(r, ImVec2(L.areaMin.x - rowStrip * 0.5f - 2, cy));
      if (r % k != 0 && r != spec.pinRow) continue;
      const char* t = (*spec.rowLabels)[std::size_t(r)].c_str();
      const float w = ImGui::CalcTextSize(t).x;
      list->AddText(ImVec2(L.areaMin.x - rowStrip - w - 6, cy - fs * 0.5f),
                    highlighted(r == spec.pinRow || r == spec.hoverRow), t);
    }
    list->PopClipRect();
  }
  if (spec.colLabels) {
    const float colW = widest(spec.colLabels);
    const bool flat = colW + 6 <= L.cellW;
    const int k = flat ? 1 : std::max(1, int(std::ceil(fs / L.cellW)));
    list->PushClipRect(ImVec2(L.areaMin.x - fs, clipMin.y), ImVec2(L.areaMax.x + fs, L.areaMin.y), true);
    const int kThumb = colStrip > 0 ? std::max(1, int(std::ceil((colStrip - 4) / L.cellW))) : 1;
    for (int c = c0; c < c1 && c < int(spec.colLabels->size()); ++c) {
      const float cx = L.origin.x + (c + 0.5f) * L.cellW;
      if (colStrip > 0 && (c % kThumb == 0 || c == spec.pinCol))
        thumbnail(c, ImVec2(cx, L.areaMin.y - colStrip * 0.5f - 2));
      if (c % k != 0 && c != spec.pinCol) continue;
      const char* t = (*spec.colLabels)[std::size_t(c)].c_str();
      const ImU32 color = highlighted(c == spec.pinCol || c == spec.hoverCol);
      if (flat)
        list->AddText(ImVec2(cx - ImGui::CalcTextSize(t).x * 0.5f, L.areaMin.y - colStrip - fs - 4), color, t);
      else
        addVerticalText(list, ImVec2(cx - fs * 0.5f, L.areaMin.y - colStrip - 5), color, t);
    }
    list->PopClipRect();
  }
  if (spec.rowSums) {
    const float x = L.areaMax.x + 8;
    ImFont* f = fonts().mono;
    list->AddText(ImVec2(x, L.areaMin.y - fs - 4), text, "Z_i = Σ_j");
    const int k = std::max(1, int(std::ceil(fs / L.cellH)));
    for (int r = r0; r < r1 && r < spec.rowSums->size(); r += k)
      list->AddText(f, fs * 0.9f, ImVec2(x, L.origin.y + (r + 0.5f) * L.cellH - fs * 0.45f),
                    highlighted(r == spec.pinRow), formatValue((*spec.rowSums)(r)).c_str());
  }
  (void)clipMax;
  if (spec.colourBar) {
    drawColourBar(list, spec.range, L.colourBarMin, L.colourBarMax, spec.anyMasked, spec.scale);
  }
}

}  // namespace attnviz::gui
