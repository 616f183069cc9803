#include "hub_fetch.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "family.hpp"
#include "hub_cache.hpp"
#include "sha256.hpp"
#include "types.hpp"

namespace attnviz::model::hub {
namespace {

namespace fs = std::filesystem;

std::string env(const char* name) { return environment(name); }

bool truthy(const std::string& v) {
  std::string s;
  for (char c : v) s += char(std::tolower(static_cast<unsigned char>(c)));
  return s == "1" || s == "on" || s == "yes" || s == "true";
}

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

// The weights formats attnviz never loads: a repository holding only these is refused.
bool isPickleName(const std::string& name) {
  for (const char* ext : {".bin", ".pt", ".pth", ".ckpt", ".pkl"})
    if (name.ends_with(ext)) return true;
  return false;
}

// "scheme://host[:port]" of a URL, to send the token to the Hub and nowhere else.
std::string originOf(const std::string& url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  const std::size_t end = url.find_first_of("/?#", scheme + 3);
  return url.substr(0, end);
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Where a GET writes its body: into Response::body, or appended to a partial blob.
struct FileSink {
  FILE* file = nullptr;
  std::uint64_t resumeFrom = 0;  // the bytes already there (a Range request)
  bool restarted = false;        // the server ignored Range: the file was emptied
  int writeErrno = 0;
  Sha256* hash = nullptr;
};

struct Transfer {
  CURL* curl = nullptr;
  Response* response = nullptr;
  FileSink* sink = nullptr;
  const FetchOptions* options = nullptr;
  FetchProgress* progress = nullptr;
  std::uint64_t counted = 0;  // bytes of this transfer already reported
};

std::size_t onHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) t->response->headers.clear();  // a new response (after 100-continue)
  const std::size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
    t->response->headers[name] = trimmed(line.substr(colon + 1));
  }
  return size * count;
}

std::size_t onBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  FileSink* sink = t->sink;
  if (!sink || (status != 200 && status != 206)) {  // error bodies (and small answers) are kept
    if (t->response->body.size() < (1u << 22)) t->response->body.append(data, bytes);
    return bytes;
  }
  if (status == 200 && sink->resumeFrom > 0 && !sink->restarted) {
    // Asked for a range, given the whole file: start the partial file again.
    if (ftruncate(fileno(sink->file), 0) != 0 || std::fseek(sink->file, 0, SEEK_SET) != 0) {
      sink->writeErrno = errno;
      return 0;
    }
    sink->restarted = true;
  }
  if (std::fwrite(data, 1, bytes, sink->file) != bytes) {
    sink->writeErrno = errno ? errno : EIO;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  if (t->progress) {
    t->progress->fileDone += bytes;
    t->progress->done += bytes;
    if (t->options->progress) t->options->progress(*t->progress);
  }
  return bytes;
}

int onXfer(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->options->cancel && t->options->cancel->load() ? 1 : 0;  // non-zero aborts the transfer
}

