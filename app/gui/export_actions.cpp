// The export actions: stage numbers (.npy / CSV), figures and PNG series.
#include <filesystem>

#include "actions.hpp"
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
  // Waits for engine/figure's renderFigurePng/Svg (shared with `attnviz export`); until it lands
  // the window screenshot is the only image export.
  report(app, "figure export is not in this build yet; use File › Screenshot (" + path + ")", true);
  return false;
}

bool exportSeries(AppState& app, const std::string& directory) {
  try {
    fs::create_directories(directory);
  } catch (const std::exception& e) {
    report(app, e.what(), true);
    return false;
  }
  // Queued as automation lines so each step is drawn before it is captured.
  std::vector<std::string> lines;
  char name[32];
  for (int s = 0; s < stepCount(app.doc); ++s) {
    std::snprintf(name, sizeof name, "step_%02d.png", s + 1);
    lines.push_back("goto " + std::to_string(s));
    lines.push_back("screenshot " + (fs::path(directory) / name).string());
  }
  lines.push_back("goto " + std::to_string(app.doc.session.view.step));
  auto& script = app.automation.script;
  script.insert(script.begin() + long(app.automation.nextLine), lines.begin(), lines.end());
  report(app, "Exporting " + std::to_string(stepCount(app.doc)) + " steps to " + directory);
  return true;
}

}  // namespace attnviz::gui
