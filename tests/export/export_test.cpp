// Figure export: pixels are checked against the colour map, not just "a file was written".
#include <gtest/gtest.h>
#include <stb_image.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <set>

#include "figure/colormap.hpp"
#include "figure/figure.hpp"
#include "figure/session_figure.hpp"
#include "figure/picture_overlay.hpp"
#include "figure/font.hpp"
#include "matrix_io.hpp"
#include "session.hpp"
#include "session_stages.hpp"
#include "stages.hpp"

namespace {

using namespace attnviz;
namespace fs = std::filesystem;

struct Image {
  int w = 0, h = 0;
  std::vector<std::uint8_t> rgb;
  Rgb8 at(int x, int y) const {
    const std::uint8_t* p = rgb.data() + (std::size_t(y) * w + x) * 3;
    return {p[0], p[1], p[2]};
  }
};

Image decodePng(const std::string& bytes) {
  Image img;
  int channels = 0;
  unsigned char* data = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()),
                                              &img.w, &img.h, &channels, 3);
  if (!data) throw std::runtime_error("not a PNG");
  img.rgb.assign(data, data + std::size_t(img.w) * img.h * 3);
  stbi_image_free(data);
  return img;
}

std::string str(Rgb8 c) { return std::to_string(c[0]) + "," + std::to_string(c[1]) + "," + std::to_string(c[2]); }

// rows×cols values spread over [-1, 1] (so every part of a map is used), with the cells where
// (i + 2j) % 5 == 0 masked.
FigureRequest rampRequest(int rows, int cols, Colormap map, int cell) {
  FigureRequest r;
  Matrix m(rows, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) m(i, j) = -1.0f + 2.0f * float(i * cols + j) / float(rows * cols - 1);
  r.panels.push_back({"head 0", m});
  r.mask = MaskMatrix::Ones(rows, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j)
      if ((i + 2 * j) % 5 == 0) r.mask(i, j) = 0;
  // Appending, since GCC 12 warns falsely (-Wrestrict) on "literal" + std::to_string() at -O3.
  for (int i = 0; i < rows; ++i) r.rowLabels.push_back(std::string("q").append(std::to_string(i)));
  for (int j = 0; j < cols; ++j) r.colLabels.push_back(std::string("key number ").append(std::to_string(j)));
  r.colormap = map;
  r.range = {-1, 1};
  r.cellPx = cell;
  r.title = "ramp";
  r.colorbarLabel = "value";
  return r;
}

struct CliRun {
  int code = -1;
  std::string output;  // stdout and stderr
};