class Hub {
 public:
  explicit Hub(const FetchOptions& o) : options_(o), origin_(originOf(o.endpoint)) {
    static CurlGlobal global;
    curl_ = curl_easy_init();
    if (!curl_) throw Error("cannot start libcurl");
  }
  ~Hub() { curl_easy_cleanup(curl_); }
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // One request; redirects are not followed (the caller decides, so the token stays on the Hub).
  Response request(const std::string& method, const std::string& url, FileSink* sink = nullptr,
                   FetchProgress* progress = nullptr) {
    Response r;
    Transfer t{curl_, &r, sink, &options_, progress};
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, "attnviz/" ATTNVIZ_VERSION);
    curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, 30L);
    // A stalled connection (under 1 byte/s for a minute) is an error, never a hang.
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, onHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, onBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, onXfer);
    curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, &t);
    if (method == "HEAD") curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
    curl_slist* headers = nullptr;
    if (!options_.token.empty() && originOf(url) == origin_)
      headers = curl_slist_append(headers, ("Authorization: Bearer " + options_.token).c_str());
    std::string range;
    if (sink && sink->resumeFrom > 0) {
      range = std::to_string(sink->resumeFrom) + "-";
      curl_easy_setopt(curl_, CURLOPT_RANGE, range.c_str());
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    char error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error);
    const CURLcode code = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    if (code == CURLE_ABORTED_BY_CALLBACK) throw Error("cancelled; the partial download is kept and resumes next time");
    if (code == CURLE_WRITE_ERROR && sink && sink->writeErrno) {
      const int e = sink->writeErrno;
      throw Error(e == ENOSPC ? std::string("no space left on the disk") : std::string(std::strerror(e)));
    }
    if (code != CURLE_OK) {
      if (sink) throw Error(std::string("the download was interrupted (") + (error[0] ? error : curl_easy_strerror(code)) +
                            "); run the command again to resume it");
      throw Error("cannot reach " + originOf(url) + ": " + (error[0] ? error : curl_easy_strerror(code)) +
                  " (HF_HUB_OFFLINE=1 uses the cache only)");
    }
    return r;
  }

  std::string url(const std::string& path) const { return options_.endpoint + path; }

  std::string escape(const std::string& text, bool keepSlashes) const {
    std::string out;
    std::size_t start = 0;
    while (start <= text.size()) {
      const std::size_t slash = keepSlashes ? text.find('/', start) : std::string::npos;
      const std::string part = text.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
      char* e = curl_easy_escape(curl_, part.c_str(), int(part.size()));
      out += e ? e : "";
      curl_free(e);
      if (slash == std::string::npos) break;
      out += '/';
      start = slash + 1;
    }
    return out;
  }

 private:
  const FetchOptions& options_;
  std::string origin_;
  CURL* curl_ = nullptr;
};

// One line for an answer that is not a success, from X-Error-Code first (the Hub answers 401 for
// a missing repository when the request carries no token, so the status alone misleads).
[[noreturn]] void refuse(const Response& r, const FetchOptions& o, const std::string& file, const std::string& url) {
  const std::string code = r.header("x-error-code"), message = r.header("x-error-message");
  const std::string repo = o.repoId;
  if (code == "RepoNotFound")
    throw Error(repo + ": no such model on the Hub" + (o.token.empty() ? " (or it is private: set HF_TOKEN)" : ""));
  if (code == "GatedRepo")
    throw Error(repo + " is gated: accept its conditions on the Hub's page, then set HF_TOKEN" +
                (message.empty() ? "" : " (" + printable(message) + ")"));
  if (code == "RevisionNotFound") throw Error(repo + " has no revision \"" + printable(o.revision) + "\"");
  if (code == "EntryNotFound") throw Error(repo + " has no file " + printable(file) + " at " + printable(o.revision));
  if (r.status == 401 || r.status == 403)
    throw Error("the Hub refused " + url + " (HTTP " + std::to_string(r.status) + ")" +
                (o.token.empty() ? ": a private or gated model needs HF_TOKEN" : ": check HF_TOKEN"));
  throw Error("the Hub answered HTTP " + std::to_string(r.status) + " for " + url +
              (message.empty() ? "" : ": " + printable(message)));
}

std::string unquotedEtag(std::string etag) {
  if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

bool safeRepoPath(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.find('\\') != std::string::npos) return false;
  for (const auto& part : fs::path(path))
    if (part == ".." || part == ".") return false;
  return true;
}

// Holds CACHE/.locks/models--…/ETAG.lock while a blob is written, as huggingface_hub does.
class BlobLock {
 public:
  explicit BlobLock(const fs::path& lockFile) {
    std::error_code ec;
    fs::create_directories(lockFile.parent_path(), ec);
    fd_ = ::open(lockFile.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd_ < 0) throw Error("cannot write " + lockFile.string() + ": " + std::strerror(errno));
    if (flock(fd_, LOCK_EX) != 0) throw Error("cannot lock " + lockFile.string() + ": " + std::strerror(errno));
  }
  ~BlobLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  BlobLock(const BlobLock&) = delete;
  BlobLock& operator=(const BlobLock&) = delete;

 private:
  int fd_ = -1;
};

class Fetcher {
 public:
  explicit Fetcher(const FetchOptions& o)
      : o_(o), hub_(o), repoDir_(fs::path(o.cache) / repoFolderName(o.repoId)),
        lockDir_(fs::path(o.cache) / ".locks" / repoFolderName(o.repoId)) {}

