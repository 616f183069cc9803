// File menu, samples browser, the in-app file chooser, the recovery prompt and the quit question.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <filesystem>

#include "actions.hpp"
#include "cell_text.hpp"
#include "colormap_lut.hpp"
#include "model_actions.hpp"
#include "recovery.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace fs = std::filesystem;
using Purpose = FileChooser::Purpose;

void openFileChooser(AppState& app, Purpose p, const std::string& suggested) {
  FileChooser& c = app.chooser;
  c.open = true;
  c.purpose = p;
  c.error.clear();
  if (c.directory.empty()) {
    std::error_code ec;
    c.directory = app.doc.path.empty() ? fs::current_path(ec).string() : fs::path(app.doc.path).parent_path().string();
  }
  c.fileName = suggested;
}

namespace {

const char* title(Purpose p) {
  switch (p) {
    case Purpose::OpenSession: return "Open session, matrix or model (folder, .safetensors)";
    case Purpose::OpenImage: return "Open image (PNG, JPEG) for a vision model";
    case Purpose::ExportPicture: return "Export the picture view (.png or .svg)";
    case Purpose::SaveSession: return "Save session";
    case Purpose::ExportPng: return "Export heatmap as PNG";
    case Purpose::ExportSvg: return "Export heatmap as SVG";
    case Purpose::ExportNumbers: return "Export every stage's numbers (folder)";
    case Purpose::ExportSeries: return "Export all steps as PNG series (folder)";
    case Purpose::LoadMatrixQ: return "Load Q";
    case Purpose::LoadMatrixK: return "Load K";
    case Purpose::LoadMatrixV: return "Load V";
    case Purpose::LoadMask: return "Load mask";
    case Purpose::OpenAttention: return "Open attention bundle (.npz, .safetensors)";
  }
  return "";
}

bool accept(AppState& app, const std::string& path) {
  switch (app.chooser.purpose) {
    case Purpose::OpenSession: return openFile(app, path);
    case Purpose::OpenImage: return openImage(app, path);
    case Purpose::ExportPicture: return exportPictureFigure(app, path);
    case Purpose::SaveSession: return saveSessionAs(app, path);
    case Purpose::ExportPng:
    case Purpose::ExportSvg: return exportFigure(app, path);
    case Purpose::ExportNumbers:
      return exportNumbers(app, path, fs::path(app.chooser.fileName).extension() == ".csv" ? "csv" : "npy");
    case Purpose::ExportSeries: return exportSeries(app, path);
    case Purpose::LoadMatrixQ: return loadMatrix(app, MatrixSlot::Q, path);
    case Purpose::LoadMatrixK: return loadMatrix(app, MatrixSlot::K, path);
    case Purpose::LoadMatrixV: return loadMatrix(app, MatrixSlot::V, path);
    case Purpose::LoadMask: return loadMask(app, path);
    case Purpose::OpenAttention: return openBundle(app, path, app.chooser.allowUnnormalised);
  }
  return false;
}

}  // namespace

