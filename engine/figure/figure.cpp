#include "figure/figure.hpp"

#include <stb_image_write.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "figure/font.hpp"
#include "session_stages.hpp"

namespace attnviz {
namespace {

// ---------------------------------------------------------------- names and numbers

// Locale-independent, so a GUI that called setlocale() still writes "0.5", never "0,5".
std::string fixed(double v, int decimals) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  std::string s(buf, r.ptr);
  const bool zero = s.find_first_not_of("-0.") == std::string::npos;  // "-0.00" is just "0.00"
  if (!s.empty() && s[0] == '-') s = zero ? s.substr(1) : "\u2212" + s.substr(1);  // a real minus sign
  return s;
}

std::string shortest(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 4);
  return std::string(buf, r.ptr);
}

// Numbers inside cells: two decimals while they fit in a cell, fewer for large magnitudes.
std::string cellText(float v) {
  const float a = std::fabs(v);
  return fixed(v, a < 10 ? 2 : a < 100 ? 1 : 0);
}

struct Tick {
  double value;
  std::string text;
};

// 1-2-5 steps giving about five ticks inside [lo, hi].
std::vector<Tick> niceTicks(double lo, double hi) {
  const double rough = (hi - lo) / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(rough)));
  const double norm = rough / mag;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
  std::vector<Tick> ticks;
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step; k += 1) {
    const double v = k * step;
    ticks.push_back({v, fixed(v, decimals)});
  }
  return ticks;
}

// ---------------------------------------------------------------- layout

enum class Align { Start, Middle, End };

struct TextItem {
  std::string text;
  float x = 0, y = 0;  // the anchor on the baseline
  float px = 11;
  bool bold = false;
  bool vertical = false;  // rotated 90° counter-clockwise: reads bottom to top
  Align align = Align::Start;
  Rgb8 color{0, 0, 0};
  PixelBox box;  // nominal ink box (advance × ascent+descent)
};

constexpr Rgb8 kInk{0x1a, 0x1a, 0x1a};
constexpr Rgb8 kMuted{0x55, 0x55, 0x55};
constexpr Rgb8 kFrame{0x33, 0x33, 0x33};
constexpr Rgb8 kWhite{255, 255, 255};
constexpr Rgb8 kSentenceDivider{235, 120, 215};  // the app's colour for where sentence B starts

struct Scene {
  FigureLayout layout;
  std::vector<TextItem> texts;
  std::vector<PixelBox> frames;         // 1-line outlines drawn around heatmaps and the bar
  std::vector<PixelBox> tickMarks;      // small filled rectangles
  std::vector<PixelBox> dividers;       // where sentence B starts, in the label margins
  PixelBox legendSwatch;
  int frameWidth = 1;
  int hatchPeriod = 6, hatchWidth = 1;
  float valuePx = 0;
  std::string family;
};

bool cellMasked(const FigureRequest& r, const Matrix& v, int i, int j) {
  return (r.mask.size() && !r.mask(i, j)) || !std::isfinite(v(i, j));
}

void addText(Scene& scene, const FontSet& fonts, std::string text, float x, float y, float px, Align align,
             bool vertical = false, bool bold = false, Rgb8 color = kInk) {
  TextItem t{std::move(text), x, y, px, bold, vertical, align, color, {}};
  const float adv = fonts.advance(t.text, px, bold);
  const float start = align == Align::Start ? 0 : align == Align::Middle ? -adv / 2 : -adv;
  const float asc = fonts.ascent(px), desc = fonts.descent(px);
  if (!vertical) {
    t.box = {int(std::floor(x + start)), int(std::floor(y - asc)), int(std::ceil(adv)) + 1, int(std::ceil(asc + desc)) + 1};
  } else {
    t.box = {int(std::floor(x - asc)), int(std::floor(y - start - adv)), int(std::ceil(asc + desc)) + 1,
             int(std::ceil(adv)) + 1};
  }
  scene.texts.push_back(std::move(t));
}

std::string displayLabel(const std::string& s) {
  // A whitespace token (the chars tokenizer keeps none, but sessions may) would be invisible.
  if (s.find_first_not_of(" \t\r\n") == std::string::npos) return "\u2423";
  return s;
}