  FetchResult run() {
    FetchResult result;
    result.repoId = o_.repoId;
    // The commit and the file list.
    const std::string infoUrl = hub_.url("/api/models/" + hub_.escape(o_.repoId, true) + "/revision/" +
                                         hub_.escape(o_.revision, false));
    const Response info = hub_.request("GET", infoUrl);
    if (info.status != 200) refuse(info, o_, "", infoUrl);
    std::set<std::string> listed;
    try {
      const nlohmann::json j = nlohmann::json::parse(info.body);
      result.commit = j.at("sha").get<std::string>();
      for (const auto& s : j.at("siblings")) listed.insert(s.at("rfilename").get<std::string>());
    } catch (const std::exception&) {
      throw Error("the Hub's answer for " + o_.repoId + " is not a model's file list (" + infoUrl + ")");
    }
    if (result.commit.size() != 40 || result.commit.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw Error("the Hub's answer for " + o_.repoId + " names no commit");
    commit_ = result.commit;

    // What to fetch, decided before any download: the weights attnviz reads, or a refusal.
    if (!listed.count("config.json")) throw Error(o_.repoId + " has no config.json: not a model attnviz can open");
    std::vector<std::string> weights;
    const bool single = listed.count("model.safetensors") > 0;
    const bool sharded = !single && listed.count("model.safetensors.index.json") > 0;
    if (!single && !sharded) {
      const auto pickle = std::find_if(listed.begin(), listed.end(), isPickleName);
      if (pickle != listed.end())
        throw Error(o_.repoId + " has PyTorch pickle weights only (" + *pickle +
                    "), which attnviz never loads; convert them to safetensors once with: python3 -c \"import transformers as t; "
                    "t.AutoModel.from_pretrained('" + o_.repoId + "').save_pretrained('DIR', safe_serialization=True)\"");
      throw Error(o_.repoId + " has no model.safetensors (nor model.safetensors.index.json)");
    }

    // The config first (small): a model_type no family runs is refused before the weights.
    FetchFile config = describe("config.json");
    download(config);
    std::string modelType;
    try {
      std::ifstream in(repoDir_ / "blobs" / config.etag);
      modelType = nlohmann::json::parse(in).value("model_type", "");
    } catch (const std::exception&) {
      throw Error(o_.repoId + "'s config.json is not JSON");
    }
    familyOf(modelType, o_.repoId + "'s config.json");  // throws with the supported list

    std::vector<FetchFile> files{config};
    if (single) {
      files.push_back(describe("model.safetensors"));
    } else {
      FetchFile index = describe("model.safetensors.index.json");
      download(index);
      files.push_back(index);
      std::set<std::string> shards;
      try {
        std::ifstream in(repoDir_ / "blobs" / index.etag);
        const nlohmann::json parsed = nlohmann::json::parse(in);  // kept alive for the loop below
        for (const auto& [tensor, shard] : parsed.at("weight_map").items()) shards.insert(shard.get<std::string>());
      } catch (const std::exception&) {
        throw Error(o_.repoId + "'s model.safetensors.index.json has no weight_map");
      }
      for (const std::string& shard : shards) {
        if (!listed.count(shard)) throw Error(o_.repoId + "'s index names " + printable(shard) + ", which the repository lacks");
        files.push_back(describe(shard));
      }
    }
    for (const char* name : kOptional) {
      if (listed.count(name)) files.push_back(describe(name));
      else absent_.push_back(name);
    }

    FetchProgress progress;
    for (const FetchFile& f : files)
      if (!f.cached) progress.total += f.size;
    if (o_.progress) o_.progress(progress);
    for (FetchFile& f : files) {
      if (f.cached) continue;
      download(f, &progress);
      result.downloaded += f.size;
    }
    link(files);
    result.files = files;
    result.folder = (repoDir_ / "snapshots" / commit_).string();
    return result;
  }

 private:
  static constexpr const char* kOptional[] = {
      "tokenizer.json",     "tokenizer_config.json",   "vocab.json", "merges.txt", "vocab.txt", "special_tokens_map.json",
      "preprocessor_config.json", "generation_config.json", "README.md"};

  // HEAD on the resolve URL: the file's ETag, size, and where its bytes are.
  FetchFile describe(const std::string& path) {
    if (!safeRepoPath(path)) throw Error(o_.repoId + " lists a file with an unsafe path: " + printable(path));
    FetchFile f;
    f.path = path;
    std::string url = hub_.url("/" + hub_.escape(o_.repoId, true) + "/resolve/" + commit_ + "/" + hub_.escape(path, true));
    Response r;
    for (int hops = 0;; ++hops) {
      r = hub_.request("HEAD", url);
      const std::string location = r.header("location");
      // A relative redirect stays on the Hub (a renamed repository): follow it. An absolute one
      // is the file host of a large file: its bytes are fetched from there.
      if (r.status >= 300 && r.status < 400 && !location.empty() && location.front() == '/' && hops < 5) {
        url = hub_.url(location);
        continue;
      }
      break;
    }
    if (r.status >= 400 || (r.status >= 300 && r.header("location").empty())) refuse(r, o_, path, url);
    const std::string linkedEtag = r.header("x-linked-etag");
    f.etag = unquotedEtag(linkedEtag.empty() ? r.header("etag") : linkedEtag);
    f.large = !linkedEtag.empty();
    const std::string size = r.header("x-linked-size").empty() ? r.header("content-length") : r.header("x-linked-size");
    f.size = size.empty() ? 0 : std::strtoull(size.c_str(), nullptr, 10);
    if (f.etag.empty() || f.etag.find_first_of("/\\") != std::string::npos || f.etag == "." || f.etag == "..")
      throw Error("the Hub gave no usable ETag for " + o_.repoId + "/" + path);
    const std::string commit = r.header("x-repo-commit");
    if (!commit.empty() && commit != commit_)
      throw Error(o_.repoId + " changed while downloading (commit " + commit.substr(0, 7) + " after " + commit_.substr(0, 7) +
                  "); run the command again");
    f.url = r.status >= 300 ? r.header("location") : url;
    std::error_code ec;
    f.cached = fs::is_regular_file(repoDir_ / "blobs" / f.etag, ec);
    return f;
  }

  void download(FetchFile& f, FetchProgress* progress = nullptr) {
    std::error_code ec;
    const fs::path blobs = repoDir_ / "blobs";
    fs::create_directories(blobs, ec);
    if (ec) throw Error("cannot write the cache " + blobs.string() + ": " + ec.message());
    const fs::path blob = blobs / f.etag, partial = blobs / (f.etag + ".incomplete");
    BlobLock lock(lockDir_ / (f.etag + ".lock"));
    if (fs::is_regular_file(blob, ec)) {
      f.cached = true;
      return;
    }
    FileSink sink;
    sink.resumeFrom = fs::is_regular_file(partial, ec) ? fs::file_size(partial, ec) : 0;
    if (ec) sink.resumeFrom = 0;
    if (f.size > 0 && sink.resumeFrom > f.size) {  // not this file's beginning: start again
      fs::remove(partial, ec);
      sink.resumeFrom = 0;
    }
    if (progress) {
      progress->file = f.path;
      progress->fileTotal = f.size;
      progress->fileDone = sink.resumeFrom;
      progress->done += sink.resumeFrom;
      progress->resumed += sink.resumeFrom;
    }
    Response r;
    if (f.size == 0 || sink.resumeFrom < f.size) {
      sink.file = std::fopen(partial.c_str(), "ab");
      if (!sink.file) throw Error("cannot write " + partial.string() + ": " + std::strerror(errno));
      try {
        r = hub_.request("GET", f.url, &sink, progress);
      } catch (const Error& e) {
        std::fclose(sink.file);
        if (sink.writeErrno) fs::remove(partial, ec);  // a full disk: nothing half-written stays
        throw Error(f.path + ": " + e.what() + (sink.writeErrno ? " (the partial file was removed)" : ""));
      }
      if (std::fclose(sink.file) != 0) {
        fs::remove(partial, ec);
        throw Error(f.path + ": cannot write " + partial.string() + ": " + std::strerror(errno));
      }
      if (r.status != 200 && r.status != 206) refuse(r, o_, f.path, f.url);
    }
    const std::uint64_t got = fs::file_size(partial, ec);
    if (ec || (f.size > 0 && got != f.size))
      throw Error(f.path + ": the download ended at " + std::to_string(got) + " of " + std::to_string(f.size) +
                  " bytes; run the command again to resume it");
    if (f.large) {
      const std::string sha = sha256OfFile(partial.string());
      if (sha != f.etag) {
        fs::remove(partial, ec);
        throw Error(f.path + ": the downloaded file's SHA-256 (" + sha.substr(0, 12) + "…) is not the Hub's (" +
                    f.etag.substr(0, 12) + "…): removed it; run the command again");
      }
    }
    fs::rename(partial, blob, ec);
    if (ec) throw Error("cannot move " + partial.string() + " into the cache: " + ec.message());
  }

  // The snapshot's links into blobs/, refs/REVISION and the .no_exist markers, once every blob is
  // complete: a failed download leaves nothing in snapshots/.
  void link(const std::vector<FetchFile>& files) {
    std::error_code ec;
    const fs::path snapshot = repoDir_ / "snapshots" / commit_;
    for (const FetchFile& f : files) {
      const fs::path linkPath = snapshot / f.path;
      fs::create_directories(linkPath.parent_path(), ec);
      const fs::path target = fs::relative(repoDir_ / "blobs" / f.etag, linkPath.parent_path(), ec);
      fs::remove(linkPath, ec);
      fs::create_symlink(target, linkPath, ec);
      if (ec) throw Error("cannot link " + linkPath.string() + " into the cache: " + ec.message());
    }
    if (o_.revision != commit_) {
      const fs::path ref = repoDir_ / "refs" / o_.revision;
      fs::create_directories(ref.parent_path(), ec);
      std::ofstream out(ref, std::ios::trunc);
      out << commit_;  // no newline, as huggingface_hub writes it
      if (!out) throw Error("cannot write " + ref.string());
    }
    for (const std::string& name : absent_) {
      const fs::path marker = repoDir_ / ".no_exist" / commit_ / name;
      fs::create_directories(marker.parent_path(), ec);
      std::ofstream{marker};
    }
  }

  const FetchOptions& o_;
  Hub hub_;
  fs::path repoDir_, lockDir_;
  std::string commit_;
  std::vector<std::string> absent_;
};

}  // namespace

