// The export actions: stage numbers (.npy / CSV), figures and PNG series.
#include <algorithm>
#include <filesystem>
#include <optional>

#include "actions.hpp"
#include "record.hpp"
#include "colormap_lut.hpp"
#include "document.hpp"
#include "figure/figure.hpp"
#include "figure/session_figure.hpp"  // figureInputName
#include "matrix_io.hpp"
#include "model_actions.hpp"
#include "numbers.hpp"
#include "steps.hpp"

namespace attnviz::gui {

namespace fs = std::filesystem;

bool exportNumbers(AppState& app, const std::string& directory, const std::string& format) {
  try {
    const NumbersFormat f = parseNumbersFormat(format);
    bringUpToDate(app.doc);
    // The trace the window holds (the CPU engine's, the reference, whichever backend is on
    // screen), in the layout `attnviz compute` writes.
    const Document& d = app.doc;
    const NumbersSource source{d.session.name, d.session.mode, "CPU (Eigen)",
                               d.prepared.model ? &*d.prepared.model : nullptr};
    // A bundle of weights alone ran no pipeline: its inputs (V when given) are the prepared ones.
    const AttentionInputs& inputs = d.givenTrace ? d.prepared.inputs : d.front->inputs();
    const int files = writeNumbers(directory, d.cpuTrace(), inputs, source, f);
    report(app, "Exported " + std::to_string(files) + " files (" + format + ") to " + directory);
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

// The export flags that reproduce what is on screen: the stage and head, colour map, range
// rule, values in cells and size; the figure's cells are the heatmap's stageDisplay values.
FigureOptions figureOptions(const AppState& app, StageId step) {
  const int head = app.doc.session.view.head;
  FigureOptions o;
  o.stage = step;
  o.head = head < 0 ? kAllHeads : head;
  // As on screen, numbers go into the cells only where a matrix is small enough to read them;
  // a 512-wide figure with readable numbers would be thousands of pixels wide.
  const AttentionTrace& t = app.doc.cpuTrace();
  o.values = app.view.showValues && std::max(t.n, t.m) <= kMaxValueLabelledCells;
  o.scale = std::clamp(app.view.exportScale, 0.25f, 8.0f);
  o.colormap = stageColormap(step, stageColours(app.view));
  o.unitRange = app.view.probabilitiesZeroToOne;
  o.colourScale = app.view.colourScale;
  return o;
}

}  // namespace

bool exportFigure(AppState& app, const std::string& path) {
  try {
    // The trace the window holds, brought up to date with the current inputs (the CPU
    // engine's, whichever backend is on screen): no second computation.
    bringUpToDate(app.doc);
    const Document& d = app.doc;
    const StageId step = currentStep(d);
    // A what-if changes the attention stages: their titles say which.
    std::string whatIf;
    if (!stageInfo(step).needsModel)
      for (const std::string& w : modelWhatIfs(app)) whatIf += (whatIf.empty() ? " — what if: " : ", ") + w;
    const FigureRequest r = makeFigureRequest(d.cpuTrace(), d.prepared, figureInputName(figureInput(d)) + whatIf,
                                              figureOptions(app, step));
    const std::string ext = fs::path(path).extension().string();
    writeFileAtomic(path, ext == ".svg" ? renderFigureSvg(r) : renderFigurePng(r));
    report(app, "Exported " + path);
    return true;
  } catch (const std::exception& e) {
    report(app, e.what(), true);
    return false;
  }
}

bool exportPictureFigure(AppState& app, const std::string& path) {
  try {
    bringUpToDate(app.doc);
    const Document& d = app.doc;
    const PictureView& view = app.doc.session.view.picture;
    PictureFigureOptions o;
    const int n = d.trace().n;
    o.selection.query = d.session.view.selectedRow >= 0 && d.session.view.selectedRow < n ? d.session.view.selectedRow : 0;
    o.selection.heads = view.heads;
    o.selection.head = std::clamp(d.session.view.head, 0, std::max(0, d.trace().heads - 1));
    o.selection.rollout = view.rollout;
    o.selection.fusion = view.fusion;
    o.selection.rolloutFrom = view.rolloutFrom;
    o.overlay.colormap = toFigureColormap(app.view.sequential);
    o.overlay.opacity = view.opacity;
    o.overlay.smooth = view.smooth;
    o.overlay.keep = view.keep;
    o.scale = std::clamp(app.view.exportScale, 0.25f, 8.0f);
    const FigureRequest r = makeSessionPictureFigure(d.session, figureInput(d), o);
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
  const std::vector<StageId> steps = availableSteps(app.doc);
  int written = 0;
  for (std::size_t s = 0; s < steps.size(); ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "step_%02zu_%s.png", s + 1, stageInfo(steps[s]).name);
    app.doc.session.view.step = int(steps[s]);
    written += exportFigure(app, (fs::path(directory) / name).string()) ? 1 : 0;
  }
  app.doc.session.view.step = current;
  const bool ok = written == int(steps.size());
  if (ok) report(app, "Exported " + std::to_string(written) + " steps to " + directory);
  return ok;
}

}  // namespace attnviz::gui