Scene buildScene(const FigureRequest& r) {
  if (r.panels.empty()) throw Error("figure: nothing to draw (no panels)");
  const long rows = r.panels[0].values.rows(), cols = r.panels[0].values.cols();
  if (rows < 1 || cols < 1) throw Error("figure: the matrix is empty");
  for (const FigurePanel& p : r.panels)
    if (p.values.rows() != rows || p.values.cols() != cols) throw Error("figure: panels have different shapes");
  if (r.mask.size() && (r.mask.rows() != rows || r.mask.cols() != cols))
    throw Error("figure: the mask is " + std::to_string(r.mask.rows()) + "×" + std::to_string(r.mask.cols()) +
                " but the matrix is " + std::to_string(rows) + "×" + std::to_string(cols));
  if (!(r.range.lo < r.range.hi) || !std::isfinite(r.range.lo) || !std::isfinite(r.range.hi))
    throw Error("figure: the range needs finite MIN < MAX");
  if (!(r.scale >= 0.25f && r.scale <= 8)) throw Error("figure: scale must be between 0.25 and 8");
  if (r.cellPx < 0 || r.cellPx > 512) throw Error("figure: cell size must be between 1 and 512 pixels");

  const FontSet& fonts = FontSet::standard();
  Scene scene;
  scene.family = fonts.svgFamily();
  FigureLayout& L = scene.layout;
  const float s = r.scale;
  const auto S = [s](float v) { return int(std::lround(v * s)); };

  // The widest value label at 1 px, and the unscaled cell it needs: 6 px high text with 2 px
  // either side.
  float widest = 0;
  if (r.values)
    for (const FigurePanel& p : r.panels)
      for (long i = 0; i < rows; ++i)
        for (long j = 0; j < cols; ++j)
          if (!cellMasked(r, p.values, int(i), int(j)))
            widest = std::max(widest, fonts.advance(cellText(p.values(i, j)), 1.0f));
  const int valuesNeed = int(std::ceil(std::max(6 / 0.34f, 4 + 6 * widest)));

  const long maxDim = std::max(rows, cols);
  int baseCell = r.cellPx > 0 ? r.cellPx : int(std::clamp(560L / maxDim, 1L, r.values ? 48L : 36L));
  // With an automatic size, values make the cells as large as they need (an explicit --cell
  // that is too small is an error below).
  if (r.values && r.cellPx == 0) baseCell = std::max(baseCell, valuesNeed);
  const int cell = std::max(1, S(float(baseCell)));
  L.cellPx = cell;

  const float labelPx = 11 * s, tickPx = 10 * s, titlePx = 15 * s, subPx = 11 * s, captionPx = 12 * s;
  const int margin = S(16), gap = S(6);
  scene.frameWidth = std::max(1, S(1));
  scene.hatchPeriod = std::max(4, S(6));
  scene.hatchWidth = std::max(1, S(1.4f));
  const float asc = fonts.ascent(labelPx);
  const float lineH = labelPx * 1.25f;
  // Visually centres a line of text on a cell: half the cap height below the centre.
  const float capShift = 0.36f;

  // Labels: every k-th when a cell is thinner than a text line.
  L.rowLabelStep = int(std::ceil(lineH / float(cell)));
  L.colLabelStep = L.rowLabelStep;
  const float maxLabelW = 100 * s;
  const auto labelOf = [](const std::vector<std::string>& v, long i) {
    return i < long(v.size()) ? displayLabel(v[i]) : std::to_string(i);
  };
  std::vector<std::string> rowText, colText;
  float rowLabelW = 0, colLabelH = 0;
  if (r.labels) {
    for (long i = 0; i < rows; i += L.rowLabelStep) {
      rowText.push_back(fonts.ellipsize(labelOf(r.rowLabels, i), labelPx, maxLabelW));
      rowLabelW = std::max(rowLabelW, fonts.advance(rowText.back(), labelPx));
    }
    for (long j = 0; j < cols; j += L.colLabelStep) {
      colText.push_back(fonts.ellipsize(labelOf(r.colLabels, j), labelPx, maxLabelW));
      colLabelH = std::max(colLabelH, fonts.advance(colText.back(), labelPx));
    }
  }
  // Column labels that all fit their column's width stay upright (CJK characters, short
  // numbers); otherwise every one is rotated, so they never collide.
  const bool colUpright = r.labels && colLabelH <= float(L.colLabelStep * cell) - 2 * s;
  if (colUpright) colLabelH = fonts.ascent(labelPx) + fonts.descent(labelPx);
  const int axisH = r.labels ? int(std::ceil(labelPx * 1.3f)) : 0;
  const bool multi = r.panels.size() > 1;
  const int captionH = multi ? int(std::ceil(captionPx * 1.6f)) : 0;
  const int frameGap = scene.frameWidth;  // the frame sits just outside the cells
  const int leftW = r.labels ? axisH + gap + int(std::ceil(rowLabelW)) + gap + frameGap : frameGap;
  const int bottomH = r.labels ? frameGap + gap + int(std::ceil(colLabelH)) + gap + axisH : frameGap;
  const long heatW = cols * cell, heatH = rows * cell;
  const long panelW = leftW + heatW + frameGap, panelH = captionH + frameGap + heatH + bottomH;

  const int count = int(r.panels.size());
  const int gridCols = r.gridColumns > 0 ? std::min(r.gridColumns, count) : int(std::ceil(std::sqrt(double(count))));
  const int gridRows = (count + gridCols - 1) / gridCols;
  const int spacing = S(24);
  const long gridW = gridCols * panelW + (gridCols - 1) * spacing;
  const long gridH = gridRows * panelH + (gridRows - 1) * spacing;

  // Header.
  int top = margin;
  float titleBaseline = 0, subBaseline = 0;
  if (!r.title.empty()) {
    titleBaseline = float(top) + fonts.ascent(titlePx);
    top += int(std::ceil(titlePx * 1.35f));
  }
  if (!r.subtitle.empty()) {
    subBaseline = float(top) + fonts.ascent(subPx);
    top += int(std::ceil(subPx * 1.45f));
  }
  if (!r.title.empty() || !r.subtitle.empty()) top += S(10);

  // Panels (checked before any per-cell work: the final size is checked again below).
  if (gridW * gridH > kMaxFigurePixels)
    throw Error("figure: the heatmaps alone would be " + std::to_string(gridW) + "×" + std::to_string(gridH) +
                " pixels, more than the limit of " + std::to_string(kMaxFigurePixels / 1000000) +
                " million; use a smaller --cell or --scale");
  for (int p = 0; p < count; ++p) {
    const long px0 = margin + (p % gridCols) * (panelW + spacing);
    const long py0 = top + (p / gridCols) * (panelH + spacing);
    const PixelBox heat{int(px0 + leftW), int(py0 + captionH + frameGap), int(heatW), int(heatH)};
    L.heatmaps.push_back(heat);
    const int fw = scene.frameWidth;
    scene.frames.push_back({heat.x - fw, heat.y - fw, heat.w + 2 * fw, heat.h + 2 * fw});
    if (multi)
      addText(scene, fonts, r.panels[p].caption, float(heat.x) + float(heat.w) / 2,
              float(heat.y - frameGap) - captionPx * 0.5f, captionPx, Align::Middle, false, true);
    if (!r.labels) continue;
    const float rowRight = float(heat.x - frameGap - gap);
    for (std::size_t k = 0; k < rowText.size(); ++k) {
      const float cy = float(heat.y) + (float(k * L.rowLabelStep) + 0.5f) * float(cell);
      addText(scene, fonts, rowText[k], rowRight, cy + capShift * labelPx, labelPx, Align::End);
    }
    const float colTop = float(heat.y + heat.h + frameGap + gap);
    for (std::size_t k = 0; k < colText.size(); ++k) {
      const float cx = float(heat.x) + (float(k * L.colLabelStep) + 0.5f) * float(cell);
      if (colUpright) addText(scene, fonts, colText[k], cx, colTop + asc, labelPx, Align::Middle);
      else addText(scene, fonts, colText[k], cx + capShift * labelPx, colTop, labelPx, Align::End, true);
    }
    const int thick = std::max(2, S(2));
    if (r.rowDivider > 0 && r.rowDivider < rows) {
      const int y = heat.y + r.rowDivider * cell - thick / 2;
      const int x0 = int(std::floor(rowRight - rowLabelW));
      scene.dividers.push_back({x0, y, heat.x - frameGap - x0, thick});
    }
    if (r.colDivider > 0 && r.colDivider < cols) {
      const int x = heat.x + r.colDivider * cell - thick / 2;
      const int y0 = heat.y + heat.h + frameGap;
      scene.dividers.push_back({x, y0, thick, int(std::ceil(colTop + colLabelH)) - y0});
    }
    // Axis names, in grey so the tokens stay the focus.
    addText(scene, fonts, r.colAxis, float(heat.x) + float(heat.w) / 2,
            colTop + std::ceil(colLabelH) + float(gap) + asc, labelPx, Align::Middle, false, false, kMuted);
    addText(scene, fonts, r.rowAxis, float(px0) + asc, float(heat.y) + float(heat.h) / 2, labelPx, Align::Middle,
            true, false, kMuted);
  }

  // Colour bar: from the first heatmap's top to the last grid row's heatmap bottom.
  const PixelBox& first = L.heatmaps.front();
  const PixelBox& last = L.heatmaps.back();
  const int barX = int(margin + gridW + S(22));
  const int barY = first.y;
  const int barH = std::max(last.y + last.h - first.y, S(120));
  const int barW = S(14);
  L.colorbar = {barX, barY, barW, barH};
  const int fw = scene.frameWidth;
  scene.frames.push_back({barX - fw, barY - fw, barW + 2 * fw, barH + 2 * fw});
  const int tickLen = S(4);
  float tickW = 0;
  for (const Tick& t : niceTicks(r.range.lo, r.range.hi)) {
    const double f = (t.value - r.range.lo) / (double(r.range.hi) - r.range.lo);
    const int y = barY + int(std::lround((1 - f) * barH));
    const int thick = std::max(1, S(1));
    scene.tickMarks.push_back({barX + barW + fw, y - thick / 2, tickLen, thick});
    addText(scene, fonts, t.text, float(barX + barW + fw + tickLen + S(3)), float(y) + capShift * tickPx, tickPx,
            Align::Start);
    tickW = std::max(tickW, fonts.advance(t.text, tickPx));
  }
  int right = barX + barW + fw + tickLen + S(3) + int(std::ceil(tickW));
  if (!r.colorbarLabel.empty()) {
    const float x = float(right + S(8)) + fonts.ascent(labelPx);
    addText(scene, fonts, r.colorbarLabel, x, float(barY) + float(barH) / 2, labelPx, Align::Middle, true);
    right = int(std::ceil(x + fonts.descent(labelPx)));
  }
  int bottom = int(top + gridH);

  // Legend for masked cells, under the bar, only when some shown cell is masked.
  bool anyMasked = r.mask.size() && (r.mask.array() == 0).any();
  for (const FigurePanel& p : r.panels) anyMasked = anyMasked || !allFinite(p.values);
  if (anyMasked) {
    L.legend = true;
    const int sw = S(12);
    scene.legendSwatch = {barX, barY + barH + fw + S(14), sw, sw};
    scene.frames.push_back({barX - fw, scene.legendSwatch.y - fw, sw + 2 * fw, sw + 2 * fw});
    addText(scene, fonts, "masked", float(barX + sw + fw + S(5)), float(scene.legendSwatch.y) + sw / 2.0f + capShift * tickPx,
            tickPx, Align::Start);
    right = std::max(right, scene.texts.back().box.x + scene.texts.back().box.w);
    bottom = std::max(bottom, scene.legendSwatch.y + sw + fw);
  }

  // Values inside cells: as large as fits, never larger than the labels.
  if (r.values) {
    float px = std::min(10 * s, float(cell) * 0.34f);
    if (widest > 0) px = std::min(px, (float(cell) - 4 * s) / widest);
    if (px < 6 * s) {
      // In unscaled pixels: the text must be 6 px high and fit with 2 px either side.
      throw Error("figure: --values needs cells of at least " + std::to_string(valuesNeed) + " px (use --cell " +
                  std::to_string(valuesNeed) + " or more)");
    }
    scene.valuePx = px;
  }

  L.width = std::max(right + margin, int(margin + gridW + margin));
  int titleW = 0;
  if (!r.title.empty()) titleW = int(std::ceil(fonts.advance(r.title, titlePx, true)));
  if (!r.subtitle.empty()) titleW = std::max(titleW, int(std::ceil(fonts.advance(r.subtitle, subPx))));
  L.width = std::max(L.width, titleW + 2 * margin);
  L.height = bottom + margin;
  if (long(L.width) * L.height > kMaxFigurePixels)
    throw Error("figure: the image would be " + std::to_string(L.width) + "×" + std::to_string(L.height) +
                " pixels, more than the limit of " + std::to_string(kMaxFigurePixels / 1000000) +
                " million; use a smaller --cell or --scale");
  // The header is centred over the whole figure.
  if (!r.title.empty())
    addText(scene, fonts, r.title, float(L.width) / 2, titleBaseline, titlePx, Align::Middle, false, true);
  if (!r.subtitle.empty())
    addText(scene, fonts, r.subtitle, float(L.width) / 2, subBaseline, subPx, Align::Middle, false, false, kMuted);

  L.vectorCells = rows * cols <= kMaxVectorCells && !r.panels.front().picture;
  for (const TextItem& t : scene.texts) L.texts.push_back(t.box);
  return scene;
}