FetchOptions fetchOptionsFromEnvironment(const std::string& repoId, const std::string& revision) {
  FetchOptions o;
  o.repoId = repoId;
  o.revision = revision.empty() ? "main" : revision;
  o.endpoint = env("HF_ENDPOINT").empty() ? "https://huggingface.co" : env("HF_ENDPOINT");
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  o.token = trimmed(env("HF_TOKEN"));
  if (o.token.empty()) o.token = trimmed(env("HUGGING_FACE_HUB_TOKEN"));
  if (o.token.empty()) {
    const fs::path home = env("HF_HOME").empty() ? fs::path(env("HOME")) / ".cache" / "huggingface" : fs::path(env("HF_HOME"));
    std::ifstream in(home / "token");
    std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    o.token = trimmed(token);
  }
  o.cache = cacheDirectory();
  o.offline = truthy(env("HF_HUB_OFFLINE"));
  return o;
}

FetchResult fetchModel(const FetchOptions& options) {
  if (!looksLikeRepoId(options.repoId) || options.repoId.find('/') == std::string::npos)
    throw Error("\"" + printable(options.repoId) + "\" is not a Hub model id (ORG/NAME)");
  if (options.offline) {
    const auto cached = findCachedModel({options.repoId, options.revision}, options.cache);
    if (!cached)
      throw Error("offline (HF_HUB_OFFLINE is set) and the Hugging Face cache has no " + options.repoId + " (" +
                  options.cache + ")");
    FetchResult r;
    r.repoId = cached->repoId;
    r.commit = cached->commit;
    r.folder = cached->folder;
    return r;
  }
  return Fetcher(options).run();
}

}  // namespace attnviz::model::hub
