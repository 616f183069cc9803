// The export actions: stage numbers (.npy / CSV), figures and PNG series.
#include <algorithm>
#include <filesystem>

#include "actions.hpp"
#include "colormap_lut.hpp"
#include "figure/figure.hpp"
#include "matrix_io.hpp"
#include "steps.hpp"

namespace attnviz::gui {

namespace fs = std::filesystem;

bool exportNumbers(AppState& app, const std::string& directory, const std::string& format) {
  if (format != "npy" && format != "csv") {
    report(app, "export format must be npy or csv", true);
    return false;
  }
  try {
    fs::create_directories(directory);
    const AttentionTrace& t = app.doc.trace();
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
      const std::string p = t.heads > 1 ? "head" + std::to_string(h + 1) + "_" : "";
      write(p + "1_scores", ht.scores);
      write(p + "2_scaled", ht.scaled);
      write(p + "3_masked", ht.masked);
      Matrix scratch;
      write(p + "4a_minus_row_max", stepMatrix(app.doc, StepId::SubtractMax, h, scratch));
      write(p + "4b_exp", ht.expValues);
      write(p + "4c_row_sum", Matrix(ht.rowSum.transpose()));
      write(p + "4d_weights", ht.weights);
      write(p + "5_output", ht.output);
    }
    write("5_concatenated", t.concatenated);
    if (app.doc.projected.size() > 0) write("6_projected", app.doc.projected);
    report(app, "Exported " + std::to_string(files) + " ." + format + " files to " + directory);
    return true;
  } catch (const std::exception& e) {
    report(app, e.what(), true);
    return false;
  }
}

bool exportFigure(AppState& app, const std::string& path) {
  // The same renderer as `attnviz export`, fed the stage, head, colour map and range on screen.
  try {
    const Document& d = app.doc;
    const StepId step = stepAt(d.session.view.step);
    const int head = d.session.view.head;
    FigureOptions o;
    o.head = head < 0 ? kAllHeads : head;
    o.values = app.view.showValues;
    o.scale = std::clamp(app.view.exportScale, 0.25f, 8.0f);
    const StepView sv = stepView(d, app.view, step, std::max(head, 0));
    o.colormap = toFigureColormap(sv.range.colormap);
    o.range = ValueRange{sv.range.vmin, sv.range.vmax};
    const std::string inputName = d.session.name.empty() ? "attnviz" : d.session.name;
    const std::optional<FigureStage> direct =
        step == StepId::Scores ? std::optional(FigureStage::Scores)
        : step == StepId::Scale ? std::optional(FigureStage::Scaled)
        : step == StepId::Mask ? std::optional(FigureStage::Masked)
        : step == StepId::Normalise ? std::optional(FigureStage::Weights)
        : step == StepId::Output ? std::optional(FigureStage::Output) : std::nullopt;
    o.stage = direct.value_or(FigureStage::Weights);
    FigureRequest r = makeFigureRequest(d.trace(), d.prepared.queryLabels, d.prepared.keyLabels, inputName, o);
    if (!direct) {
      // Softmax sub-steps and W_O are app-only stages: same figure, other numbers.
      const StepInfo& info = stepInfo(step);
      r.panels.clear();
      const int first = step == StepId::Projection || head >= 0 ? std::max(head, 0) : 0;
      const int last = step == StepId::Projection || head >= 0 ? first : d.trace().heads - 1;
      for (int h = first; h <= last; ++h) {
        Matrix scratch;
        FigurePanel p;
        p.caption = last > first ? "head " + std::to_string(h + 1) : "";
        p.values = stepMatrix(d, step, h, scratch);
        r.panels.push_back(std::move(p));
      }
      r.title = std::string(info.label) + " " + info.name + " — " + inputName;
      if (step == StepId::Projection) {
        r.colLabels = columnLabels(d, step);
        r.colAxis = "dimension";
        r.mask.resize(0, 0);
      }
    }
    std::string ext = fs::path(path).extension().string();
    const std::string bytes = ext == ".svg" ? renderFigureSvg(r) : renderFigurePng(r);
    writeFileAtomic(path, bytes);
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