// ---------------------------------------------------------------- raster

struct Canvas {
  int w = 0, h = 0;
  std::vector<std::uint8_t> rgb;

  Canvas(int width, int height) : w(width), h(height), rgb(std::size_t(width) * height * 3, 255) {}
  std::uint8_t* at(int x, int y) { return rgb.data() + (std::size_t(y) * w + x) * 3; }

  void fill(const PixelBox& b, Rgb8 c) {
    const int x0 = std::max(0, b.x), y0 = std::max(0, b.y);
    const int x1 = std::min(w, b.x + b.w), y1 = std::min(h, b.y + b.h);
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) std::memcpy(at(x, y), c.data(), 3);
  }
  void outline(const PixelBox& b, int t, Rgb8 c) {
    fill({b.x, b.y, b.w, t}, c);
    fill({b.x, b.y + b.h - t, b.w, t}, c);
    fill({b.x, b.y, t, b.h}, c);
    fill({b.x + b.w - t, b.y, t, b.h}, c);
  }
  void blend(int x, int y, Rgb8 c, int a) {
    if (x < 0 || y < 0 || x >= w || y >= h || a == 0) return;
    std::uint8_t* p = at(x, y);
    for (int k = 0; k < 3; ++k) p[k] = std::uint8_t((p[k] * (255 - a) + c[k] * a + 127) / 255);
  }
};

