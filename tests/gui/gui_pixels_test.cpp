// Drives the real desktop app (under the X server ctest started with xvfb-run) with --script:
// every sample, every step, a screenshot each. The pixels of the heatmap are then compared with
// the colour map of values this test computes itself with the engine, so the texture upload,
// the LUT, the shader and the geometry are all checked together.
#include <gtest/gtest.h>
#include <stb_image.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attention.hpp"
#include "figure/colormap.hpp"
#include "figure/figure.hpp"
#include "matrix_io.hpp"
#include "session.hpp"
#include "session_stages.hpp"
#include "stages.hpp"
#include "tokens.hpp"

namespace fs = std::filesystem;
using namespace attnviz;
using nlohmann::json;

namespace {

fs::path workDir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("attnviz_gui_test_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

int runApp(const std::string& args) {
  const std::string cmd = std::string(ATTNVIZ_APP) + " --no-recovery --ignore-pointer " + args + " > " +
                          (workDir() / "app.log").string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int stepsOf(const Session& s) { return s.mode == InputMode::Tokens ? 9 : 8; }

// The matrix each step shows, computed here from the engine's trace (not the app's code).
Matrix expected(const AttentionTrace& t, const PreparedSession& p, int step, int head) {
  const HeadTrace& h = t.head[std::size_t(head)];
  const float ninf = -std::numeric_limits<float>::infinity();
  auto maskedLike = [&](const Matrix& src) {
    Matrix m = src;
    for (int i = 0; i < t.n; ++i)
      for (int j = 0; j < t.m; ++j)
        if (!isAllowed(t.options, t.n, t.m, i, j)) m(i, j) = ninf;
    return m;
  };
  switch (step) {
    case 0: return h.scores;
    case 1: return h.scaled;
    case 2: return h.masked;
    case 3: {
      Matrix m = h.masked;
      for (int i = 0; i < t.n; ++i) m.row(i).array() -= h.rowMax(i);
      return maskedLike(m);
    }
    case 4:
    case 5: return t.options.mask == MaskKind::None ? h.expValues : maskedLike(h.expValues);
    case 6: return t.options.mask == MaskKind::None ? h.weights : maskedLike(h.weights);
    case 7: return h.output;
    default: return outputProjection(*p.model, t);
  }
}

bool near(const Rgb8& a, const unsigned char* px, int tol) {
  for (int c = 0; c < 3; ++c)
    if (std::abs(int(a[std::size_t(c)]) - int(px[c])) > tol) return false;
  return true;
}

struct Shot {
  std::string sample;
  int step;
  fs::path png;
};

std::vector<SampleInfo> samples() { return listSamples(); }

class GuiPixels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::ostringstream script;
    for (const SampleInfo& info : samples()) {
      const Session s = loadSample(info.name);
      script << "sample " << info.name << "\n";
      for (int k = 0; k < stepsOf(s); ++k) {
        const fs::path png = workDir() / (info.name + "_" + std::to_string(k) + ".png");
        script << "goto " << k << "\nscreenshot " << png.string() << "\n";
        shots_.push_back({info.name, k, png});
      }
    }
    script << "quit\n";
    std::ofstream(workDir() / "steps.txt") << script.str();
    rc_ = runApp("--script " + (workDir() / "steps.txt").string() + " --frame-stats " +
                 (workDir() / "frames.csv").string());
  }
  static inline std::vector<Shot> shots_;
  static inline int rc_ = -1;
};

TEST_F(GuiPixels, EverySampleEveryStepMatchesTheColourMap) {
  ASSERT_EQ(rc_, 0) << readFile((workDir() / "app.log").string());
  ASSERT_GE(shots_.size(), 9u * 8u);
  std::string currentSample;
  AttentionTrace trace;
  PreparedSession prepared;
  for (const Shot& shot : shots_) {
    SCOPED_TRACE(shot.sample + " step " + std::to_string(shot.step));
    if (shot.sample != currentSample) {
      const Session s = loadSample(shot.sample);
      prepared = prepare(s);
      trace = computeAttention(prepared.inputs, s.options);
      currentSample = shot.sample;
    }
    const json g = json::parse(readFile(shot.png.string() + ".json"));
    ASSERT_TRUE(g["valid"].get<bool>());
    ASSERT_EQ(g["step"].get<int>(), shot.step);
    const int head = g["head"].get<int>();
    const Matrix want = expected(trace, prepared, shot.step, head);
    ASSERT_EQ(g["rows"].get<int>(), want.rows());
    ASSERT_EQ(g["cols"].get<int>(), want.cols());
    const float lo = g["range"][0], hi = g["range"][1];
    const Colormap map = parseColormap(g["colormap"].get<std::string>());
    const float ox = g["origin"][0], oy = g["origin"][1], cw = g["cell"][0], ch = g["cell"][1];
    const float x0 = g["clip"][0], y0 = g["clip"][1], x1 = g["clip"][2], y1 = g["clip"][3];

    int w = 0, h = 0, n = 0;
    unsigned char* img = stbi_load(shot.png.c_str(), &w, &h, &n, 3);
    ASSERT_NE(img, nullptr) << shot.png;
    int checked = 0, bad = 0;
    std::string firstBad;
    // A grid of sample points; each maps to the cell the shader draws there (pixel centres).
    // Several per cell, so that some land outside the band where a large cell prints its number.
    const int steps = std::clamp(7 * int(std::max(want.rows(), want.cols())) + 3, 41, 251);  // not a multiple of the cells
    for (int a = 0; a < steps; ++a) {
      for (int b = 0; b < steps; ++b) {
        const int px = int(x0 + (x1 - x0) * (a + 0.5f) / steps), py = int(y0 + (y1 - y0) * (b + 0.5f) / steps);
        const float fc = (px + 0.5f - ox) / cw, fr = (py + 0.5f - oy) / ch;
        const int col = int(std::floor(fc)), row = int(std::floor(fr));
        const float fx = fc - float(col), fy = fr - float(row);
        if (row < 0 || col < 0 || row >= want.rows() || col >= want.cols()) continue;
        if (fx < 0.15f || fx > 0.9f || fy < 0.15f || fy > 0.9f) continue;       // separators, rounding
        if (ch >= 20 && fy > 0.22f && fy < 0.78f) continue;                    // numbers inside cells
        const unsigned char* p = img + (std::size_t(py) * std::size_t(w) + std::size_t(px)) * 3;
        const float v = want(row, col);
        bool ok;
        if (!std::isfinite(v)) {
          ok = near(kMaskedColor, p, 3) || near(kMaskedHatch, p, 3);
        } else {
          const int idx = lutIndex(v, lo, hi);
          const ColormapLut& lut = colormapLut(map);
          ok = near(lut[std::size_t(idx)], p, 3) || (idx > 0 && near(lut[std::size_t(idx - 1)], p, 3)) ||
               (idx < 255 && near(lut[std::size_t(idx + 1)], p, 3));
        }
        ++checked;
        if (!ok && ++bad == 1) {
          std::ostringstream o;
          o << "pixel (" << px << "," << py << ") cell (" << row << "," << col << ") value " << v << " got "
            << int(p[0]) << "," << int(p[1]) << "," << int(p[2]);
          firstBad = o.str();
        }
      }
    }
    stbi_image_free(img);
    EXPECT_GT(checked, 20);
    EXPECT_EQ(bad, 0) << firstBad << " (" << bad << " of " << checked << " differ)";
  }
}

TEST(GuiSession, SaveRestoresInputsOptionsStepHeadAndSelection) {
  const fs::path session = workDir() / "saved.json", state = workDir() / "state.json";
  std::ofstream(workDir() / "save.txt") << "sample causal-lm-toy\nset temperature 0.5\nhead 1\ngoto 5\npin 3 2\n"
                                        << "save " << session.string() << "\nquit\n";
  ASSERT_EQ(runApp("--script " + (workDir() / "save.txt").string()), 0);
  ASSERT_EQ(runApp(session.string() + " --frames 3 --dump-state " + state.string()), 0);
  const json j = json::parse(readFile(state.string()));
  EXPECT_EQ(j["step"], 5);
  EXPECT_EQ(j["head"], 1);
  EXPECT_EQ(j["selected"][0], 3);
  EXPECT_EQ(j["selected"][1], 2);
  EXPECT_FLOAT_EQ(j["temperature"].get<float>(), 0.5f);
  EXPECT_EQ(j["mask"], "causal");
  EXPECT_EQ(j["text"], "The cat sat on the mat because it was warm");
}

TEST(GuiExport, FigureAndNumbersFromTheApp) {
  const fs::path png = workDir() / "fig.png", svg = workDir() / "fig.svg", numbers = workDir() / "numbers";
  std::ofstream(workDir() / "export.txt") << "sample pronoun-toy\ngoto 6\nexport-png " << png.string() << "\nexport-svg "
                                          << svg.string() << "\nexport-numbers " << numbers.string()
                                          << " npy\nquit\n";
  ASSERT_EQ(runApp("--script " + (workDir() / "export.txt").string()), 0) << readFile((workDir() / "app.log").string());
  EXPECT_GT(fs::file_size(png), 1000u);
  EXPECT_NE(readFile(svg.string()).find("<svg"), std::string::npos);
  // weights.npy is [H, n, m], read back as n × (H · m) with its head count.
  const LoadedMatrix w = readMatrixFile((numbers / "weights.npy").string());
  const Session s = loadSample("pronoun-toy");
  const PreparedSession p = prepare(s);
  const AttentionTrace t = computeAttention(p.inputs, s.options);
  ASSERT_EQ(w.values.rows(), t.n);
  ASSERT_EQ(w.heads, t.heads);
  EXPECT_TRUE(w.values.leftCols(t.m).isApprox(t.head[0].weights, 1e-6f));
}

// The nearest colour-table entry of a pixel: which map and index, or masked (grey or hatch).
struct LutHit {
  int map = -1, index = -1;  // map -1 with index -2: masked
  int distance = 1 << 30;
};
LutHit nearestEntry(const unsigned char* p) {
  LutHit best;
  if (near(kMaskedColor, p, 3) || near(kMaskedHatch, p, 3)) return {-1, -2, 0};
  for (int map = 0; map < 4; ++map) {
    const ColormapLut& lut = colormapLut(Colormap(map));
    for (int k = 0; k < 256; ++k) {
      int d = 0;
      for (int c = 0; c < 3; ++c) d += std::abs(int(lut[std::size_t(k)][std::size_t(c)]) - int(p[c]));
      if (d < best.distance) best = {map, k, d};
    }
  }
  return best;
}

struct Decoded {
  int w = 0, h = 0;
  std::vector<unsigned char> rgb;
  const unsigned char* at(int x, int y) const { return rgb.data() + (std::size_t(y) * std::size_t(w) + std::size_t(x)) * 3; }
};
Decoded decode(const fs::path& png) {
  Decoded d;
  int n = 0;
  unsigned char* img = stbi_load(png.c_str(), &d.w, &d.h, &n, 3);
  if (img) d.rgb.assign(img, img + std::size_t(d.w) * std::size_t(d.h) * 3);
  stbi_image_free(img);
  return d;
}

// One colour rule per stage, on screen and in files (issue 12): every stage of several samples
// is exported from the app (File ▸ Export heatmap) and screenshotted; each cell's colour in the
// figure must be the colour of that cell on screen, within one step of the 256-entry table.
TEST(GuiFigures, EveryStageFigureLooksLikeTheScreen) {
  struct Case { std::string sample; float temperature; };
  const std::vector<Case> cases = {{"pronoun-toy", 1}, {"temperature", 1}, {"temperature", 0.1f}, {"causal-lm-toy", 1}};
  std::ostringstream script;
  struct Shot { std::size_t c; int step; fs::path screen, figure; };
  std::vector<Shot> shots;
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const Session s = loadSample(cases[c].sample);
    script << "sample " << cases[c].sample << "\nset temperature " << cases[c].temperature << "\n";
    for (int k = 0; k < stepsOf(s); ++k) {
      const std::string base = cases[c].sample + "_" + std::to_string(c) + "_" + stageInfo(StageId(k)).name;
      const Shot shot{c, k, workDir() / ("screen_" + base + ".png"), workDir() / ("figure_" + base + ".png")};
      script << "goto " << k << "\nexport-png " << shot.figure.string() << "\nscreenshot " << shot.screen.string() << "\n";
      shots.push_back(shot);
    }
  }
  script << "quit\n";
  std::ofstream(workDir() / "figures.txt") << script.str();
  ASSERT_EQ(runApp("--script " + (workDir() / "figures.txt").string()), 0) << readFile((workDir() / "app.log").string());

