#include "model_download.hpp"

#include "actions.hpp"
#include "hub/hub_fetch.hpp"
#include "model_actions.hpp"
#include "types.hpp"

namespace attnviz::gui {

void showDownloadDialog(AppState& app, bool open) { app.download.dialogOpen = open; }

bool isDownloading(const AppState& app) { return app.download.job.valid(); }

bool startModelDownload(AppState& app, const std::string& repoId) {
  ModelDownload& d = app.download;
  if (isDownloading(app)) {
    report(app, "a download is already running: wait for it or cancel it", true);
    return false;
  }
  d.name = repoId;
  d.error.clear();
  d.progress = std::make_shared<ModelDownload::Progress>();
  model::hub::FetchOptions options = model::hub::fetchOptionsFromEnvironment(repoId, "");
  std::shared_ptr<ModelDownload::Progress> progress = d.progress;
  options.cancel = &progress->cancel;
  options.progress = [progress](const model::hub::FetchProgress& p) {
    progress->done = p.done;
    progress->total = p.total;
    std::lock_guard<std::mutex> lock(progress->fileMutex);
    progress->file = p.file;
  };
  // The options (and the progress they point into) travel with the job: nothing on the worker
  // refers to the AppState, which may change while it runs.
  d.job = std::async(std::launch::async, [options = std::move(options), progress]() {
    ModelDownload::Outcome out;
    try {
      const model::hub::FetchResult r = model::hub::fetchModel(options);
      out.repoId = r.repoId;
      out.folder = r.folder;
    } catch (const std::exception& e) {
      out.error = printable(e.what());
    }
    return out;
  });
  report(app, "downloading " + repoId + "…");
  return true;
}

void cancelModelDownload(AppState& app) {
  if (app.download.progress) app.download.progress->cancel = true;
}

void pollModelDownload(AppState& app) {
  ModelDownload& d = app.download;
  if (!d.job.valid() || d.job.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
  const ModelDownload::Outcome out = d.job.get();
  if (!out.error.empty()) {
    d.error = out.error;
    // Cancelling is the user's choice, not a failure (a scripted run still exits 0).
    report(app, d.name + ": " + out.error, !(d.progress && d.progress->cancel));
    return;
  }
  d.dialogOpen = false;
  if (setModel(app, out.repoId)) report(app, "downloaded " + out.repoId + " into " + out.folder);
}

void stopModelDownload(AppState& app) {
  cancelModelDownload(app);
  if (app.download.job.valid()) app.download.job.wait();
}

}  // namespace attnviz::gui
