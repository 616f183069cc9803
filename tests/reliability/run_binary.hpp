#pragma once
// Runs the real attnviz binary in a child process, optionally under resource limits, and
// captures its exit code and stderr.
#include <string>
#include <vector>

namespace attnviz::testing {

struct RunOptions {
  std::string cwd;            // working directory of the child ("" = inherit)
  long fileSizeLimit = -1;    // RLIMIT_FSIZE in bytes, with SIGXFSZ ignored so writes fail with EFBIG
  long addressSpaceLimit = -1;  // RLIMIT_AS in bytes
  bool dropRoot = false;      // run as nobody (65534) when started as root, so permissions apply
  std::string binary;         // "" = the attnviz under test (ATTNVIZ_BIN)
};

struct RunResult {
  int exitCode = -1;      // -1 when killed by a signal
  int signal = 0;
  std::string stdoutText, stderrText;
  bool execFailed = false;
};

RunResult runAttnviz(const std::vector<std::string>& args, const RunOptions& options = {});

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& bytes) const;
  std::vector<std::string> entries() const;  // names in the directory, sorted

 private:
  std::string path_;
};

// Runs `body` in a child process that has dropped root to nobody (65534) when started as root,
// so that permission bits apply; returns what the child wrote with `report`.
std::string runAsNobody(void (*body)(int reportFd, const std::string& argument), const std::string& argument);

// Whether this test binary (and so the attnviz built beside it) runs under AddressSanitizer,
// which reserves terabytes of address space and so cannot run under RLIMIT_AS.
#if defined(__SANITIZE_ADDRESS__)
#define ATTNVIZ_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ATTNVIZ_TEST_ASAN 1
#endif
#endif
#ifndef ATTNVIZ_TEST_ASAN
#define ATTNVIZ_TEST_ASAN 0
#endif
constexpr bool kAddressSanitizer = ATTNVIZ_TEST_ASAN;

}  // namespace attnviz::testing
