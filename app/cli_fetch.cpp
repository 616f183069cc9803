// `attnviz fetch ORG/NAME [--revision R]`: a model from the Hugging Face Hub into the cache.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "hub/hub_fetch.hpp"

namespace attnviz::cli {
namespace {

constexpr const char* kFetchHelp =
    "usage: attnviz fetch ORG/NAME [--revision R]\n"
    "\n"
    "Downloads what attnviz needs of a model on the Hugging Face Hub (config.json, the tokenizer\n"
    "or image processor files, model.safetensors or the index and its shards, the README) into\n"
    "the Hugging Face cache, in the layout huggingface_hub writes, so transformers and attnviz\n"
    "share it; then `attnviz --model ORG/NAME` opens it. Files already cached are not downloaded\n"
    "again; an interrupted download resumes. Prints the plan (files, total size) first, a progress\n"
    "bar on a terminal, and the snapshot's folder at the end; errors go to standard error.\n"
    "\n"
    "Environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (then\n"
    "HUGGING_FACE_HUB_TOKEN, then the token file in HF_HOME) for private and gated models,\n"
    "HF_HUB_OFFLINE=1 (only what the cache holds), HF_HUB_DISABLE_PROGRESS_BARS=1, and the\n"
    "cache's place: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub.\n";

std::string mb(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", double(bytes) / 1e6);
  return text;
}

// A one-line bar redrawn in place: file, bytes, speed and time left.
class ProgressBar {
 public:
  void operator()(const model::hub::FetchProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (p.done == 0) {
      start_ = now;
      return;
    }
    if (now - last_ < std::chrono::milliseconds(100) && p.done < p.total) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double speed = seconds > 0 ? double(p.done - p.resumed) / seconds : 0;
    const double left = speed > 0 && p.total > p.done ? double(p.total - p.done) / speed : 0;
    std::printf("\r  %-28.28s %9s of %-9s %6.1f MB/s  %3d:%02d left ", p.file.c_str(), mb(p.done).c_str(),
                mb(p.total).c_str(), speed / 1e6, int(left) / 60, int(left) % 60);
    std::fflush(stdout);
    drawn_ = true;
  }
  void finish() {
    if (drawn_) std::printf("\n");
  }

 private:
  std::chrono::steady_clock::time_point start_{}, last_{};
  bool drawn_ = false;
};

// Ctrl-C stops the transfer between two pieces instead of killing the process, so the partial
// blob is flushed and closed, the lock released, and the message says it resumes.
std::atomic<bool> interrupted{false};
extern "C" void onInterrupt(int) { interrupted.store(true); }

class InterruptGuard {
 public:
  InterruptGuard() {
    struct sigaction action {};
    action.sa_handler = onInterrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previousInt_);
    sigaction(SIGTERM, &action, &previousTerm_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &previousInt_, nullptr);
    sigaction(SIGTERM, &previousTerm_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  struct sigaction previousInt_ {}, previousTerm_ {};
};

}  // namespace

int cmdFetch(const std::vector<std::string>& args) {
  std::string repo, revision;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kFetchHelp;
      return 0;
    }
    if (args[i] == "--revision") revision = takeValue(args, i);
    else if (!args[i].empty() && args[i][0] == '-') throw UsageError("unknown option " + args[i]);
    else if (repo.empty()) repo = args[i];
    else throw UsageError("fetch takes one model (got " + repo + " and " + args[i] + ")");
  }
  if (repo.empty()) throw UsageError("name the model: attnviz fetch ORG/NAME");
  model::hub::FetchOptions options = model::hub::fetchOptionsFromEnvironment(repo, revision);
  const char* quiet = std::getenv("HF_HUB_DISABLE_PROGRESS_BARS");
  const bool bar = isatty(fileno(stdout)) && !(quiet && *quiet && std::string(quiet) != "0");
  ProgressBar drawBar;
  bool planned = false;
  options.progress = [&](const model::hub::FetchProgress& p) {
    if (!planned) {
      planned = true;
      std::cout << repo << ": " << mb(p.total) << " to download" << std::endl;
    }
    if (bar) drawBar(p);
  };
  interrupted.store(false);
  options.cancel = &interrupted;
  InterruptGuard guard;
  model::hub::FetchResult r;
  try {
    r = model::hub::fetchModel(options);
  } catch (const Error& e) {
    if (bar) drawBar.finish();
    if (!interrupted.load()) throw;
    std::cerr << "attnviz fetch: " << e.what() << "\n";
    return 130;  // the shell's code for a command stopped by Ctrl-C
  } catch (...) {
    if (bar) drawBar.finish();
    throw;
  }
  if (bar) drawBar.finish();
  int cached = 0;
  for (const auto& f : r.files) cached += f.cached ? 1 : 0;
  if (options.offline) std::cout << repo << ": offline; the cache holds commit " << r.commit.substr(0, 7) << "\n";
  else
    std::cout << repo << " at commit " << r.commit.substr(0, 7) << ": " << r.files.size() << " files, " << mb(r.downloaded)
              << " downloaded, " << cached << " already cached\n";
  std::cout << r.folder << "\n";
  return 0;
}

}  // namespace attnviz::cli
