#pragma once
// "Get a model…": downloading a model from the Hugging Face Hub into its cache on a worker
// thread (engine/model/hub/hub_fetch.hpp), the window drawing on meanwhile; the model opens when
// the download is done. The dialog (view_download.cpp) and --script lines call these.
#include <string>

#include "app_state.hpp"

namespace attnviz::gui {

void showDownloadDialog(AppState& app, bool open);
// Starts downloading ORG/NAME (refused in the status bar while another download runs).
bool startModelDownload(AppState& app, const std::string& repoId);
// Stops the download; its partial file stays in the cache and the next try resumes it.
void cancelModelDownload(AppState& app);
bool isDownloading(const AppState& app);
// Once a frame: a finished download opens its model (or shows its error).
void pollModelDownload(AppState& app);
// Waits for a running download to stop after cancelling it (the app is quitting).
void stopModelDownload(AppState& app);

}  // namespace attnviz::gui