void drawMenuBar(AppState& app) {
  if (!ImGui::BeginMainMenuBar()) return;
  if (ImGui::BeginMenu("File")) {
    if (ImGui::MenuItem("Samples…")) showSamplesBrowser(app, true);
    if (ImGui::MenuItem("Open…", "Ctrl+O")) openFileChooser(app, Purpose::OpenSession, "");
    if (ImGui::MenuItem("Open model…")) openFileChooser(app, Purpose::OpenSession, "");  // the chooser takes a folder too
    if (ImGui::MenuItem("Open image…")) openFileChooser(app, Purpose::OpenImage, "");
    if (ImGui::MenuItem("Open attention…")) openFileChooser(app, Purpose::OpenAttention, "");
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("An attention bundle: attention [layers, heads, n, m] with its tokens, optionally Q, K, V\n"
                        "(.npz from np.savez or tools/attnviz_bundle.py, or .safetensors)");
    if (ImGui::MenuItem("Save", "Ctrl+S")) {
      if (app.doc.path.empty()) openFileChooser(app, Purpose::SaveSession, "session.json");
      else saveSessionAs(app, app.doc.path);
    }
    if (ImGui::MenuItem("Save as…")) openFileChooser(app, Purpose::SaveSession, "session.json");
    ImGui::Separator();
    if (ImGui::MenuItem("Export heatmap as PNG…")) openFileChooser(app, Purpose::ExportPng, "heatmap.png");
    if (ImGui::MenuItem("Export heatmap as SVG…")) openFileChooser(app, Purpose::ExportSvg, "heatmap.svg");
    ImGui::SetNextItemWidth(120);
    float scale = app.view.exportScale;
    if (ImGui::SliderFloat("figure scale", &scale, 0.5f, 4.0f, "%.1f×")) setExportScale(app, scale);
    if (ImGui::MenuItem("Export every stage (.npy)…")) openFileChooser(app, Purpose::ExportNumbers, "stages");
    if (ImGui::MenuItem("Export every stage (CSV)…")) openFileChooser(app, Purpose::ExportNumbers, "stages.csv");
    if (ImGui::MenuItem("Export all steps as PNG series…")) openFileChooser(app, Purpose::ExportSeries, "steps");
    ImGui::Separator();
    if (ImGui::MenuItem("Quit", "Ctrl+Q")) quit(app);
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("View")) {
    const std::pair<const char*, ViewToggle> items[] = {
        {"Inputs and options", ViewToggle::InputsPanel},
        {"Linked views", ViewToggle::LinkedPanel},
        {"Values in cells", ViewToggle::Values},
        {"Diverging map for signed values", ViewToggle::DivergingForSigned},
        {"Weights on a fixed 0–1 scale", ViewToggle::UnitRange}};
    for (const auto& [label, which] : items)
      if (ImGui::MenuItem(label, nullptr, viewToggle(app, which))) setViewToggle(app, which, !viewToggle(app, which));
    if (ImGui::BeginMenu("Colour map")) {
      for (int i = 0; i < 3; ++i)
        if (ImGui::MenuItem(colormapName(ColormapId(i)), nullptr, app.view.sequential == ColormapId(i)))
          setColormap(app, ColormapId(i));
      ImGui::EndMenu();
    }
    if (ImGui::MenuItem("Fit heatmap", "F")) fitView(app);
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Help")) {
    ImGui::TextUnformatted("← → step   Space play   Home/End first/last   Esc unpin   F fit");
    ImGui::TextUnformatted("Wheel zoom, drag pan, double-click fit, click a cell to pin it.");
    ImGui::TextUnformatted("Model and bundle modes: [ ] previous/next layer   , . previous/next head");
    ImGui::TextUnformatted("Drop a .json session, a .npy/.csv matrix, a model folder or an attention bundle\n"
                           "(.npz, .safetensors) on the window to load it.");
    ImGui::EndMenu();
  }
  ImGui::EndMainMenuBar();
}

// The articles-* samples say "the articles"; someone who has not read them learns here what they are.
constexpr const char* kArticlesExplained =
    "“The articles” are the online tutorials on self-attention whose worked examples the articles-* "
    "samples recompute; their descriptions say where the printed numbers were right and where wrong.";

void drawSamplesBrowser(AppState& app) {
  if (!app.showSamples) return;
  ImGui::SetNextWindowSize(ImVec2(640, 420), ImGuiCond_FirstUseEver);
  bool open = true;
  if (ImGui::Begin("Samples", &open)) {
    static std::vector<SampleInfo> samples = listSamples();
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("%s", kArticlesExplained);
    ImGui::PopStyleColor();
    ImGui::Separator();
    for (const SampleInfo& s : samples) {
      if (ImGui::Button(s.name.c_str(), ImVec2(200, 0))) {
        showSamplesBrowser(app, false);
        loadSample(app, s.name);
      }
      ImGui::SameLine();
      // Broken at spaces only: Dear ImGui's wrapping may break after a '.', inside "8.851".
      const float width = ImGui::GetContentRegionAvail().x;
      ImGui::BeginGroup();
      for (const std::string& line : wrapAtSpaces(s.description, width,
                                                  [](std::string_view t) { return ImGui::CalcTextSize(t.data(), t.data() + t.size()).x; }))
        ImGui::TextDisabled("%s", line.c_str());
      ImGui::EndGroup();
    }
  }
  ImGui::End();
  if (!open) showSamplesBrowser(app, false);  // the window's close button
}

