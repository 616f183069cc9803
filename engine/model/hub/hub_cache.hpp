#pragma once
// The Hugging Face cache as huggingface_hub lays it out, read so that models transformers
// already downloaded open by name:
//   CACHE/models--ORG--NAME/refs/REVISION        a commit hash, no newline
//   CACHE/models--ORG--NAME/snapshots/COMMIT/... the files (links into blobs/)
//   CACHE/models--ORG--NAME/blobs/ETAG
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attnviz::model::hub {

// An environment variable's value, "" when unset.
std::string environment(const char* name);

// HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub,
// else ~/.cache/huggingface/hub (the order huggingface_hub's constants follow).
std::string cacheDirectory();

// "ORG/NAME" -> "models--ORG--NAME"; "NAME" -> "models--NAME".
std::string repoFolderName(const std::string& repoId);
// The inverse; "" for a folder that is not a model repository's.
std::string repoIdOfFolder(const std::string& folderName);

// A model name with an optional revision: "ORG/NAME@REV" (REV a branch, tag or commit).
struct ModelRef {
  std::string repoId, revision;  // revision "" means main
};
ModelRef parseModelRef(const std::string& text);
// A name that could be a Hub repository id: one or two parts of letters, digits, '-', '_', '.'.
bool looksLikeRepoId(const std::string& name);

struct CachedSnapshot {
  std::string repoId;    // as cached (may differ from the name asked for: "gpt2" found as openai-community/gpt2)
  std::string revision;  // as asked ("main" by default)
  std::string commit;
  std::string folder;  // CACHE/models--…/snapshots/COMMIT
};

// Finds `ref` in `cache`: refs/REV names the commit (or REV is a cached commit itself). A bare
// NAME also matches one cached ORG/NAME, and ORG/NAME a cached bare NAME, since the Hub moved its
// old root models (gpt2, bert-base-uncased) under organisations. nullopt when the cache holds no
// such repository; throws Error when it does but not that revision, or when a bare name is
// ambiguous.
std::optional<CachedSnapshot> findCachedModel(const ModelRef& ref, const std::string& cache);

struct CachedModel {
  std::string repoId, commit, folder;
  std::string modelType;   // config.json's model_type, "" when unreadable
  bool supported = false;  // a family attnviz runs (family.hpp's registry)
  std::uint64_t bytes = 0;  // the weights' size (safetensors, else the pickles')
  bool safetensors = false;
};
// Every cached model whose main snapshot (else its newest) has a config.json, sorted by id.
std::vector<CachedModel> listCachedModels(const std::string& cache);
// "gpt2 · 548.1 MB · safetensors · commit 607a30d", or what keeps it from opening.
std::string describeCachedModel(const CachedModel& m);

}  // namespace attnviz::model::hub
