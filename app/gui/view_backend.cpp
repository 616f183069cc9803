// The backend chooser (Options panel) and the CPU-vs-GPU difference view (linked views): the
// GPU's renderer or why it cannot run, both timings, and |CPU − GPU| of the current step.
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "actions.hpp"
#include "derivation.hpp"
#include "gl_heatmap.hpp"
#include "gpu_compare.hpp"
#include "heatmap_panel.hpp"
#include "steps.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {

const ImVec4 kWarn(1, 0.7f, 0.2f, 1);

// The difference is recomputed only when the GPU result, the step or the head changed.
struct DiffCache {
  std::uint64_t gpuRev = ~0ull;
  int step = -1, head = -1;
  std::uint64_t textureRev = 0;
  StepDifference diff;
};

const DiffCache& currentDifference(const Document& d, StageId step, int head) {
  static DiffCache c;
  if (c.gpuRev != d.gpu.rev || c.step != int(step) || c.head != head) {
    c.gpuRev = d.gpu.rev;
    c.step = int(step);
    c.head = head;
    c.diff = stepDifference(d, step, head);
    ++c.textureRev;
  }
  return c;
}

}  // namespace

void drawBackendChooser(AppState& app) {
  Document& d = app.doc;
  GpuCompare& g = d.gpu;
  // Making the backend compiles its compute shaders (a stall of ~0.5 s on llvmpipe), so that
  // waits until GPU is chosen; the renderer's name costs nothing.
  if (g.renderer.empty()) g.renderer = glRenderer();
  ImGui::TextUnformatted("backend");
  ImGui::SameLine();
  if (ImGui::RadioButton("CPU", g.selected == BackendKind::Cpu)) selectBackend(app, BackendKind::Cpu);
  ImGui::SameLine();
  const bool usable = g.unavailable.empty();
  ImGui::BeginDisabled(!usable);
  if (ImGui::RadioButton("GPU", g.selected == BackendKind::Gpu)) selectBackend(app, BackendKind::Gpu);
  ImGui::EndDisabled();
  recordItemRect(app, "backend-gpu");
  ImGui::PushTextWrapPos(0);
  if (usable) ImGui::TextDisabled("GPU: %s", g.renderer.c_str());
  else ImGui::TextDisabled("GPU unavailable: %s", g.unavailable.c_str());
  if (!g.note.empty()) ImGui::TextColored(kWarn, "%s", g.note.c_str());
  if (g.active)
    ImGui::TextDisabled("CPU %.2f ms · GPU %.2f ms · max |CPU − GPU| of the weights %.1e", g.cpuMs, g.gpuMs,
                        double(g.maxDiff.count(stageInfo(StageId::Weights).name) ? g.maxDiff.at(stageInfo(StageId::Weights).name) : 0.0f));
  ImGui::PopTextWrapPos();
}

void drawBackendDifference(AppState& app) {
  const Document& d = app.doc;
  const GpuCompare& g = d.gpu;
  if (!g.active) {
    ImGui::PushTextWrapPos(0);
    ImGui::TextDisabled("%s", g.note.empty() ? "waiting for the GPU's result" : g.note.c_str());
    ImGui::PopTextWrapPos();
    return;
  }
  const StageId step = currentStep(d);
  if (stageInfo(step).needsModel) {
    ImGui::TextDisabled("%s is computed from the model's weights on the CPU; the GPU runs the attention steps", stageInfo(step).title);
    return;
  }
  const int head = stageIsPerHead(step) ? std::max(0, d.session.view.head) : 0;
  const DiffCache& c = currentDifference(d, step, head);
  const StepDifference& diff = c.diff;
  ImGui::Text("CPU %.2f ms", g.cpuMs);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("the CPU engine recomputes only the stages an edit changed");
  ImGui::SameLine(0, 16);
  ImGui::Text("GPU %.2f ms", g.gpuMs);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("full trace: upload, every stage, download");
  if (diff.values.size() == 0) {
    ImGui::TextDisabled("no difference view for this step");
    return;
  }
  ImGui::Text("max |CPU − GPU| = %.2e", double(diff.worst));
  if (diff.worstRow >= 0) {
    ImGui::SameLine();
    ImGui::TextDisabled("at [%d, %d]", diff.worstRow, diff.worstCol);
  }
  if (diff.maskMismatches > 0)
    ImGui::TextColored(kWarn, "%ld cells masked (or NaN) in only one of them", diff.maskMismatches);
  ImGui::TextDisabled("%s %s%s", stageInfo(step).label, stageInfo(step).title,
                      d.trace().heads > 1 && stageIsPerHead(step) ? (", head " + std::to_string(head)).c_str() : "");

  const float s = ImGui::GetFontSize() / 16.0f;
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const float w = ImGui::GetContentRegionAvail().x, h = std::min(w * 0.7f, 220 * s);
  PanelSpec spec;
  spec.values = &diff.values;
  spec.range.vmin = 0;
  spec.range.vmax = diff.worst > 0 ? diff.worst : 1e-7f;
  spec.range.colormap = ColormapId::Magma;
  spec.anyMasked = std::any_of(diff.values.data(), diff.values.data() + diff.values.size(),
                               [](float v) { return std::isinf(v) && v < 0; });
  spec.texture = matrixTexture("gpu-difference", c.textureRev, [&]() -> const Matrix& { return diff.values; });
  spec.valueText = false;
  HeatmapCamera camera;
  const PanelLayout L = layoutPanel(spec, p, ImVec2(p.x + w, p.y + h), camera);
  ImGui::InvisibleButton("##difference", ImVec2(w, h));
  int r = -1, col = -1;
  if (ImGui::IsItemHovered() && cellAt(spec, L, ImGui::GetIO().MousePos, &r, &col)) {
    spec.hoverRow = r;
    spec.hoverCol = col;
    Matrix a, b;
    const float cpu = stageDisplay(d.cpuTrace(), step, head, a)(r, col);
    const float gpu = stageDisplay(g.trace, step, head, b)(r, col);
    ImGui::SetTooltip("query %d “%s”, %s %d\nCPU %s   GPU %s   |difference| %.2e", r, queryLabel(d, r).c_str(),
                      stageColumnsAreKeys(step) ? "key" : "dimension", col,
                      formatValue(cpu).c_str(), formatValue(gpu).c_str(), double(diff.values(r, col)));
  }
  drawPanel(ImGui::GetWindowDrawList(), spec, L);
}

}  // namespace attnviz::gui