  for (const Shot& shot : shots) {
    const Case& cs = cases[shot.c];
    const StageInfo& info = stageInfo(StageId(shot.step));
    SCOPED_TRACE(cs.sample + " T=" + std::to_string(cs.temperature) + " " + info.name);
    Session s = loadSample(cs.sample);
    s.options.temperature = cs.temperature;
    const PreparedSession p = prepare(s);
    const AttentionTrace t = computeAttention(p.inputs, s.options);
    const json g = json::parse(readFile(shot.screen.string() + ".json"));
    ASSERT_TRUE(g["valid"].get<bool>());
    // The figure as the app's export makes it (checked byte for byte), for its layout.
    FigureOptions o;
    o.stage = info.id;
    o.head = g["head"].get<int>();
    o.values = std::max(t.n, t.m) <= 64;
    const FigureRequest r = makeFigureRequest(t, p.queryLabels, p.keyLabels, cs.sample, o);
    ASSERT_TRUE(readFile(shot.figure.string()) == renderFigurePng(r)) << shot.figure << " is not the figure expected";
    const FigureLayout L = layoutFigure(r);
    const Decoded screen = decode(shot.screen), figure = decode(shot.figure);
    ASSERT_GT(screen.w, 0);
    ASSERT_GT(figure.w, 0);
    const float ox = g["origin"][0], oy = g["origin"][1], cw = g["cell"][0], ch = g["cell"][1];
    const float x1 = g["clip"][2], y1 = g["clip"][3];
    ASSERT_EQ(g["rows"].get<int>(), r.panels[0].values.rows());
    ASSERT_EQ(g["cols"].get<int>(), r.panels[0].values.cols());
    int compared = 0, bad = 0;
    std::string firstBad;
    for (int i = 0; i < g["rows"].get<int>(); ++i)
      for (int j = 0; j < g["cols"].get<int>(); ++j) {
        // Near each cell's top-left corner: clear of separators and of the value printed in it.
        const int sx = int(ox + (float(j) + 0.2f) * cw), sy = int(oy + (float(i) + 0.2f) * ch);
        if (sx >= int(x1) || sy >= int(y1) || sx >= screen.w || sy >= screen.h) continue;
        const int fx = L.heatmaps[0].x + int((float(j) + 0.2f) * float(L.cellPx));
        const int fy = L.heatmaps[0].y + int((float(i) + 0.2f) * float(L.cellPx));
        const LutHit a = nearestEntry(screen.at(sx, sy)), b = nearestEntry(figure.at(fx, fy));
        ++compared;
        const bool same = a.distance <= 9 && b.distance <= 9 && a.map == b.map && std::abs(a.index - b.index) <= 1;
        if (!same && ++bad == 1)
          firstBad = "cell (" + std::to_string(i) + ", " + std::to_string(j) + "): screen map " + std::to_string(a.map) +
                     " entry " + std::to_string(a.index) + ", figure map " + std::to_string(b.map) + " entry " +
                     std::to_string(b.index);
      }
    EXPECT_GT(compared, 10);
    EXPECT_EQ(bad, 0) << firstBad << " (" << bad << " of " << compared << " cells differ)";
  }
}

}  // namespace