CliRun runAttnviz(const std::string& args) {
  CliRun run;
  FILE* pipe = popen((std::string(ATTNVIZ_EXE) + " " + args + " 2>&1").c_str(), "r");
  if (!pipe) return run;
  char buf[4096];
  while (std::size_t got = std::fread(buf, 1, sizeof buf, pipe)) run.output.append(buf, got);
  const int status = pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("attnviz-export-test-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path_)) out.push_back(e.path().filename().string());
    return out;
  }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

// ------------------------------------------------------------------ colour maps

TEST(Colormap, TablesMatchThePublishedEndpoints) {
  EXPECT_EQ(colormapLut(Colormap::Viridis)[0], (Rgb8{68, 1, 84}));
  EXPECT_EQ(colormapLut(Colormap::Viridis)[255], (Rgb8{253, 231, 37}));
  EXPECT_EQ(colormapLut(Colormap::Magma)[0], (Rgb8{0, 0, 4}));
  EXPECT_EQ(colormapLut(Colormap::Magma)[255], (Rgb8{252, 253, 191}));
  EXPECT_EQ(colormapLut(Colormap::Cividis)[0], (Rgb8{0, 34, 78}));
  EXPECT_EQ(colormapLut(Colormap::RdBu)[0], (Rgb8{5, 48, 97}));      // most negative: blue
  EXPECT_EQ(colormapLut(Colormap::RdBu)[255], (Rgb8{103, 0, 31}));   // most positive: red
  // Zero sits in the near-white middle of the diverging map.
  const Rgb8 zero = mapValue(Colormap::RdBu, 0.0f, -3.0f, 3.0f);
  EXPECT_GE(std::min({zero[0], zero[1], zero[2]}), 240) << str(zero);
}

TEST(Colormap, SequentialMapsGetBrighterMonotonically) {
  for (Colormap m : {Colormap::Viridis, Colormap::Magma, Colormap::Cividis}) {
    const ColormapLut& lut = colormapLut(m);
    const auto luma = [](Rgb8 c) { return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; };
    for (int i = 8; i < 256; i += 8) EXPECT_GT(luma(lut[i]), luma(lut[i - 8])) << toString(m) << " at " << i;
  }
}

TEST(Colormap, IndexMatchesNearestTextureSampling) {
  EXPECT_EQ(lutIndex(0.0f, 0.0f, 1.0f), 0);
  EXPECT_EQ(lutIndex(1.0f, 0.0f, 1.0f), 255);
  EXPECT_EQ(lutIndex(2.0f, 0.0f, 1.0f), 255);
  EXPECT_EQ(lutIndex(-2.0f, 0.0f, 1.0f), 0);
  // GL_NEAREST on a 256-texel row returns texel floor(t·256).
  EXPECT_EQ(lutIndex(0.5f, 0.0f, 1.0f), 128);
  EXPECT_EQ(lutIndex(1.0f / 256.0f - 1e-6f, 0.0f, 1.0f), 0);
  EXPECT_EQ(lutIndex(1.0f / 256.0f + 1e-6f, 0.0f, 1.0f), 1);
  EXPECT_EQ(mapValue(Colormap::Viridis, -INFINITY, 0, 1), kMaskedColor);
}

TEST(Colormap, NamesRoundTripAndUnknownNamesAreErrors) {
  for (Colormap m : {Colormap::Viridis, Colormap::Magma, Colormap::Cividis, Colormap::RdBu})
    EXPECT_EQ(parseColormap(toString(m)), m);
  EXPECT_THROW(parseColormap("jet"), Error);
}

TEST(Colormap, AutoRangeSkipsMaskedAndInfiniteValues) {
  const float v[] = {-INFINITY, 0.25f, 0.5f, 9.0f, NAN};
  const std::uint8_t mask[] = {1, 1, 1, 0, 1};
  EXPECT_EQ(autoRange(v, 5, false, mask), (ValueRange{0.25f, 0.5f}));
  EXPECT_EQ(autoRange(v, 5, true, mask), (ValueRange{-0.5f, 0.5f}));
  EXPECT_EQ(autoRange(v, 0, false), (ValueRange{0, 1}));
  const float same[] = {2, 2};
  const ValueRange r = autoRange(same, 2, false);
  EXPECT_LT(r.lo, 2.0f);
  EXPECT_GT(r.hi, 2.0f);
}

// ------------------------------------------------------------------ PNG pixels

void expectCellsMatchColormap(const FigureRequest& r) {
  const FigureLayout layout = layoutFigure(r);
  const Image img = decodePng(renderFigurePng(r));
  ASSERT_EQ(img.w, layout.width);
  ASSERT_EQ(img.h, layout.height);
  const ColormapLut& lut = colormapLut(r.colormap);
  const int cell = layout.cellPx;
  for (std::size_t p = 0; p < r.panels.size(); ++p) {
    const Matrix& v = r.panels[p].values;
    const PixelBox& box = layout.heatmaps[p];
    ASSERT_EQ(box.w, v.cols() * cell);
    ASSERT_EQ(box.h, v.rows() * cell);
    for (int i = 0; i < v.rows(); ++i)
      for (int j = 0; j < v.cols(); ++j) {
        const bool masked = r.mask.size() && !r.mask(i, j);
        const Rgb8 want = lut[lutIndex(v(i, j), r.range.lo, r.range.hi)];
        bool sawMaskBase = false;
        for (int y = 0; y < cell; ++y)
          for (int x = 0; x < cell; ++x) {
            const Rgb8 got = img.at(box.x + j * cell + x, box.y + i * cell + y);
            if (masked) {
              ASSERT_TRUE(got == kMaskedColor || got == kMaskedHatch)
                  << "masked cell (" << i << "," << j << ") pixel " << x << "," << y << " is " << str(got);
              sawMaskBase |= got == kMaskedColor;
            } else {
              ASSERT_EQ(got, want) << "cell (" << i << "," << j << ") pixel " << x << "," << y << ": got " << str(got)
                                   << ", want " << str(want);
            }
          }
        if (masked && cell >= 4) {
          EXPECT_TRUE(sawMaskBase) << "masked cell (" << i << "," << j << ")";
        }
      }
  }
}

TEST(FigurePng, EveryCellPixelIsTheColormapOfItsValueAndMaskedExactlyWhereMasked) {
  for (Colormap m : {Colormap::Viridis, Colormap::Magma, Colormap::Cividis, Colormap::RdBu}) {
    SCOPED_TRACE(toString(m));
    expectCellsMatchColormap(rampRequest(9, 13, m, 14));
  }
}

TEST(FigurePng, OnePixelCellsAndHighDpiScaleStayExact) {
  expectCellsMatchColormap(rampRequest(40, 70, Colormap::Viridis, 1));
  FigureRequest r = rampRequest(6, 5, Colormap::Magma, 10);
  r.scale = 2.5f;
  EXPECT_EQ(layoutFigure(r).cellPx, 25);
  expectCellsMatchColormap(r);
}

TEST(FigurePng, SmallMultiplesShareOneScale) {
  FigureRequest r = rampRequest(5, 6, Colormap::RdBu, 12);
  Matrix second = r.panels[0].values * 0.5f;
  r.panels.push_back({"head 1", second});
  r.panels.push_back({"head 2", -second});
  const FigureLayout layout = layoutFigure(r);
  ASSERT_EQ(layout.heatmaps.size(), 3u);
  for (std::size_t a = 0; a < 3; ++a)
    for (std::size_t b = a + 1; b < 3; ++b) EXPECT_FALSE(layout.heatmaps[a].intersects(layout.heatmaps[b]));
  expectCellsMatchColormap(r);
}

TEST(FigurePng, ValueLabelsContrastWithTheirCells) {
  FigureRequest r;
  Matrix m(1, 2);
  m << 0.0f, 1.0f;  // viridis: dark purple, then bright yellow
  r.panels.push_back({"", m});
  r.range = {0, 1};
  r.cellPx = 48;
  r.values = true;
  const FigureLayout layout = layoutFigure(r);
  const Image img = decodePng(renderFigurePng(r));
  int white = 0, black = 0;
  const PixelBox& box = layout.heatmaps[0];
  for (int y = box.y; y < box.y + box.h; ++y)
    for (int x = box.x; x < box.x + box.w; ++x) {
      const Rgb8 c = img.at(x, y);
      const bool dark = x < box.x + 48;
      // Anti-aliased strokes: near white on the dark cell, near black on the bright one.
      if (dark && std::min({c[0], c[1], c[2]}) >= 200) ++white;
      if (!dark && std::max({c[0], c[1], c[2]}) <= 60) ++black;
    }
  EXPECT_GT(white, 5);
  EXPECT_GT(black, 5);
  r.cellPx = 8;
  EXPECT_THROW(layoutFigure(r), Error);  // too small for readable numbers: say so, don't draw garbage
}

// ------------------------------------------------------------------ layout

TEST(FigureLayout, LabelsNeverOverlapCellsOrEachOther) {
  for (int cell : {3, 14, 40}) {
    SCOPED_TRACE(cell);
    FigureRequest r = rampRequest(24, 24, Colormap::Viridis, cell);
    r.panels.push_back({"head 1", r.panels[0].values});
    const FigureLayout layout = layoutFigure(r);
    ASSERT_FALSE(layout.texts.empty());
    for (const PixelBox& t : layout.texts) {
      EXPECT_GE(t.x, 0);
      EXPECT_GE(t.y, 0);
      EXPECT_LE(t.x + t.w, layout.width);
      EXPECT_LE(t.y + t.h, layout.height);
      for (const PixelBox& h : layout.heatmaps) EXPECT_FALSE(t.intersects(h)) << t.x << "," << t.y;
      EXPECT_FALSE(t.intersects(layout.colorbar));
    }
  }
}

TEST(FigureLayout, CrowdedLabelsAreThinnedAndLongOnesEllipsised) {
  FigureRequest r = rampRequest(300, 300, Colormap::Viridis, 2);
  const FigureLayout crowded = layoutFigure(r);
  EXPECT_GT(crowded.rowLabelStep, 1);
  EXPECT_GT(crowded.colLabelStep, 1);
  // Each drawn row label fits in its share of the axis: at most one per step·cell pixels.
  EXPECT_GE(crowded.rowLabelStep * crowded.cellPx, 11);
  EXPECT_EQ(layoutFigure(rampRequest(10, 10, Colormap::Viridis, 30)).rowLabelStep, 1);

  const FontSet& fonts = FontSet::standard();
  const std::string longToken(200, 'w');
  const std::string cut = fonts.ellipsize(longToken, 11, 100);
  EXPECT_LE(fonts.advance(cut, 11), 100.0f);
  EXPECT_EQ(cut.substr(cut.size() - 3), "\u2026");
  EXPECT_EQ(fonts.ellipsize("short", 11, 100), "short");
}

TEST(FigureFonts, CjkAndGreekFallBackToFontsThatHaveThem) {
  const FontSet& fonts = FontSet::standard();
  // A replacement box is what a missing glyph would give; real glyphs differ from it.
  const TextBitmap box = fonts.rasterize("\uFFFD", 20);
  for (const char* text : {"注意力", "αβγ √ Σ", "한국어", "déjà"}) {
    const TextBitmap t = fonts.rasterize(text, 20);
    EXPECT_GT(t.width, 10) << text;
    EXPECT_NE(t.coverage, box.coverage) << text;
    EXPECT_GT(fonts.advance(text, 20), 15.0f) << text;
  }
  // Two different ideographs give different pictures (not the same fallback box).
  EXPECT_NE(fonts.rasterize("注", 20).coverage, fonts.rasterize("意", 20).coverage);
  // Invalid UTF-8 still renders (as U+FFFD) instead of throwing.
  EXPECT_NO_THROW(fonts.rasterize("bad \xff\xfe bytes", 12));
}

// ------------------------------------------------------------------ SVG

std::string writeTemp(const TempDir& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir / name;
  writeFileAtomic(path, bytes);
  return path;
}

int countOf(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (std::size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

TEST(FigureSvg, ParsesAndHasOneRectPerCell) {
  TempDir dir;
  FigureRequest r = rampRequest(7, 11, Colormap::Cividis, 20);
  r.rowLabels[2] = "<&\"'>";  // escaped, or xmllint fails
  r.colLabels[3] = "注意";
  const std::string svg = renderFigureSvg(r);
  const std::string path = writeTemp(dir, "f.svg", svg);
  EXPECT_EQ(std::system(("xmllint --noout " + path).c_str()), 0) << svg.substr(0, 2000);
  EXPECT_EQ(countOf(svg, "<rect class=\"cell\""), 7 * 11);
  int masked = 0;
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 11; ++j) masked += r.mask(i, j) == 0;
  EXPECT_EQ(countOf(svg, "fill=\"url(#masked)\"/>\n"), masked + 1);  // + the legend swatch
  EXPECT_NE(svg.find("注意"), std::string::npos);
  EXPECT_EQ(countOf(svg, "<image"), 0);
  // Cell colours are the colour map's, as in the PNG.
  const ColormapLut& lut = colormapLut(Colormap::Cividis);
  const Rgb8 c = lut[lutIndex(r.panels[0].values(0, 1), -1, 1)];
  char hex[8];
  std::snprintf(hex, sizeof hex, "#%02x%02x%02x", c[0], c[1], c[2]);
  EXPECT_NE(svg.find(std::string("fill=\"") + hex + "\""), std::string::npos);
}

TEST(FigureSvg, LargeInputsEmbedTheCellsAsOneImageButKeepTextLabels) {
  TempDir dir;
  FigureRequest r = rampRequest(130, 129, Colormap::Viridis, 2);
  EXPECT_FALSE(layoutFigure(r).vectorCells);
  const std::string svg = renderFigureSvg(r);
  EXPECT_EQ(countOf(svg, "<rect class=\"cell\""), 0);
  EXPECT_EQ(countOf(svg, "<image class=\"cells\""), 1);
  EXPECT_GT(countOf(svg, "<text"), 20);
  EXPECT_EQ(std::system(("xmllint --noout " + writeTemp(dir, "big.svg", svg)).c_str()), 0);
  EXPECT_TRUE(layoutFigure(rampRequest(128, 128, Colormap::Viridis, 2)).vectorCells);
}

TEST(FigureOutput, SameRequestGivesIdenticalBytes) {
  const FigureRequest r = rampRequest(12, 12, Colormap::RdBu, 16);
  EXPECT_EQ(renderFigurePng(r), renderFigurePng(r));
  EXPECT_EQ(renderFigureSvg(r), renderFigureSvg(r));
}

// ------------------------------------------------------------------ requests from a trace

// A sample's trace and labels, and the figure request for them.
struct SampleTrace {
  std::string name;
  Session s;
  PreparedSession p;
  AttentionTrace t;
  explicit SampleTrace(const std::string& sample, float temperature = 0, int layer = -1)
      : name(sample), s(loadSample(sample)) {
    if (temperature > 0) s.options.temperature = temperature;
    if (layer >= 0) s.view.layer = layer;
    p = prepare(s);
    t = computeAttention(p.inputs, s.options);
  }
  FigureRequest request(const FigureOptions& o) const {
    return makeFigureRequest(t, p, name, o);
  }
};

TEST(FigureRequestFromTrace, DefaultsRangesMaskAndTitle) {
  const Session s = loadSample("causal-lm-toy");
  const PreparedSession p = prepare(s);
  const AttentionTrace t = computeAttention(p.inputs, s.options);
  FigureOptions o;
  o.stage = StageId::Weights;
  o.head = kAllHeads;
  FigureRequest r = makeFigureRequest(t, p.queryLabels, p.keyLabels, "causal-lm-toy", o);
  EXPECT_EQ(int(r.panels.size()), t.heads);
  EXPECT_EQ(r.colormap, Colormap::Viridis);
  ASSERT_EQ(r.mask.rows(), t.n);
  EXPECT_EQ(r.mask(0, t.m - 1), 0);  // causal: the first query cannot see the last key
  EXPECT_NE(r.title.find("causal-lm-toy"), std::string::npos);
  EXPECT_NE(r.subtitle.find("mask causal"), std::string::npos);

  o.stage = StageId::Scores;
  o.head = 0;
  r = makeFigureRequest(t, p.queryLabels, p.keyLabels, "causal-lm-toy", o);
  EXPECT_EQ(r.colormap, Colormap::RdBu);
  EXPECT_EQ(r.range.lo, -r.range.hi);  // diverging: centred on 0
  EXPECT_EQ(r.mask.size(), 0);         // the mask is not applied to raw scores yet

  o.head = t.heads;
  EXPECT_THROW(makeFigureRequest(t, p.queryLabels, p.keyLabels, "x", o), Error);
  o.head = 0;
  o.range = ValueRange{1, 1};
  EXPECT_THROW(makeFigureRequest(t, p.queryLabels, p.keyLabels, "x", o), Error);
}

// Each stage has its own colour rule, the app's: [0, max] for exp, row sums and weights,
// centred on 0 for the signed stages; the colour bar names the stage's own values.
TEST(FigureRequestFromTrace, EveryStageHasItsOwnRangeAndLabel) {
  const SampleTrace pronoun("pronoun-toy");
  // The model's steps: layer 0 starts from the embedding, layer 1 from the residual stream.
  const SampleTrace layer0("pronoun", 0, 0), layer1("pronoun", 0, 1);
  const SampleTrace encoder("bert-pronoun", 0, 0);  // post-norm: the LayerNorm after the add
  for (const StageInfo& st : stageList()) {
    SCOPED_TRACE(st.name);
    if (st.id == StageId::Rope) continue;  // rotary models only (GPT-2 has none): stages_test, llama_mode_test
    const SampleTrace& src = !st.needsModel                 ? pronoun
                             : st.id == StageId::ResidPre ? layer1
                             : st.id == StageId::PostNorm ? encoder
                                                          : layer0;
    const AttentionTrace& t = src.t;
    FigureOptions o;
    o.stage = st.id;
    const FigureRequest r = src.request(o);
    ASSERT_EQ(r.panels.size(), 1u);
    Matrix scratch;
    const Matrix& shown = stageDisplay(t, src.p, st.id, 0, scratch);
    EXPECT_TRUE(r.panels[0].values == shown);
    const float top = shown.maxCoeff(), bottom = shown.minCoeff();
    EXPECT_EQ(r.colorbarLabel, st.quantity);
    if (st.id == StageId::RowSum) {  // the sums beside the rows, as on screen
      const std::string prefix = src.p.queryLabels[7] + " \u03A3 ";
      ASSERT_EQ(r.rowLabels[7].rfind(prefix, 0), 0u) << r.rowLabels[7];
      EXPECT_NEAR(std::stof(r.rowLabels[7].substr(prefix.size())), t.head[0].rowSum(7), 0.005f);
    }
    if (st.kind == ValueKind::Signed) {
      EXPECT_EQ(r.colormap, Colormap::RdBu);
      EXPECT_EQ(r.range.hi, std::max(std::fabs(top), std::fabs(bottom)));
      EXPECT_EQ(r.range.lo, -r.range.hi);
    } else {
      EXPECT_EQ(r.colormap, Colormap::Viridis);
      EXPECT_EQ(r.range.lo, 0);  // the screen's [0, max], not [min, max]
      EXPECT_EQ(r.range.hi, top);
    }
  }
  FigureOptions o;
  o.stage = StageId::Exp;
  EXPECT_EQ(pronoun.request(o).range.hi, 1.0f);  // exp(0) in each row
  o.unitRange = true;
  o.stage = StageId::Weights;
  EXPECT_EQ(pronoun.request(o).range, (ValueRange{0, 1}));
}

// A sentence pair: a line in the label margins where sentence B starts, the app's pink; along the
// columns only where they are keys; none for one sentence.
TEST(FigureRequestFromTrace, SentencePairDividerWhereSentenceBStarts) {
  const SampleTrace pair("bert-pair", 0, 0);
  const auto firstB = std::find(pair.p.sentence.begin(), pair.p.sentence.end(), 1);
  ASSERT_NE(firstB, pair.p.sentence.end());
  const int b = int(firstB - pair.p.sentence.begin());
  FigureOptions o;
  o.stage = StageId::Weights;
  FigureRequest r = pair.request(o);
  EXPECT_EQ(r.rowDivider, b);
  EXPECT_EQ(r.colDivider, b);
  EXPECT_NE(r.subtitle.find("sentence B"), std::string::npos);
  const FigureLayout L = layoutFigure(r);
  const Image img = decodePng(renderFigurePng(r));
  const Rgb8 pink{235, 120, 215};
  const PixelBox& heat = L.heatmaps[0];
  const int fw = std::max(1, int(std::lround(r.scale)));
  EXPECT_EQ(str(img.at(heat.x - fw - 2, heat.y + b * L.cellPx)), str(pink)) << "row divider left of the cells";
  EXPECT_EQ(str(img.at(heat.x + b * L.cellPx, heat.y + heat.h + fw + 2)), str(pink)) << "column divider below";
  EXPECT_NE(str(img.at(heat.x - fw - 2, heat.y + (b - 1) * L.cellPx + L.cellPx / 2)), str(pink)) << "only at B's start";
  const std::string svg = renderFigureSvg(r);
  std::size_t count = 0;
  for (std::size_t at = svg.find("sentence-divider"); at != std::string::npos; at = svg.find("sentence-divider", at + 1))
    ++count;
  EXPECT_EQ(count, 2u);

  o.stage = StageId::Query;  // columns are dimensions: the row divider only
  r = pair.request(o);
  EXPECT_EQ(r.rowDivider, b);
  EXPECT_EQ(r.colDivider, -1);
  const SampleTrace one("bert-pronoun", 0, 0);
  o.stage = StageId::Weights;
  r = one.request(o);
  EXPECT_EQ(r.rowDivider, -1);
  EXPECT_EQ(renderFigureSvg(r).find("sentence-divider"), std::string::npos);
}

TEST(FigureRequestFromTrace, ProjectedIsOnePanelOfDimensions) {
  const SampleTrace pronoun("pronoun-toy");
  const AttentionTrace& t = pronoun.t;
  FigureOptions o;
  o.stage = StageId::Projected;
  o.head = kAllHeads;
  const FigureRequest r = pronoun.request(o);
  ASSERT_EQ(r.panels.size(), 1u);
  EXPECT_TRUE(r.panels[0].values == t.projected);
  EXPECT_EQ(r.range.hi, t.projected.cwiseAbs().maxCoeff());
  EXPECT_NE(r.subtitle.find("11 queries \u00D7 32 dimensions"), std::string::npos) << r.subtitle;
  EXPECT_EQ(r.colLabels.size(), 32u);
  EXPECT_EQ(r.colAxis, "output dimension");

  EXPECT_THROW(SampleTrace("temperature").request(o), Error);  // matrices: no W_O
}

TEST(FigureRequestFromTrace, SubtitleStatesTheFactorOnce) {
  const SampleTrace cold("temperature", 0.1f);
  const FigureRequest r = cold.request(FigureOptions{});
  const std::string want = describeScale(cold.s.options, cold.t.headKeyWidth());
  EXPECT_NE(r.subtitle.find("(" + want + ")"), std::string::npos) << r.subtitle;
  EXPECT_NE(want.find("\u00F7 temperature 0.1 \u2192"), std::string::npos) << want;
  EXPECT_EQ(r.subtitle.find("\u00B7 temperature"), std::string::npos) << r.subtitle;  // not a second time
}

// ------------------------------------------------------------------ the real binary

TEST(ExportCli, WritesPngAndSvgAndIsDeterministic) {
  TempDir dir;
  const std::string args = "--sample pronoun-toy --stage weights --head all --png " + (dir / "a.png") + " --svg " + (dir / "a.svg");
  const CliRun first = runAttnviz("export " + args);
  ASSERT_EQ(first.code, 0) << first.output;
  const std::string png1 = readFile(dir / "a.png"), svg1 = readFile(dir / "a.svg");
  const CliRun second = runAttnviz("export " + args);
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_EQ(readFile(dir / "a.png"), png1);
  EXPECT_EQ(readFile(dir / "a.svg"), svg1);
  EXPECT_EQ(std::system(("xmllint --noout " + (dir / "a.svg")).c_str()), 0);
  const std::vector<std::string> entries = dir.entries();
  EXPECT_EQ(std::set<std::string>({"a.png", "a.svg"}), std::set<std::string>(entries.begin(), entries.end()));
}

// `--layer all --head all`: the whole model in one figure, a row of heads per layer, one colour
// scale over every panel; the same bytes as the library call.
TEST(ExportCli, EveryLayerAndHeadInOneFigure) {
  TempDir dir;
  const std::string png = dir / "model.png";
  const CliRun run = runAttnviz("export --sample induction --layer all --head all --png " + png);
  ASSERT_EQ(run.code, 0) << run.output;
  const Session s = loadSample("induction");
  FigureInput input;
  input.sample = "induction";
  FigureOptions o;
  o.head = kAllHeads;
  const FigureRequest r = makeLayersFigure(s, input, o);
  EXPECT_EQ(readFile(png), renderFigurePng(r));
  const PreparedSession p = prepare(s);
  ASSERT_EQ(int(r.panels.size()), p.modelLayers * p.modelHeads);
  EXPECT_EQ(r.gridColumns, p.modelHeads);
  EXPECT_EQ(r.panels[std::size_t(p.modelHeads + 2)].caption, "L1 H2");
  float hi = 0;
  for (int layer = 0; layer < p.modelLayers; ++layer) {
    Session at = s;
    at.view.layer = layer;
    const PreparedSession pl = prepare(at);
    const AttentionTrace t = computeAttention(pl.inputs, at.options);
    for (int h = 0; h < p.modelHeads; ++h) {
      const Matrix& shown = r.panels[std::size_t(layer * p.modelHeads + h)].values;
      Matrix scratch;
      EXPECT_TRUE(shown == stageDisplay(t, StageId::Weights, h, scratch)) << "layer " << layer << " head " << h;
      hi = std::max(hi, t.head[std::size_t(h)].weights.maxCoeff());
    }
  }
  EXPECT_EQ(r.range.lo, 0.0f);  // weights: [0, the largest weight of any panel]
  EXPECT_EQ(r.range.hi, hi);
  EXPECT_NE(r.title.find("every layer and head"), std::string::npos) << r.title;
  EXPECT_NE(r.title.find("attnviz-mini"), std::string::npos) << r.title;
  // One head of every layer.
  o.head = 1;
  EXPECT_EQ(int(makeLayersFigure(s, input, o).panels.size()), p.modelLayers);
  // Without a model there are no layers.
  const CliRun toy = runAttnviz("export --sample pronoun-toy --layer all --head all --png " + png);
  EXPECT_NE(toy.code, 0);
  EXPECT_NE(toy.output.find("--layer all needs a model"), std::string::npos) << toy.output;
}

// The extension says what the file is: SVG is never written into x.png, nor PNG into x.svg.
TEST(ExportCli, TheExtensionMustMatchTheFormat) {
  TempDir dir;
  const CliRun svgAsPng = runAttnviz("export --sample pronoun-toy --svg " + (dir / "x.png"));
  EXPECT_EQ(svgAsPng.code, 2);
  EXPECT_NE(svgAsPng.output.find("--svg " + (dir / "x.png") + ": the file name must end in .svg (use --png for a .png file)"),
            std::string::npos) << svgAsPng.output;
  const CliRun pngAsText = runAttnviz("export --sample pronoun-toy --png " + (dir / "x.txt"));
  EXPECT_EQ(pngAsText.code, 2);
  EXPECT_NE(pngAsText.output.find("the file name must end in .png"), std::string::npos) << pngAsText.output;
  EXPECT_TRUE(dir.entries().empty());
  EXPECT_EQ(runAttnviz("export --sample pronoun-toy --png " + (dir / "X.PNG")).code, 0);
}

// `export --stage` takes every stage of the registry, and writes what the library call makes.
TEST(ExportCli, EveryStageExports) {
  TempDir dir;
  const SampleTrace pronoun("pronoun-toy");
  for (const StageInfo& st : stageList()) {
    SCOPED_TRACE(st.name);
    if (st.id == StageId::Rope) continue;  // rotary models only (GPT-2 has none): llama_mode_test exports it
    const std::string png = dir / (std::string(st.name) + ".png");
    FigureOptions o;
    o.stage = st.id;
    if (st.needsModel) {  // the model sample, at a layer that has the stage
      const int layer = st.id == StageId::ResidPre ? 1 : 0;
      const std::string sample = st.id == StageId::PostNorm ? "bert-pronoun" : "pronoun";  // post-norm: an encoder
      const CliRun run = runAttnviz("export --sample " + sample + " --layer " + std::to_string(layer) + " --stage " +
                                    std::string(st.name) + " --png " + png);
      ASSERT_EQ(run.code, 0) << run.output;
      Session s = loadSample(sample);
      s.view.layer = layer;
      FigureInput input;
      input.sample = sample;
      EXPECT_EQ(readFile(png), renderFigurePng(makeSessionFigure(s, input, o)));
      continue;
    }
    const CliRun run = runAttnviz("export --sample pronoun-toy --stage " + std::string(st.name) + " --png " + png);
    ASSERT_EQ(run.code, 0) << run.output;
    EXPECT_EQ(readFile(png), renderFigurePng(pronoun.request(o)));
  }
  // Without a model the model's steps are refused in one line.
  const CliRun toy = runAttnviz("export --sample pronoun-toy --stage ln_1 --png " + (dir / "x.png"));
  EXPECT_NE(toy.code, 0) << toy.output;
  EXPECT_NE(toy.output.find("ln_1 exists only in model mode"), std::string::npos) << toy.output;
  const CliRun bad = runAttnviz("export --sample pronoun-toy --stage softmax --png " + (dir / "x.png"));
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.output.find("expected one of scores, scaled, masked, minus_row_max, exp, row_sum, weights, output, projected"),
            std::string::npos) << bad.output;
}

// The app exports through makeFigureRequest + renderFigure*, the calls made here; the CLI must
// give the same bytes for the same session.
TEST(ExportCli, CommandLineEqualsTheLibraryCallTheAppMakes) {
  TempDir dir;
  // --scale is the figure's size factor; the score scale override is --score-scale in export.
  const CliRun run = runAttnviz(
      "export --sample chinese --stage scaled --head 1 --colormap magma --values --scale 1.5 --score-scale 0.25 "
      "--png " + (dir / "c.png") + " --svg " + (dir / "c.svg"));
  ASSERT_EQ(run.code, 0) << run.output;
  Session s = loadSample("chinese");
  s.options.scaleOverride = 0.25f;
  const PreparedSession p = prepare(s);
  const AttentionTrace t = computeAttention(p.inputs, s.options);
  FigureOptions o;
  o.stage = StageId::Scaled;
  o.head = 1;
  o.colormap = Colormap::Magma;
  o.values = true;
  o.scale = 1.5f;
  const FigureRequest r = makeFigureRequest(t, p.queryLabels, p.keyLabels, "chinese", o);
  EXPECT_NE(r.subtitle.find("scale 0.25"), std::string::npos) << r.subtitle;
  EXPECT_EQ(readFile(dir / "c.png"), renderFigurePng(r));
  EXPECT_EQ(readFile(dir / "c.svg"), renderFigureSvg(r));
}

TEST(ExportCli, BadRequestsExitWithOneLineAndLeaveNoFile) {
  TempDir dir;
  const std::string png = dir / "out.png";
  const struct {
    std::string args;
    int code;
    std::string message;
  } cases[] = {
      {"--sample pronoun-toy --stage attention --png " + png, 1, "unknown stage \"attention\""},
      {"--sample pronoun-toy --head 4 --png " + png, 1, "head 4 is out of range: this input has 4 heads"},
      {"--sample pronoun-toy --head -1 --png " + png, 2, "--head must be between"},
      {"--sample pronoun-toy --range 1:0.5 --png " + png, 1, "MIN must be less than MAX"},
      {"--sample pronoun-toy --range 2:2 --png " + png, 1, "MIN must be less than MAX"},
      {"--sample pronoun-toy --colormap jet --png " + png, 1, "unknown colour map \"jet\""},
      {"--sample pronoun-toy --png " + (dir / "missing/dir/out.png"), 1, "is not a directory"},
      {"--sample pronoun-toy --png " + png + " --svg " + (dir / "missing/out.svg"), 1, "is not a directory"},
      {"--sample pronoun-toy --png /proc/out.png", 1, "cannot write /proc/out.png"},
      {"--sample pronoun-toy --stage weights", 2, "export needs --png FILE or --svg FILE"},
      {"--sample pronoun-toy --png " + png + " --bogus", 2, "unknown option --bogus"},
      {"--sample nosuch --png " + png, 1, "nosuch"},
      {"--sample pronoun-toy --cell 0 --png " + png, 2, "--cell must be between 1 and 512"},
      {"--sample pronoun-toy --values --cell 4 --png " + png, 1, "--values needs cells of at least"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    const CliRun run = runAttnviz("export " + c.args);
    EXPECT_EQ(run.code, c.code) << run.output;
    EXPECT_NE(run.output.find(c.message), std::string::npos) << run.output;
    EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << run.output;
    EXPECT_TRUE(dir.entries().empty()) << "left behind: " << dir.entries().front();
  }
}

TEST(ExportCli, HelpDescribesEveryFlag) {
  const CliRun run = runAttnviz("export --help");
  EXPECT_EQ(run.code, 0);
  for (const char* flag : {"--stage", "--head", "--png", "--svg", "--colormap", "--range", "--cell", "--values",
                           "--no-labels", "--title", "--scale", "--sample"})
    EXPECT_NE(run.output.find(flag), std::string::npos) << flag;
}

}  // namespace

// ---- attention over a picture (issue 23) ------------------------------------------------------

namespace picture {

// A plain double-precision reference of the overlay's value at a pixel.
double referenceValue(const Matrix& v, int patch, bool smooth, int x, int y) {
  if (!smooth) return v(y / patch, x / patch);
  const auto clamp = [](double a, double lo, double hi) { return a < lo ? lo : a > hi ? hi : a; };
  const double u = clamp((x + 0.5) / patch - 0.5, 0, double(v.cols() - 1));
  const double w = clamp((y + 0.5) / patch - 0.5, 0, double(v.rows() - 1));
  const int c0 = int(u), r0 = int(w);
  const int c1 = std::min(c0 + 1, int(v.cols()) - 1), r1 = std::min(r0 + 1, int(v.rows()) - 1);
  const double fu = u - c0, fw = w - r0;
  return (1 - fw) * ((1 - fu) * v(r0, c0) + fu * v(r0, c1)) + fw * ((1 - fu) * v(r1, c0) + fu * v(r1, c1));
}

}  // namespace picture

TEST(PictureOverlay, BlendsEveryPixelWithItsPatchColourAndSmoothInterpolatesBetweenCentres) {
  Matrix v(3, 4);
  for (int i = 0; i < 12; ++i) v.data()[i] = float((i * 7) % 12) / 11.0f;
  model::RgbImage pic;
  pic.width = 4 * 5 + 3;  // a remainder the grid does not cover
  pic.height = 3 * 5;
  for (int i = 0; i < pic.width * pic.height * 3; ++i) pic.pixels.push_back(std::uint8_t((i * 37) % 256));
  for (bool smooth : {false, true}) {
    OverlayOptions o;
    o.smooth = smooth;
    o.opacity = 0.7f;
    const model::RgbImage out = overlayPicture(pic, v, 5, o);
    const ColormapLut& lut = colormapLut(o.colormap);
    const float hi = v.maxCoeff();
    for (int y = 0; y < pic.height; ++y)
      for (int x = 0; x < pic.width; ++x)
        for (int k = 0; k < 3; ++k) {
          const std::size_t at = (std::size_t(y) * pic.width + x) * 3 + k;
          if (x >= 20) {
            EXPECT_EQ(out.pixels[at], pic.pixels[at]) << "outside the grid the picture stays";
            continue;
          }
          const double ref = picture::referenceValue(v, 5, smooth, x, y);
          EXPECT_NEAR(overlayValueAt(v, 5, smooth, x, y), ref, 1e-6);
          const int idx = lutIndex(float(ref), 0, hi);
          const double want = (1 - 0.7) * pic.pixels[at] + 0.7 * lut[idx][k];
          EXPECT_NEAR(out.pixels[at], want, 0.5 + 1e-4) << "x " << x << " y " << y << (smooth ? " smooth" : "");
        }
  }
}

TEST(PictureOverlay, KeepsTheFewestPatchesHoldingTheShareAndTiesTogether) {
  Matrix v(2, 3);
  v << 0.4f, 0.1f, 0.2f, 0.2f, 0.05f, 0.05f;
  MaskMatrix kept = keptPatches(v, 0.5f);  // 0.4 then the tied 0.2s: 0.4 alone is under half
  EXPECT_EQ(int(kept.cast<int>().sum()), 3);
  EXPECT_TRUE(kept(0, 0) && kept(0, 2) && kept(1, 0));
  EXPECT_NEAR(keptShare(v, kept), 0.8, 1e-6);
  kept = keptPatches(v, 0.35f);
  EXPECT_EQ(int(kept.cast<int>().sum()), 1);
  EXPECT_EQ(int(keptPatches(v, 0).cast<int>().sum()), 6);
  // Dropped patches keep the picture's pixels.
  model::RgbImage pic{6, 4, std::vector<std::uint8_t>(6 * 4 * 3, 200)};
  OverlayOptions o;
  o.keep = 0.35f;
  const model::RgbImage out = overlayPicture(pic, v, 2, o);
  EXPECT_NE(out.pixels[0], 200);                     // patch (0, 0), kept
  EXPECT_EQ(out.pixels[(0 * 6 + 2) * 3], 200);       // patch (0, 1), dropped
  EXPECT_THROW(overlayPicture(pic, v, 3, o), Error);  // the picture is smaller than the grid
}

TEST(ExportCli, OverlayRefusalsAreOneLine) {
  TempDir dir;
  CliRun r = runAttnviz("export --model attnviz-mini --text hello --overlay cls --png " + (dir / "a.png"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("needs a vision model"), std::string::npos) << r.output;
  r = runAttnviz("export --sample scene-red-circle --overlay token=999 --png " + (dir / "a.png"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("out of range"), std::string::npos) << r.output;
  r = runAttnviz("export --sample scene-red-circle --overlay cls --opacity 2 --png " + (dir / "a.png"));
  EXPECT_EQ(r.code, 2) << r.output;
  r = runAttnviz("export --sample scene-red-circle --overlay middle --png " + (dir / "a.png"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("cls, rollout or token=I"), std::string::npos) << r.output;
  for (const std::string& o : {std::string("a.png")}) EXPECT_FALSE(fs::exists(dir / o));
  r = runAttnviz("export --sample scene-red-circle --overlay rollout --fusion max --keep 0.5 --svg " + (dir / "r.svg"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(std::system(("xmllint --noout " + (dir / "r.svg")).c_str()), 0);
}

// --overlay with --layer all --head all: the whole model over the picture, a row of heads per
// layer on one colour scale; each panel is the picture blended with that layer's and head's
// [CLS] row, recomputed here layer by layer.
TEST(ExportCli, OverlayOfEveryLayerAndHead) {
  TempDir dir;
  const std::string png = dir / "all.png";
  const CliRun run = runAttnviz("export --sample scene-red-circle --overlay cls --layer all --head all --png " + png);
  ASSERT_EQ(run.code, 0) << run.output;
  const Session s = loadSample("scene-red-circle");
  FigureInput input;
  input.sample = "scene-red-circle";
  PictureFigureOptions o;
  o.allLayers = true;
  o.selection.heads = PictureHeads::All;
  const FigureRequest r = makeSessionPictureFigure(s, input, o);
  EXPECT_EQ(readFile(png), renderFigurePng(r));
  const PreparedSession p = prepare(s);
  ASSERT_TRUE(p.picture && p.forward && p.forward->grid);
  const model::PatchGrid& grid = *p.forward->grid;
  ASSERT_EQ(int(r.panels.size()), p.modelLayers * p.modelHeads);
  EXPECT_EQ(r.gridColumns, p.modelHeads);
  EXPECT_EQ(r.panels[std::size_t(p.modelHeads + 2)].caption, "L1 H2");
  std::vector<Matrix> rows;
  float hi = 0;
  for (int layer = 0; layer < p.modelLayers; ++layer) {
    Session at = s;
    at.view.layer = layer;
    const PreparedSession pl = prepare(at);
    const AttentionTrace t = computeSessionTrace(pl, modelLayerOptions(pl, at.options));
    for (int h = 0; h < p.modelHeads; ++h) {
      const Matrix& w = t.head[std::size_t(h)].weights;
      rows.push_back(patchValues(w.row(0).data(), int(w.cols()), grid));
      hi = std::max(hi, rows.back().maxCoeff());
    }
  }
  EXPECT_EQ(r.range.lo, 0.0f);
  EXPECT_EQ(r.range.hi, hi);
  OverlayOptions shared = o.overlay;
  shared.range = r.range;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    ASSERT_TRUE(r.panels[k].picture) << k;
    EXPECT_TRUE(r.panels[k].picture->pixels == overlayPicture(*p.picture, rows[k], grid.patch, shared).pixels) << "panel " << k;
  }
  EXPECT_NE(r.title.find("every layer"), std::string::npos) << r.title;
  // Rollout to every layer: one panel a layer.
  const CliRun rollout = runAttnviz("export --sample scene-red-circle --overlay rollout --layer all --png " + png);
  EXPECT_EQ(rollout.code, 0) << rollout.output;
  EXPECT_NE(rollout.output.find(std::to_string(p.modelLayers) + " panels"), std::string::npos) << rollout.output;
}

// --rollout-from A: the rollout multiplies layers A … L only; refused without --overlay rollout.
TEST(ExportCli, RolloutFromALayer) {
  TempDir dir;
  const std::string png = dir / "from.png";
  const CliRun run = runAttnviz("export --sample scene-red-circle --overlay rollout --rollout-from 2 --png " + png);
  ASSERT_EQ(run.code, 0) << run.output;
  const Session s = loadSample("scene-red-circle");
  FigureInput input;
  input.sample = "scene-red-circle";
  PictureFigureOptions o;
  o.selection.rollout = true;
  o.selection.rolloutFrom = 2;
  const FigureRequest r = makeSessionPictureFigure(s, input, o);
  EXPECT_EQ(readFile(png), renderFigurePng(r));
  const PreparedSession p = prepare(s);
  ASSERT_TRUE(p.picture && p.forward && p.forward->grid);
  const Matrix rollout = model::attentionRollout(*p.forward, 2, p.viewedLayer, model::HeadFusion::Mean);
  const Matrix row = patchValues(rollout.row(0).data(), int(rollout.cols()), *p.forward->grid);
  OverlayOptions shared = o.overlay;
  shared.range = r.range;
  ASSERT_EQ(r.panels.size(), 1u);
  EXPECT_TRUE(r.panels[0].picture->pixels == overlayPicture(*p.picture, row, p.forward->grid->patch, shared).pixels);
  EXPECT_NE(r.panels[0].caption.find("layers 2\u2013" + std::to_string(p.viewedLayer)), std::string::npos) << r.panels[0].caption;
  const Matrix whole = model::attentionRollout(*p.forward, 0, p.viewedLayer, model::HeadFusion::Mean);
  EXPECT_GT((whole - rollout).cwiseAbs().maxCoeff(), 1e-4f);  // the first layers did change the rollout
  const CliRun refused = runAttnviz("export --sample scene-red-circle --overlay cls --rollout-from 1 --png " + png);
  EXPECT_EQ(refused.code, 2) << refused.output;
}