void drawFileChooser(AppState& app) {
  FileChooser& c = app.chooser;
  if (!c.open) return;
  ImGui::SetNextWindowSize(ImVec2(720, 480), ImGuiCond_FirstUseEver);
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(ImVec2(vp->WorkPos.x + vp->WorkSize.x * 0.5f, vp->WorkPos.y + vp->WorkSize.y * 0.4f),
                          ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  if (!ImGui::Begin(title(c.purpose), &c.open, ImGuiWindowFlags_NoCollapse)) {
    ImGui::End();
    return;
  }
  ImGui::SetNextItemWidth(-1);
  ImGui::InputText("##dir", &c.directory);
  if (ImGui::Button("↑ Parent")) c.directory = fs::path(c.directory).parent_path().string();
  ImGui::SameLine();
  if (ImGui::Button("Samples folder")) c.directory = (fs::path(dataDirectory()) / "samples").string();
  ImGui::SameLine();
  if (const char* home = std::getenv("HOME"); home && ImGui::Button("Home")) c.directory = home;
  std::vector<fs::directory_entry> entries;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(c.directory, fs::directory_options::skip_permission_denied, ec))
    if (e.path().filename().string()[0] != '.') entries.push_back(e);
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    if (a.is_directory() != b.is_directory()) return a.is_directory();
    return a.path().filename() < b.path().filename();
  });
  const float footer = ImGui::GetFrameHeightWithSpacing() * (c.purpose == Purpose::OpenAttention ? 3 : 2) + 8;
  if (ImGui::BeginChild("##entries", ImVec2(0, -footer), true)) {
    if (ec) ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "%s", ec.message().c_str());
    for (const auto& e : entries) {
      const std::string name = e.path().filename().string();
      const bool dir = e.is_directory();
      if (ImGui::Selectable((dir ? "▸ " + name + "/" : "  " + name).c_str(), c.fileName == name,
                            ImGuiSelectableFlags_AllowDoubleClick)) {
        if (dir && ImGui::IsMouseDoubleClicked(0)) c.directory = e.path().string();
        else c.fileName = name;
        if (!dir && ImGui::IsMouseDoubleClicked(0) && accept(app, e.path().string())) c.open = false;
      }
    }
  }
  ImGui::EndChild();
  ImGui::SetNextItemWidth(-160);
  const bool enter = ImGui::InputText("##name", &c.fileName, ImGuiInputTextFlags_EnterReturnsTrue);
  ImGui::SameLine();
  if ((ImGui::Button("OK", ImVec2(70, 0)) || enter) && !c.fileName.empty()) {
    const fs::path p = fs::path(c.fileName).is_absolute() ? fs::path(c.fileName) : fs::path(c.directory) / c.fileName;
    if (accept(app, p.string())) c.open = false;
    else c.error = app.message;
  }
  ImGui::SameLine();
  if (ImGui::Button("Cancel", ImVec2(70, 0))) c.open = false;
  if (c.purpose == Purpose::OpenAttention)
    ImGui::Checkbox("show rows that do not sum to 1 as given", &c.allowUnnormalised);
  if (!c.error.empty()) {
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "%s", c.error.c_str());
    ImGui::PopTextWrapPos();
  }
  ImGui::End();
}

void drawRecoveryPrompt(AppState& app) {
  Recovery& r = app.recovery;
  if (r.offer) {
    ImGui::OpenPopup("Restore unsaved work?");
    if (ImGui::BeginPopupModal("Restore unsaved work?", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) {
      ImGui::TextUnformatted("attnviz stopped last time before these edits were saved.");
      ImGui::TextDisabled("%s (%s)", r.offerPath.c_str(), r.offerWhen.c_str());
      ImGui::TextUnformatted("Restore opens them as an unsaved session; Discard deletes the file.");
      if (ImGui::Button("Restore", ImVec2(120, 0))) {
        restoreRecovery(app);
        ImGui::CloseCurrentPopup();
      }
      ImGui::SameLine();
      if (ImGui::Button("Discard", ImVec2(120, 0))) {
        discardRecovery(app);
        ImGui::CloseCurrentPopup();
      }
      ImGui::EndPopup();
    }
    return;
  }
  drawQuitPrompt(app);
}

}  // namespace attnviz::gui
