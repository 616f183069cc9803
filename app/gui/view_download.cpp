// "Get a model…": a name box, suggestions with their download sizes, the progress of the
// download with Cancel, and offline, what the cache already holds.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <cstdio>

#include "hub/hub_cache.hpp"
#include "model_actions.hpp"
#include "model_download.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {

struct Suggestion {
  const char* repoId;
  const char* what;
  const char* size;  // what attnviz downloads (safetensors weights and small files)
};

constexpr Suggestion kSuggestions[] = {
    {"openai-community/gpt2", "GPT-2 small, 12 layers × 12 heads", "548 MB"},
    {"distilbert/distilgpt2", "DistilGPT-2, 6 layers × 12 heads", "353 MB"},
    {"HuggingFaceTB/SmolLM2-135M", "SmolLM2 135M, Llama family, grouped-query", "269 MB"},
    {"TinyLlama/TinyLlama-1.1B-Chat-v1.0", "TinyLlama 1.1B, 22 layers", "2.2 GB"},
    {"google-bert/bert-base-uncased", "BERT base uncased, an encoder", "440 MB"},
    {"facebook/deit-tiny-patch16-224", "DeiT tiny, a vision transformer", "23 MB"},
    {"facebook/dinov2-small", "DINOv2 small, a vision transformer", "88 MB"},
};

std::string megabytes(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", double(bytes) / 1e6);
  return text;
}

}  // namespace

void drawDownloadDialog(AppState& app) {
  ModelDownload& d = app.download;
  if (!d.dialogOpen) return;
  ImGui::SetNextWindowSize(ImVec2(700, 400), ImGuiCond_FirstUseEver);
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(ImVec2(vp->WorkPos.x + vp->WorkSize.x * 0.5f, vp->WorkPos.y + vp->WorkSize.y * 0.4f),
                          ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  bool open = true;
  if (ImGui::Begin("Get a model", &open, ImGuiWindowFlags_NoCollapse)) {
    const bool running = isDownloading(app);
    const bool offline = !model::hub::environment("HF_HUB_OFFLINE").empty() &&
                         model::hub::environment("HF_HUB_OFFLINE") != "0";
    if (offline) {
      ImGui::TextWrapped("Offline (HF_HUB_OFFLINE is set): nothing can be downloaded. The Hugging Face cache holds:");
      for (const model::hub::CachedModel& m : model::hub::listCachedModels(model::hub::cacheDirectory())) {
        if (ImGui::Selectable(m.repoId.c_str(), false, m.supported && m.safetensors ? 0 : ImGuiSelectableFlags_Disabled))
          setModel(app, m.repoId);
        ImGui::SameLine(260);
        ImGui::TextDisabled("%s", model::hub::describeCachedModel(m).c_str());
      }
    } else {
      ImGui::TextWrapped("A model on the Hugging Face Hub, downloaded into its cache (%s), then opened.",
                         model::hub::cacheDirectory().c_str());
      ImGui::SetNextItemWidth(-110);
      ImGui::InputTextWithHint("##hubname", "ORG/NAME", &d.name);
      recordItemRect(app, "download_name");
      ImGui::SameLine();
      ImGui::BeginDisabled(running || d.name.empty());
      if (ImGui::Button("Download", ImVec2(100, 0))) startModelDownload(app, d.name);
      ImGui::EndDisabled();
      if (running && d.progress) {
        const double total = double(d.progress->total), done = double(d.progress->done);
        std::string file;
        {
          std::lock_guard<std::mutex> lock(d.progress->fileMutex);
          file = d.progress->file;
        }
        const std::string label = total > 0 ? megabytes(d.progress->done) + " of " + megabytes(d.progress->total) +
                                                  (file.empty() ? "" : " · " + file)
                                            : std::string("asking the Hub…");
        ImGui::ProgressBar(total > 0 ? float(done / total) : 0.0f, ImVec2(-110, 0), label.c_str());
        ImGui::SameLine();
        if (ImGui::Button("Cancel", ImVec2(100, 0))) cancelModelDownload(app);
      }
      if (!d.error.empty()) {
        ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.45f, 0.4f, 1));
        ImGui::TextWrapped("%s", d.error.c_str());
        ImGui::PopStyleColor();
      }
      ImGui::Separator();
      ImGui::TextDisabled("suggestions (download size)");
      for (const Suggestion& s : kSuggestions) {
        if (ImGui::Selectable(s.repoId, d.name == s.repoId, running ? ImGuiSelectableFlags_Disabled : 0)) d.name = s.repoId;
        ImGui::SameLine(300);  // the names column
        ImGui::TextDisabled("%s · %s", s.size, s.what);
      }
    }
  }
  ImGui::End();
  if (!open) showDownloadDialog(app, false);  // closing the window leaves a download running
}

}  // namespace attnviz::gui
