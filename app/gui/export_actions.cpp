// The export actions: stage numbers (.npy / CSV), figures and PNG series.
#include <algorithm>
#include <filesystem>
#include <optional>

#include "actions.hpp"
#include "colormap_lut.hpp"
#include "document.hpp"
#include "figure/figure.hpp"
#include "figure/session_figure.hpp"
#include "matrix_io.hpp"
#include "steps.hpp"
#include "tokens.hpp"

namespace attnviz::gui {

namespace fs = std::filesystem;

bool exportNumbers(AppState& app, const std::string& directory, const std::string& format) {
  if (format != "npy" && format != "csv") {
    report(app, "export format must be npy or csv", true);
    return false;
  }
  try {
    fs::create_directories(directory);
    bringUpToDate(app.doc);
    // The CPU engine's numbers (the reference), whichever backend is on screen.
    const AttentionTrace& t = app.doc.cpuTrace();
    int files = 0;
    auto write = [&](const std::string& name, const Matrix& m) {
      const std::string path = (fs::path(directory) / (name + "." + format)).string();
      if (format == "npy")
        writeNpy(path, m.data(), {long(m.rows()), long(m.cols())});
      else
        writeCsv(path, m);
      ++files;
    };
    const AttentionInputs& in = app.doc.front->inputs();
    write("q", in.q);
    write("k", in.k);
    write("v", in.v);
    for (int h = 0; h < t.heads; ++h) {
      const HeadTrace& ht = t.head[std::size_t(h)];
      // Heads from 0, as in `attnviz export --head`, figure captions and the .npy head axis.
      const std::string p = t.heads > 1 ? "head" + std::to_string(h) + "_" : "";
      write(p + "1_scores", ht.scores);
      write(p + "2_scaled", ht.scaled);
      write(p + "3_masked", ht.masked);
      Matrix scratch;
      write(p + "4a_minus_row_max", stepMatrix(t, Matrix(), StepId::SubtractMax, h, scratch));
      write(p + "4b_exp", ht.expValues);
      write(p + "4c_row_sum", Matrix(ht.rowSum.transpose()));
      write(p + "4d_weights", ht.weights);
      write(p + "5_output", ht.output);
    }
    write("5_concatenated", t.concatenated);
    if (app.doc.prepared.model && !t.head.empty()) write("6_projected", outputProjection(*app.doc.prepared.model, t));
    report(app, "Exported " + std::to_string(files) + " ." + format + " files to " + directory);
    return true;
  } catch (const std::exception& e) {
    report(app, e.what(), true);
    return false;
  }
}

namespace {

// How `attnviz export` would be told about this document: a session file by its path, else
// the sample it was loaded from by its name.
FigureInput figureInput(const Document& d) {
  FigureInput in;
  in.mode = d.session.mode;
  if (!d.path.empty()) in.sessionFile = d.path;
  else in.sample = d.sample;
  return in;
}

constexpr int kMaxValueLabelledCells = 64;

// The export flags that reproduce what is on screen: colour map, values in cells, size, and
// the fixed 0–1 scale. Other ranges are the exporter's automatic one, as on the command line.
FigureOptions figureOptions(const AppState& app, StepId step, FigureStage stage) {
  const int head = app.doc.session.view.head;
  FigureOptions o;
  o.stage = stage;
  o.head = head < 0 ? kAllHeads : head;
  // As on screen, numbers go into the cells only where a matrix is small enough to read them;
  // a 512-wide figure with readable numbers would be thousands of pixels wide.
  const AttentionTrace& t = app.doc.cpuTrace();
  o.values = app.view.showValues && std::max(t.n, t.m) <= kMaxValueLabelledCells;
  o.scale = std::clamp(app.view.exportScale, 0.25f, 8.0f);
  const bool probabilities = step == StepId::Exp || step == StepId::RowSum || step == StepId::Normalise;
  o.colormap = toFigureColormap(probabilities || !app.view.divergingForSigned ? app.view.sequential : ColormapId::RdBu);
  if (stage == FigureStage::Weights && app.view.probabilitiesZeroToOne) o.range = ValueRange{0, 1};
  return o;
}

std::optional<FigureStage> figureStage(StepId step) {
  switch (step) {
    case StepId::Scores: return FigureStage::Scores;
    case StepId::Scale: return FigureStage::Scaled;
    case StepId::Mask: return FigureStage::Masked;
    case StepId::Normalise: return FigureStage::Weights;
    case StepId::Output: return FigureStage::Output;
    default: return std::nullopt;
  }
}

// Softmax sub-steps and W_O are app-only stages: the weights figure's layout, other numbers.
FigureRequest appOnlyFigure(const AppState& app, StepId step) {
  const Document& d = app.doc;
  const int head = d.session.view.head;
  FigureRequest r = makeSessionFigure(d.session, figureInput(d), figureOptions(app, step, FigureStage::Weights));
  const AttentionTrace& t = d.cpuTrace();
  const Matrix projected = d.prepared.model && !t.head.empty() ? outputProjection(*d.prepared.model, t) : Matrix();
  const bool one = step == StepId::Projection || head >= 0;
  const int first = one ? std::max(head, 0) : 0, last = one ? first : t.heads - 1;
  r.panels.clear();
  for (int h = first; h <= last; ++h) {
    Matrix scratch;
    FigurePanel p;
    p.caption = last > first ? "head " + std::to_string(h) : "";
    p.values = stepMatrix(t, projected, step, h, scratch);
    r.panels.push_back(std::move(p));
  }
  const StepInfo& info = stepInfo(step);
  r.title = std::string(info.label) + " " + info.name + " — " + figureInputName(figureInput(d));
  if (step == StepId::Projection) {
    r.colLabels = columnLabels(d, step);
    r.colAxis = "dimension";
    r.mask.resize(0, 0);
  }
  return r;
}

}  // namespace

bool exportFigure(AppState& app, const std::string& path) {
  try {
    // Files come from the CPU engine on the current inputs, whichever backend is on screen.
    bringUpToDate(app.doc);
    const StepId step = stepAt(app.doc.session.view.step);
    const std::optional<FigureStage> stage = figureStage(step);
    const FigureRequest r = stage ? makeSessionFigure(app.doc.session, figureInput(app.doc),
                                                      figureOptions(app, step, *stage))
                                  : appOnlyFigure(app, step);
    const std::string ext = fs::path(path).extension().string();
    writeFileAtomic(path, ext == ".svg" ? renderFigureSvg(r) : renderFigurePng(r));
    report(app, "Exported " + path);
    return true;
  } catch (const std::exception& e) {
    report(app, e.what(), true);
    return false;
  }
}

bool exportSeries(AppState& app, const std::string& directory) {
  try {
    fs::create_directories(directory);
  } catch (const std::exception& e) {
    report(app, e.what(), true);
    return false;
  }
  const int current = app.doc.session.view.step;
  int written = 0;
  for (int s = 0; s < stepCount(app.doc); ++s) {
    char name[32];
    std::snprintf(name, sizeof name, "step_%02d.png", s + 1);
    app.doc.session.view.step = s;
    written += exportFigure(app, (fs::path(directory) / name).string()) ? 1 : 0;
  }
  app.doc.session.view.step = current;
  const bool ok = written == stepCount(app.doc);
  if (ok) report(app, "Exported " + std::to_string(written) + " steps to " + directory);
  return ok;
}

}  // namespace attnviz::gui