void drawText(Canvas& canvas, const FontSet& fonts, const TextItem& t) {
  const TextBitmap bm = fonts.rasterize(t.text, t.px, t.bold);
  if (bm.width == 0) return;
  const float adv = fonts.advance(t.text, t.px, t.bold);
  const float start = t.align == Align::Start ? 0 : t.align == Align::Middle ? -adv / 2 : -adv;
  // Whole-pixel pen positions keep the same glyph bitmaps (and so bytes) wherever text lands.
  const int pen = int(std::lround(start));
  const int ax = int(std::lround(t.x)), ay = int(std::lround(t.y));
  for (int y = 0; y < bm.height; ++y)
    for (int x = 0; x < bm.width; ++x) {
      const int a = bm.coverage[std::size_t(y) * bm.width + x];
      if (!a) continue;
      const int u = pen + x - bm.originX, v = y - bm.baselineY;  // along the text, below the baseline
      if (!t.vertical) canvas.blend(ax + u, ay + v, t.color, a);
      else canvas.blend(ax + v, ay - u, t.color, a);
    }
}

bool hatched(int x, int y, const Scene& scene) { return (x + y) % scene.hatchPeriod < scene.hatchWidth; }

// Cells of one panel into `canvas` at `box` (box in canvas coordinates, hatch phase from
// `phaseX/phaseY` so an embedded SVG image lines up with the vector hatch pattern).
void drawCells(Canvas& canvas, const FigureRequest& r, const Scene& scene, const FigurePanel& panel, const PixelBox& box,
               int phaseX, int phaseY) {
  const Matrix& values = panel.values;
  const int cell = scene.layout.cellPx;
  if (panel.picture) {
    const model::RgbImage& pic = *panel.picture;
    for (long i = 0; i < values.rows() && i < pic.height; ++i)
      for (long j = 0; j < values.cols() && j < pic.width; ++j) {
        const std::uint8_t* c = pic.pixels.data() + (std::size_t(i) * pic.width + j) * 3;
        for (int dy = 0; dy < cell; ++dy)
          for (int dx = 0; dx < cell; ++dx) std::memcpy(canvas.at(box.x + int(j) * cell + dx, box.y + int(i) * cell + dy), c, 3);
      }
    return;
  }
  const ColormapLut& lut = colormapLut(r.colormap);
  const long rows = values.rows(), cols = values.cols();
  const float lo = r.range.lo, hi = r.range.hi;
  const bool hasMask = r.mask.size() > 0;
  std::vector<std::uint8_t> line(std::size_t(cols) * cell * 3);
  for (long i = 0; i < rows; ++i) {
    const float* src = values.data() + i * cols;  // row-major
    const std::uint8_t* maskRow = hasMask ? r.mask.data() + i * cols : nullptr;
    bool rowHasMasked = false;
    std::uint8_t* out = line.data();
    for (long j = 0; j < cols; ++j) {
      const float v = src[j];
      const bool masked = (maskRow && !maskRow[j]) || !std::isfinite(v);
      rowHasMasked |= masked;
      const Rgb8 c = masked ? kMaskedColor : lut[lutIndex(v, lo, hi)];
      for (int k = 0; k < cell; ++k, out += 3) std::memcpy(out, c.data(), 3);
    }
    const int y0 = box.y + int(i) * cell;
    for (int dy = 0; dy < cell; ++dy) std::memcpy(canvas.at(box.x, y0 + dy), line.data(), line.size());
    if (!rowHasMasked) continue;
    for (long j = 0; j < cols; ++j) {
      if (!((maskRow && !maskRow[j]) || !std::isfinite(src[j]))) continue;
      const int x0 = box.x + int(j) * cell;
      for (int dy = 0; dy < cell; ++dy)
        for (int dx = 0; dx < cell; ++dx)
          if (hatched(x0 + dx + phaseX, y0 + dy + phaseY, scene)) std::memcpy(canvas.at(x0 + dx, y0 + dy), kMaskedHatch.data(), 3);
    }
  }
}

