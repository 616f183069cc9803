#include "hub_cache.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "family.hpp"
#include "types.hpp"

namespace attnviz::model::hub {
namespace {

namespace fs = std::filesystem;

bool isCommitHash(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string firstLine(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

// The snapshot of `revision` in a repository folder: refs/REVISION's commit, or REVISION when it
// is a commit with a snapshot. "" when neither.
std::string commitOf(const fs::path& repo, const std::string& revision) {
  std::error_code ec;
  const fs::path ref = repo / "refs" / revision;
  if (revision.find("..") == std::string::npos && fs::is_regular_file(ref, ec)) {
    const std::string commit = firstLine(ref);
    if (fs::is_directory(repo / "snapshots" / commit, ec)) return commit;
  }
  if (isCommitHash(revision) && fs::is_directory(repo / "snapshots" / revision, ec)) return revision;
  return "";
}

std::vector<std::string> cachedRefs(const fs::path& repo) {
  std::vector<std::string> refs;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(repo / "refs", ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file(ec)) refs.push_back(fs::relative(it->path(), repo / "refs", ec).generic_string());
  std::sort(refs.begin(), refs.end());
  return refs;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

std::string env(const char* name) { return environment(name); }

}  // namespace

std::string environment(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string cacheDirectory() {
  if (const std::string v = env("HF_HUB_CACHE"); !v.empty()) return v;
  if (const std::string v = env("HUGGINGFACE_HUB_CACHE"); !v.empty()) return v;
  if (const std::string v = env("HF_HOME"); !v.empty()) return (fs::path(v) / "hub").string();
  if (const std::string v = env("XDG_CACHE_HOME"); !v.empty()) return (fs::path(v) / "huggingface" / "hub").string();
  return (fs::path(env("HOME")) / ".cache" / "huggingface" / "hub").string();
}

std::string repoFolderName(const std::string& repoId) {
  std::string out = "models--";
  for (char c : repoId) {
    if (c == '/') out += "--";
    else out += c;
  }
  return out;
}

std::string repoIdOfFolder(const std::string& folderName) {
  const std::string prefix = "models--";
  if (folderName.rfind(prefix, 0) != 0 || folderName.size() == prefix.size()) return "";
  std::string rest = folderName.substr(prefix.size());
  const std::size_t split = rest.find("--");
  if (split != std::string::npos) rest = rest.substr(0, split) + "/" + rest.substr(split + 2);
  return rest;
}

bool looksLikeRepoId(const std::string& name) {
  if (name.empty() || name.size() > 96) return false;
  int slashes = 0;
  for (char c : name) {
    if (c == '/') ++slashes;
    else if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  const std::size_t slash = name.find('/');
  return slashes <= 1 && name.front() != '/' && name.back() != '/' && name.front() != '.' &&
         name.find("..") == std::string::npos && name.find("--") == std::string::npos &&
         (slash == std::string::npos || name[slash + 1] != '.');
}

ModelRef parseModelRef(const std::string& text) {
  ModelRef r;
  const std::size_t at = text.rfind('@');
  r.repoId = at == std::string::npos ? text : text.substr(0, at);
  if (at != std::string::npos) r.revision = text.substr(at + 1);
  return r;
}

std::optional<CachedSnapshot> findCachedModel(const ModelRef& ref, const std::string& cache) {
  std::error_code ec;
  const fs::path root(cache);
  if (!looksLikeRepoId(ref.repoId) || !fs::is_directory(root, ec)) return std::nullopt;
  std::vector<std::string> candidates{ref.repoId};
  const std::size_t slash = ref.repoId.find('/');
  if (slash != std::string::npos) {
    candidates.push_back(ref.repoId.substr(slash + 1));
  } else {
    std::vector<std::string> owned;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
      const std::string id = repoIdOfFolder(entry.path().filename().string());
      if (id.size() > ref.repoId.size() + 1 && id.ends_with("/" + ref.repoId)) owned.push_back(id);
    }
    std::sort(owned.begin(), owned.end());
    if (owned.size() > 1 && !fs::is_directory(root / repoFolderName(ref.repoId), ec))
      throw Error("\"" + printable(ref.repoId) + "\" is ambiguous in the Hugging Face cache (" + joined(owned) +
                  "): name one");
    candidates.insert(candidates.end(), owned.begin(), owned.end());
  }
  const std::string revision = ref.revision.empty() ? "main" : ref.revision;
  for (const std::string& id : candidates) {
    const fs::path repo = root / repoFolderName(id);
    if (!fs::is_directory(repo, ec)) continue;
    const std::string commit = commitOf(repo, revision);
    if (commit.empty())
      throw Error("the Hugging Face cache holds " + id + " but not its revision \"" + printable(revision) +
                  "\" (cached: " + joined(cachedRefs(repo)) + "; in " + repo.string() + ")");
    return CachedSnapshot{id, revision, commit, (repo / "snapshots" / commit).string()};
  }
  return std::nullopt;
}

std::vector<CachedModel> listCachedModels(const std::string& cache) {
  std::vector<CachedModel> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(cache, ec)) {
    const std::string id = repoIdOfFolder(entry.path().filename().string());
    if (id.empty()) continue;
    std::string commit = commitOf(entry.path(), "main");
    if (commit.empty()) {  // no main: the newest snapshot
      fs::file_time_type newest{};
      for (const auto& snap : fs::directory_iterator(entry.path() / "snapshots", ec))
        if (snap.is_directory(ec) && (commit.empty() || snap.last_write_time(ec) > newest)) {
          commit = snap.path().filename().string();
          newest = snap.last_write_time(ec);
        }
    }
    if (commit.empty()) continue;
    const fs::path folder = entry.path() / "snapshots" / commit;
    if (!fs::exists(folder / "config.json", ec)) continue;
    CachedModel m{id, commit, folder.string()};
    try {
      std::ifstream in(folder / "config.json");
      const nlohmann::json j = nlohmann::json::parse(in);
      if (j.is_object() && j.contains("model_type") && j["model_type"].is_string()) m.modelType = j["model_type"];
    } catch (const std::exception&) {
    }
    std::uint64_t safeBytes = 0, pickleBytes = 0;
    for (const auto& f : fs::directory_iterator(folder, ec)) {
      const std::string name = f.path().filename().string();
      const std::uintmax_t size = fs::file_size(f.path(), ec);  // follows the link into blobs/
      if (ec) continue;
      if (name.ends_with(".safetensors")) safeBytes += size;
      else if (name.ends_with(".bin") || name.ends_with(".pt") || name.ends_with(".pth")) pickleBytes += size;
    }
    for (const Family& f : families())
      if (std::find(f.modelTypes.begin(), f.modelTypes.end(), m.modelType) != f.modelTypes.end()) m.supported = true;
    m.safetensors = safeBytes > 0;
    m.bytes = safeBytes > 0 ? safeBytes : pickleBytes;
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const CachedModel& a, const CachedModel& b) { return a.repoId < b.repoId; });
  return out;
}

std::string describeCachedModel(const CachedModel& m) {
  char size[32];
  std::snprintf(size, sizeof size, "%.1f MB", double(m.bytes) / 1e6);
  std::string out = (m.modelType.empty() ? std::string("model_type unknown") : m.modelType) + " · " + size + " · " +
                    (m.safetensors ? "safetensors" : m.bytes ? "pickle only" : "no weights") + " · commit " +
                    m.commit.substr(0, 7);
  if (!m.supported) out += " · not a family attnviz runs";
  else if (!m.safetensors) out += " · convert to safetensors to open it";
  return out;
}

}  // namespace attnviz::model::hub
