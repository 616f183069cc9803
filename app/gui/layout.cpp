// Places the views: inputs and options on the left, the pipeline strip and heatmap in the
// middle, linked views on the right, the status bar at the bottom. Recomputed from the window
// size every frame, so resizing (and HiDPI scale) just works.
#include <algorithm>
#include <imgui.h>
#include <imgui_internal.h>

#include <string>

#include "model_analysis.hpp"
#include "steps.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {

constexpr ImGuiWindowFlags kPanel = ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize |
                                    ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoBringToFrontOnFocus;

void place(float x, float y, float w, float h) {
  ImGui::SetNextWindowPos(ImVec2(x, y));
  ImGui::SetNextWindowSize(ImVec2(w, h));
}

// Called before a panel's End: its visible inner rectangle ("window:NAME") and how far its
// items reached ("content:NAME", from ImGui's cursor bounds), so --dump-state can show that no
// widget was cut at the panel's right edge (tests/gui/never_lost_test.py).
void recordPanelExtent(AppState& app, const char* name) {
  const ImGuiWindow* w = ImGui::GetCurrentWindow();
  app.widgetRects[std::string("window:") + name] = {w->InnerClipRect.Min.x, w->InnerClipRect.Min.y,
                                                   w->InnerClipRect.Max.x, w->InnerClipRect.Max.y};
  app.widgetRects[std::string("content:") + name] = {w->DC.CursorStartPos.x, w->DC.CursorStartPos.y,
                                                    w->DC.CursorMaxPos.x, w->DC.CursorMaxPos.y};
}

// A linked view's header, recorded so tests can see every one is on screen.
bool linkedHeader(AppState& app, const char* label, const char* name) {
  const bool open = ImGui::CollapsingHeader(label, ImGuiTreeNodeFlags_DefaultOpen);
  recordItemRect(app, (std::string("linked:") + name).c_str());
  return open;
}

}  // namespace

void drawLayout(AppState& app) {
  drawMenuBar(app);
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  const float s = ImGui::GetFontSize() / 16.0f;
  const float top = vp->WorkPos.y, W = vp->WorkSize.x;
  const float statusH = ImGui::GetFrameHeight() + 6 * s;
  const float H = vp->WorkSize.y - statusH;
  const float left = app.view.showInputs ? std::min(340 * s, W * 0.24f) : 0;
  const float right = app.view.showLinked ? std::min(370 * s, W * 0.26f) : 0;
  const float center = W - left - right;

  if (left > 0) {
    const float inputsH = H * 0.52f;
    place(0, top, left, inputsH);
    if (ImGui::Begin("Inputs", nullptr, kPanel)) {
      drawInputsPanel(app);
      recordPanelExtent(app, "Inputs");
    }
    ImGui::End();
    place(0, top + inputsH, left, H - inputsH);
    if (ImGui::Begin("Options", nullptr, kPanel)) {
      drawOptionsPanel(app);
      recordPanelExtent(app, "Options");
    }
    ImGui::End();
  }
  // As tall as the strip was last frame: it wraps onto a second row of steps in narrow windows.
  static float stripContentH = 0;
  const float stripH = std::max(ImGui::GetFrameHeightWithSpacing() * 2 + ImGui::GetTextLineHeightWithSpacing() * 3 + 24 * s,
                                stripContentH);
  place(left, top, center, stripH);
  if (ImGui::Begin("Pipeline", nullptr, kPanel | ImGuiWindowFlags_NoScrollbar)) {
    drawPipelineStrip(app);
    stripContentH = ImGui::GetCursorPosY() + ImGui::GetStyle().WindowPadding.y;
    recordPanelExtent(app, "Pipeline");
  }
  ImGui::End();
  place(left, top + stripH, center, H - stripH);
  if (ImGui::Begin("Heatmap", nullptr, kPanel | ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse))
  {
    drawHeatmapView(app);
    recordPanelExtent(app, "Heatmap");
  }
  ImGui::End();
  if (right > 0) {
    place(left + center, top, right, H);
    if (ImGui::Begin("Linked views", nullptr, kPanel)) {
      if (app.doc.gpu.selected == BackendKind::Gpu &&
          ImGui::CollapsingHeader("CPU vs GPU: |difference|", ImGuiTreeNodeFlags_DefaultOpen))
        drawBackendDifference(app);
      if (currentStep(app.doc) == StageId::Rope && ImGui::CollapsingHeader("RoPE: the pair turning by θ", ImGuiTreeNodeFlags_DefaultOpen)) drawRopePanel(app);
      if (app.doc.prepared.picture && linkedHeader(app, "Picture: where the query looks", "picture"))
        drawPictureView(app);
      if (app.doc.prepared.forward) {
        if (ImGui::CollapsingHeader("Model: every layer and head", ImGuiTreeNodeFlags_DefaultOpen)) drawModelOverview(app);
        if (ImGui::CollapsingHeader("Predictions", ImGuiTreeNodeFlags_DefaultOpen)) drawPredictions(app);
        if (hasReadout(app)) {
          if (linkedHeader(app, "Each layer's guess (logit lens)", "logit-lens")) drawLogitLens(app);
          if (linkedHeader(app, "Heads' direct effect on the prediction", "head-effects")) drawHeadEffects(app);
          if (linkedHeader(app, "Generate: the next tokens", "generate")) drawGeneration(app);
          if (linkedHeader(app, "Patching: what a head carries", "patching")) drawPatching(app);
        }
      } else if (app.doc.prepared.bundle &&
                 ImGui::CollapsingHeader("Bundle: every layer and head", ImGuiTreeNodeFlags_DefaultOpen)) {
        drawModelOverview(app);
      }
      if (linkedHeader(app, "Selected row: weights", "selected-row")) drawBarChart(app);
      if (linkedHeader(app, "Lines: queries → keys", "lines")) drawLinesView(app);
      if (linkedHeader(app, "All heads", "all-heads")) drawHeadsGrid(app);
      if (linkedHeader(app, "Row statistics", "row-statistics")) drawStatsTable(app);
      // Last: it is the tallest, and the headers above it stay on screen for long inputs.
      if (linkedHeader(app, "Neuron view: q ⊙ k", "neuron")) drawNeuronView(app);
      recordPanelExtent(app, "Linked views");
    }
    ImGui::End();
  }
  place(0, top + H, W, statusH);
  if (ImGui::Begin("##status", nullptr, kPanel | ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar))
    drawStatusBar(app);
  ImGui::End();

  drawFileChooser(app);
  drawSamplesBrowser(app);
  drawDownloadDialog(app);
  drawRecoveryPrompt(app);
  drawReplacePrompt(app);
}

}  // namespace attnviz::gui