Rgb8 contrastingInk(Rgb8 c) {
  // WCAG relative luminance; 0.179 is where black and white contrast equally.
  const auto lin = [](std::uint8_t v) {
    const double x = v / 255.0;
    return x <= 0.04045 ? x / 12.92 : std::pow((x + 0.055) / 1.055, 2.4);
  };
  const double l = 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  return l > 0.179 ? Rgb8{0, 0, 0} : Rgb8{255, 255, 255};
}

template <typename Fn>
void forEachValue(const FigureRequest& r, const Scene& scene, const FigurePanel& p, const PixelBox& heat, Fn fn) {
  const int cell = scene.layout.cellPx;
  for (long i = 0; i < p.values.rows(); ++i)
    for (long j = 0; j < p.values.cols(); ++j) {
      if (cellMasked(r, p.values, int(i), int(j))) continue;
      const float v = p.values(i, j);
      TextItem t{cellText(v), float(heat.x) + (float(j) + 0.5f) * float(cell),
                 float(heat.y) + (float(i) + 0.5f) * float(cell) + 0.36f * scene.valuePx, scene.valuePx,
                 false, false, Align::Middle, contrastingInk(colormapLut(r.colormap)[lutIndex(v, r.range.lo, r.range.hi)]),
                 {}};
      fn(t);
    }
}

void appendBytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), std::size_t(size));
}

std::string encodePng(const Canvas& canvas) {
  // stb keeps these settings in globals: set them on every call so nothing else can change
  // our bytes. Measured on figures (4096² weights, long-512, pronoun): no filter at level 2 is
  // twice as fast as stb's adaptive filter at level 8, and as small or smaller, because
  // heatmap rows repeat whole cells that deflate matches directly.
  stbi_write_png_compression_level = 2;
  stbi_write_force_png_filter = 0;
  std::string out;
  out.reserve(canvas.rgb.size() / 8);
  if (!stbi_write_png_to_func(appendBytes, &out, canvas.w, canvas.h, 3, canvas.rgb.data(), canvas.w * 3))
    throw Error("figure: PNG encoding failed");
  return out;
}

// ---------------------------------------------------------------- SVG

std::string hex(Rgb8 c) {
  static const char* digits = "0123456789abcdef";
  std::string s = "#";
  for (std::uint8_t v : c) {
    s += digits[v >> 4];
    s += digits[v & 15];
  }
  return s;
}

std::string xmlEscape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        // XML 1.0 forbids most control characters, even escaped.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t') out += ' ';
        else out += ch;
    }
  }
  return out;
}

