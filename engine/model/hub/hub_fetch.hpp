#pragma once
// Downloading a model from the Hugging Face Hub into the cache, in the layout huggingface_hub
// writes (hub_cache.hpp), speaking its protocol:
//   GET  {endpoint}/api/models/{repo}/revision/{rev}     the commit and the file list
//   HEAD {endpoint}/{repo}/resolve/{commit}/{file}       X-Repo-Commit, ETag / X-Linked-Etag,
//                                                        X-Linked-Size, a redirect for large files
//   GET  (the redirect, else the resolve URL) with Range to resume blobs/ETAG.incomplete
// Errors come from X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo), one
// line each.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace attnviz::model::hub {

struct FetchProgress {
  std::string file;
  std::uint64_t fileDone = 0, fileTotal = 0;  // bytes of the current file
  std::uint64_t done = 0, total = 0;          // bytes of the whole download (cached files excluded)
  std::uint64_t resumed = 0;  // of done, bytes already on disk from an interrupted run (not this run's speed)
};

struct FetchOptions {
  std::string repoId, revision = "main";
  std::string endpoint;  // default: $HF_ENDPOINT, else https://huggingface.co
  std::string token;     // default: $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN, then HF_HOME/token
  std::string cache;     // default: cacheDirectory()
  bool offline = false;  // default: $HF_HUB_OFFLINE
  // Called before the downloads with the plan (done 0), then as bytes arrive.
  std::function<void(const FetchProgress&)> progress;
  const std::atomic<bool>* cancel = nullptr;  // set: stop, keeping the partial file to resume
};

// Options as the environment sets them (HF_ENDPOINT, the token, HF_HUB_OFFLINE, the cache).
FetchOptions fetchOptionsFromEnvironment(const std::string& repoId, const std::string& revision);

struct FetchFile {
  std::string path, etag;
  std::string url;      // where its bytes are (the file host's for a large file)
  std::uint64_t size = 0;
  bool large = false;   // stored with git LFS: the ETag is the SHA-256
  bool cached = false;  // already in blobs/
};

struct FetchResult {
  std::string repoId, commit, folder;  // folder: the snapshot
  std::vector<FetchFile> files;
  std::uint64_t downloaded = 0;  // bytes transferred
};

// Downloads what attnviz needs for the model (config, tokenizer or image processor files,
// safetensors weights or the index and its shards, the README) and links the snapshot. Refuses,
// before downloading any weights, a repository with pickle weights only and a model_type no
// family runs. Throws Error with one line for every failure; a failed or cancelled download
// leaves its partial blob (resumed next time) and nothing in snapshots/.
FetchResult fetchModel(const FetchOptions& options);

}  // namespace attnviz::model::hub