std::string base64(std::string_view bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (unsigned char)bytes[i] << 16 | (unsigned char)bytes[i + 1] << 8 | (unsigned char)bytes[i + 2];
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  if (i < bytes.size()) {
    unsigned v = (unsigned char)bytes[i] << 16;
    if (i + 1 < bytes.size()) v |= (unsigned char)bytes[i + 1] << 8;
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? table[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string num(float v) { return shortest(std::round(v * 100) / 100); }

void svgText(std::string& out, const TextItem& t) {
  out += "<text x=\"" + num(t.x) + "\" y=\"" + num(t.y) + "\" font-size=\"" + num(t.px) + "\"";
  if (t.align == Align::Middle) out += " text-anchor=\"middle\"";
  if (t.align == Align::End) out += " text-anchor=\"end\"";
  if (t.bold) out += " font-weight=\"bold\"";
  if (t.color != kInk) out += " fill=\"" + hex(t.color) + "\"";
  if (t.vertical) out += " transform=\"rotate(-90 " + num(t.x) + " " + num(t.y) + ")\"";
  out += ">" + xmlEscape(t.text) + "</text>\n";
}

// The colour map, the one colour scale shared by every panel and the colour bar's label.
void applyColours(FigureRequest& r, const FigureOptions& o) {
  r.colormap = o.colormap.value_or(defaultColormap(o.stage));
  if (o.range) {
    r.range = *o.range;
  } else {
    // One scale shared by every panel, so heads can be compared by colour: the range of the
    // panels' extremes (two values per panel) is the range of all their values. Masked cells
    // are -inf in the display values and so never count.
    std::vector<float> extremes;
    for (const FigurePanel& p : r.panels) {
      float lo = INFINITY, hi = -INFINITY;
      for (long k = 0; k < p.values.size(); ++k) {
        const float v = p.values.data()[k];
        if (!std::isfinite(v)) continue;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      if (lo <= hi) extremes.insert(extremes.end(), {lo, hi});
    }
    StageColours colours;
    colours.unitRange = o.unitRange;
    r.range = stageRange(o.stage, r.colormap, extremes.data(), extremes.size(), colours);
  }
  r.colorbarLabel = stageInfo(o.stage).quantity;
  if (colourScaleApplies(o.stage, o.colourScale)) {
    // The cells hold the transformed values the colours come from, so numbers printed inside
    // them would not be the stage's values: a scaled figure names its scale instead.
    for (FigurePanel& p : r.panels) applyColourScale(p.values, o.colourScale, r.range);
    r.range = colourScaleRange(o.colourScale, r.range);
    r.colorbarLabel = colourScaleLabel(r.colorbarLabel, o.colourScale);
  }
}

// The options line names a colour scale other than linear, as the colour bar does.
std::string colourScaleNote(const FigureOptions& o) {
  if (!colourScaleApplies(o.stage, o.colourScale)) return "";
  return o.colourScale == ColourScale::Log ? " \u00B7 log colour scale" : " \u00B7 colours per row (row max = 1)";
}

void applySize(FigureRequest& r, const FigureOptions& o) {
  r.cellPx = o.cellPx;
  r.values = o.values && !colourScaleApplies(o.stage, o.colourScale);
  r.labels = o.labels;
  r.scale = o.scale;
}

}  // namespace

// ---------------------------------------------------------------- public

Colormap defaultColormap(StageId stage) { return stageColormap(stage); }

FigureRequest makeFigureRequest(const AttentionTrace& trace, const std::vector<std::string>& queryLabels,
                                const std::vector<std::string>& keyLabels, const std::string& inputName,
                                const FigureOptions& o) {
  const int H = trace.heads;
  if (int(trace.head.size()) != H || H < 1) throw Error("figure: the trace has no heads");
  if (o.head != kAllHeads && (o.head < 0 || o.head >= H))
    throw Error("head " + std::to_string(o.head) + " is out of range: this input has " + std::to_string(H) +
                (H == 1 ? " head (use 0 or all)" : " heads (use 0.." + std::to_string(H - 1) + " or all)"));
  if (o.range && !(o.range->lo < o.range->hi))
    throw Error("range " + shortest(o.range->lo) + ":" + shortest(o.range->hi) + " is empty: MIN must be less than MAX");
  if (o.range && !(std::isfinite(o.range->lo) && std::isfinite(o.range->hi)))
    throw Error("range MIN and MAX must be finite numbers");
  if (!(o.scale >= 0.25f && o.scale <= 8)) throw Error("scale must be between 0.25 and 8 (got " + shortest(o.scale) + ")");
  if (o.cellPx < 0 || o.cellPx > 512) throw Error("cell size must be between 1 and 512 pixels");

  const StageInfo& info = stageInfo(o.stage);
  if (!stageExists(trace, o.stage) && trace.head[0].scores.size() == 0)
    throw Error(std::string("stage ") + info.name + " is not in this trace: attention weights alone (a bundle "
                "without q and k) give the weights stage, and output when the bundle has v");
  if (!stageExists(trace, o.stage))
    throw Error(std::string("stage ") + info.name + " needs an output projection W_O (token mode)");
  const bool projected = info.shape == StageShape::Projected;
  const bool output = info.shape == StageShape::HeadOutput || projected;

  FigureRequest r;
  for (int h = 0; h < H; ++h) {
    if (projected ? h > 0 : o.head != kAllHeads && h != o.head) continue;
    Matrix scratch;
    const Matrix& values = stageDisplay(trace, o.stage, h, scratch);
    r.panels.push_back({projected ? "" : "head " + std::to_string(h), values});
  }
  const int n = trace.n, m = trace.m;
  if (info.masked && trace.options.mask != MaskKind::None) {
    r.mask.resize(n, m);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < m; ++j) r.mask(i, j) = isAllowed(trace.options, n, m, i, j) ? 1 : 0;
  }
  r.rowLabels = queryLabels;
  // Row sums: the cells are the exp values they sum, as on screen; each row's sum Z_i goes
  // beside its label (one head only: the heads' sums differ).
  if (info.shape == StageShape::HeadRows && r.panels.size() == 1) {
    const int h = o.head == kAllHeads ? 0 : o.head;
    r.rowLabels.resize(std::size_t(n));
    for (int i = 0; i < n; ++i) {
      const std::string label = i < int(queryLabels.size()) ? queryLabels[std::size_t(i)] : std::to_string(i);
      r.rowLabels[std::size_t(i)] = label + " \u03A3 " + fixed(trace.head[std::size_t(h)].rowSum(i), 2);
    }
  }
  const long cols = r.panels[0].values.cols();
  r.colLabels = stageColumnLabels(trace, o.stage, keyLabels);
  r.rowAxis = "query";
  r.colAxis = output ? "output dimension" : "key";
  applyColours(r, o);
  if (o.title) {
    r.title = *o.title;
  } else {
    const std::string which = projected ? "all heads"
                              : o.head == kAllHeads ? (H == 1 ? "head 0" : "all " + std::to_string(H) + " heads")
                                                    : "head " + std::to_string(o.head) + " of " + std::to_string(H);
    r.title = inputName + ": " + info.label + " " + info.title + ", " + which;
    const std::string scoreText = trace.options.score == ScoreFunction::Scaled ? "scaled dot product"
                                  : trace.options.score == ScoreFunction::Dot ? "dot product"
                                                                              : "cosine";
    const std::string shape = output ? std::to_string(n) + " queries \u00D7 " + std::to_string(cols) + " dimensions"
                                     : std::to_string(n) + " queries \u00D7 " + std::to_string(m) + " keys";
    r.subtitle = shape + " \u00B7 " + scoreText + " (" + describeScale(trace.options, trace.headKeyWidth()) +
                 ") \u00B7 mask " + toString(trace.options.mask);
    // Given weights (an attention bundle without q and k) were not computed here.
    if (trace.dk == 0) r.subtitle = shape + " \u00B7 weights as given \u00B7 mask " + toString(trace.options.mask);
    r.subtitle += colourScaleNote(o);
  }
  applySize(r, o);
  return r;
}

void applyStageColours(FigureRequest& r, const FigureOptions& o) { applyColours(r, o); }

namespace {

// Where sentence B starts along the token axes, and a note in the subtitle saying what the line is.
void markSentences(FigureRequest& r, const PreparedSession& prepared, StageId stage) {
  const auto b = std::find(prepared.sentence.begin(), prepared.sentence.end(), 1);
  if (b == prepared.sentence.end()) return;
  r.rowDivider = int(b - prepared.sentence.begin());
  r.colDivider = stageColumnsAreKeys(stage) ? r.rowDivider : -1;
  if (!r.subtitle.empty()) r.subtitle += " \u00B7 pink line: sentence B starts";
}

}  // namespace

FigureRequest makeFigureRequest(const AttentionTrace& trace, const PreparedSession& prepared,
                                const std::string& inputName, const FigureOptions& o) {
  const StageInfo& info = stageInfo(o.stage);
  if (!info.needsModel) {
    FigureRequest r = makeFigureRequest(trace, prepared.queryLabels, prepared.keyLabels, inputName, o);
    markSentences(r, prepared, o.stage);
    return r;
  }
  if (!stageExists(trace, prepared, o.stage))
    throw Error(std::string("stage ") + info.name +
                (o.stage == StageId::Rope ? " exists only for a rotary model (the Llama family)"
                 : prepared.block ? " does not exist at this layer (layer 0 has embedding, the others resid_pre)"
                                : " exists only in model mode (--model)"));
  const bool perHead = stageIsPerHead(o.stage);
  const int H = std::max(1, prepared.modelHeads);
  if (perHead && o.head != kAllHeads && (o.head < 0 || o.head >= H))
    throw Error("head " + std::to_string(o.head) + " is out of range: the model has " + std::to_string(H) +
                " heads (use 0.." + std::to_string(H - 1) + " or all)");
  FigureRequest r;
  for (int h = 0; h < (perHead ? H : 1); ++h) {
    if (perHead && o.head != kAllHeads && h != o.head) continue;
    Matrix scratch;
    r.panels.push_back({perHead ? "head " + std::to_string(h) : "", modelStageValues(prepared, o.stage, h, scratch)});
  }
  r.rowLabels = prepared.queryLabels;
  r.colLabels = stageColumnLabels(trace, prepared, o.stage);
  r.rowAxis = "token";
  r.colAxis = "dimension";
  applyColours(r, o);
  if (o.title) {
    r.title = *o.title;
  } else {
    const std::string which = !perHead ? "" : o.head == kAllHeads ? ", all " + std::to_string(H) + " heads"
                                                                  : ", head " + std::to_string(o.head);
    r.title = inputName + ": " + info.label + " " + info.title + which;
    r.subtitle = std::to_string(r.panels[0].values.rows()) + " tokens \u00D7 " +
                 std::to_string(r.panels[0].values.cols()) + " dimensions \u00B7 " + info.formula;
  }
  markSentences(r, prepared, o.stage);
  applySize(r, o);
  return r;
}

FigureLayout layoutFigure(const FigureRequest& request) { return buildScene(request).layout; }

std::string renderFigurePng(const FigureRequest& r) {
  const Scene scene = buildScene(r);
  const FigureLayout& L = scene.layout;
  const FontSet& fonts = FontSet::standard();
  Canvas canvas(L.width, L.height);
  for (std::size_t p = 0; p < r.panels.size(); ++p) drawCells(canvas, r, scene, r.panels[p], L.heatmaps[p], 0, 0);
  for (const PixelBox& f : scene.frames) canvas.outline(f, scene.frameWidth, kFrame);
  // The colour bar maps each pixel row's value through the same lutIndex as the cells.
  const ColormapLut& lut = colormapLut(r.colormap);
  const PixelBox& bar = L.colorbar;
  for (int y = 0; y < bar.h; ++y) {
    const float f = (float(bar.h - y) - 0.5f) / float(bar.h);
    const Rgb8 c = lut[lutIndex(r.range.lo + f * (r.range.hi - r.range.lo), r.range.lo, r.range.hi)];
    canvas.fill({bar.x, bar.y + y, bar.w, 1}, c);
  }
  for (const PixelBox& t : scene.tickMarks) canvas.fill(t, kFrame);
  for (const PixelBox& d : scene.dividers) canvas.fill(d, kSentenceDivider);
  if (L.legend) {
    const PixelBox& sw = scene.legendSwatch;
    for (int y = sw.y; y < sw.y + sw.h; ++y)
      for (int x = sw.x; x < sw.x + sw.w; ++x)
        std::memcpy(canvas.at(x, y), (hatched(x, y, scene) ? kMaskedHatch : kMaskedColor).data(), 3);
  }
  for (const TextItem& t : scene.texts) drawText(canvas, fonts, t);
  if (r.values)
    for (std::size_t p = 0; p < r.panels.size(); ++p)
      forEachValue(r, scene, r.panels[p], L.heatmaps[p], [&](const TextItem& t) { drawText(canvas, fonts, t); });
  return encodePng(canvas);
}

std::string renderFigureSvg(const FigureRequest& r) {
  const Scene scene = buildScene(r);
  const FigureLayout& L = scene.layout;
  const ColormapLut& lut = colormapLut(r.colormap);
  const std::string W = std::to_string(L.width), H = std::to_string(L.height);
  std::string out;
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" version=\"1.1\" width=\"" +
         W + "\" height=\"" + H + "\" viewBox=\"0 0 " + W + " " + H + "\" font-family=\"" + xmlEscape(scene.family) +
         "\" fill=\"" + hex(kInk) + "\">\n";
  // The hatch tile covers (x + y) mod p < w, the same rule as the PNG, anchored at the origin.
  const std::string p = std::to_string(scene.hatchPeriod), hw = std::to_string(scene.hatchWidth);
  out += "<defs>\n<pattern id=\"masked\" patternUnits=\"userSpaceOnUse\" x=\"1\" width=\"" + p + "\" height=\"" + p + "\">";
  out += "<path d=\"M0 0H" + p + "V" + p + "H0Z\" fill=\"" + hex(kMaskedColor) + "\"/>";
  out += "<path d=\"M0 0H" + hw + "L0 " + hw + "ZM" + p + " 0L" + p + " " + hw + "L" + hw + " " + p + "L0 " + p +
         "Z\" fill=\"" + hex(kMaskedHatch) + "\"/></pattern>\n";
  // Two stops per LUT entry: hard steps, so the bar shows exactly the 256 table colours.
  out += "<linearGradient id=\"colorbar\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int k = 0; k < 256; ++k) {
    const std::string c = hex(lut[k]);
    out += "<stop offset=\"" + shortest(k / 256.0) + "\" stop-color=\"" + c + "\"/>";
    out += "<stop offset=\"" + shortest((k + 1) / 256.0) + "\" stop-color=\"" + c + "\"/>";
  }
  out += "</linearGradient>\n</defs>\n";
  out += "<rect width=\"" + W + "\" height=\"" + H + "\" fill=\"#ffffff\"/>\n";

  const int cell = L.cellPx;
  const std::string cs = std::to_string(cell);
  for (std::size_t pIdx = 0; pIdx < r.panels.size(); ++pIdx) {
    const FigurePanel& panel = r.panels[pIdx];
    const PixelBox& heat = L.heatmaps[pIdx];
    if (L.vectorCells) {
      out += "<g shape-rendering=\"crispEdges\">\n";
      for (long i = 0; i < panel.values.rows(); ++i)
        for (long j = 0; j < panel.values.cols(); ++j) {
          const bool masked = cellMasked(r, panel.values, int(i), int(j));
          const std::string fill =
              masked ? "url(#masked)" : hex(lut[lutIndex(panel.values(i, j), r.range.lo, r.range.hi)]);
          out += "<rect class=\"cell\" x=\"" + std::to_string(heat.x + j * cell) + "\" y=\"" +
                 std::to_string(heat.y + i * cell) + "\" width=\"" + cs + "\" height=\"" + cs + "\" fill=\"" + fill + "\"/>\n";
        }
      out += "</g>\n";
    } else {
      Canvas img(heat.w, heat.h);
      drawCells(img, r, scene, panel, {0, 0, heat.w, heat.h}, heat.x, heat.y);
      out += "<image class=\"cells\" x=\"" + std::to_string(heat.x) + "\" y=\"" + std::to_string(heat.y) +
             "\" width=\"" + std::to_string(heat.w) + "\" height=\"" + std::to_string(heat.h) +
             "\" preserveAspectRatio=\"none\" image-rendering=\"pixelated\" style=\"image-rendering:pixelated\" "
             "xlink:href=\"data:image/png;base64," +
             base64(encodePng(img)) + "\"/>\n";
    }
  }
  const std::string fwS = std::to_string(scene.frameWidth);
  const float half = scene.frameWidth / 2.0f;
  for (const PixelBox& f : scene.frames)
    out += "<rect x=\"" + num(f.x + half) + "\" y=\"" + num(f.y + half) + "\" width=\"" + num(f.w - 2 * half) +
           "\" height=\"" + num(f.h - 2 * half) + "\" fill=\"none\" stroke=\"" + hex(kFrame) + "\" stroke-width=\"" +
           fwS + "\"/>\n";
  const PixelBox& bar = L.colorbar;
  out += "<rect x=\"" + std::to_string(bar.x) + "\" y=\"" + std::to_string(bar.y) + "\" width=\"" +
         std::to_string(bar.w) + "\" height=\"" + std::to_string(bar.h) + "\" fill=\"url(#colorbar)\"/>\n";
  for (const PixelBox& t : scene.tickMarks)
    out += "<rect x=\"" + std::to_string(t.x) + "\" y=\"" + std::to_string(t.y) + "\" width=\"" + std::to_string(t.w) +
           "\" height=\"" + std::to_string(t.h) + "\" fill=\"" + hex(kFrame) + "\"/>\n";
  for (const PixelBox& d : scene.dividers)
    out += "<rect class=\"sentence-divider\" x=\"" + std::to_string(d.x) + "\" y=\"" + std::to_string(d.y) +
           "\" width=\"" + std::to_string(d.w) + "\" height=\"" + std::to_string(d.h) + "\" fill=\"" +
           hex(kSentenceDivider) + "\"/>\n";
  if (L.legend) {
    const PixelBox& sw = scene.legendSwatch;
    out += "<rect x=\"" + std::to_string(sw.x) + "\" y=\"" + std::to_string(sw.y) + "\" width=\"" +
           std::to_string(sw.w) + "\" height=\"" + std::to_string(sw.h) + "\" fill=\"url(#masked)\"/>\n";
  }
  for (const TextItem& t : scene.texts) svgText(out, t);
  if (r.values)
    for (std::size_t pIdx = 0; pIdx < r.panels.size(); ++pIdx)
      forEachValue(r, scene, r.panels[pIdx], L.heatmaps[pIdx], [&](const TextItem& t) { svgText(out, t); });
  out += "</svg>\n";
  return out;
}

}  // namespace attnviz
