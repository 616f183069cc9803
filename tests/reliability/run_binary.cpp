#include "run_binary.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace attnviz::testing {
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

RunResult runAttnviz(const std::vector<std::string>& args, const RunOptions& options) {
  TempDir capture;
  // The child may run as nobody; let it write its output files.
  ::chmod(capture.path().c_str(), 0777);
  const std::string outPath = capture.file("stdout"), errPath = capture.file("stderr");
  std::vector<char*> argv;
  std::string binary = options.binary.empty() ? std::string(ATTNVIZ_BIN) : options.binary;
  argv.push_back(binary.data());
  std::vector<std::string> copies(args);
  for (std::string& a : copies) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    const int out = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    const int err = ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (out < 0 || err < 0) ::_exit(120);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(121);
    if (options.fileSizeLimit >= 0) {
      ::signal(SIGXFSZ, SIG_IGN);  // an ignored disposition survives exec
      const rlimit lim{rlim_t(options.fileSizeLimit), rlim_t(options.fileSizeLimit)};
      if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(122);
    }
    if (options.addressSpaceLimit >= 0) {
      const rlimit lim{rlim_t(options.addressSpaceLimit), rlim_t(options.addressSpaceLimit)};
      if (::setrlimit(RLIMIT_AS, &lim) != 0) ::_exit(123);
    }
    if (options.dropRoot && ::geteuid() == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(124);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  RunResult r;
  if (WIFEXITED(status)) {
    r.exitCode = WEXITSTATUS(status);
    r.execFailed = r.exitCode >= 120 && r.exitCode <= 127 && slurp(errPath).empty();
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  r.stdoutText = slurp(outPath);
  r.stderrText = slurp(errPath);
  return r;
}

std::string runAsNobody(void (*body)(int reportFd, const std::string& argument), const std::string& argument) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0))
      ::_exit(124);
    body(fds[1], argument);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string report;
  char buffer[512];
  for (ssize_t got; (got = ::read(fds[0], buffer, sizeof buffer)) != 0;) {
    if (got < 0) {
      if (errno == EINTR) continue;
      break;
    }
    report.append(buffer, size_t(got));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the child running as nobody failed (status " + std::to_string(status) + ")");
  return report;
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "attnviz-reliability-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  // Restore permissions a test may have removed, so the tree can be deleted.
  for (const auto& e : fs::recursive_directory_iterator(path_, ec))
    if (e.is_directory(ec)) fs::permissions(e.path(), fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(path_, ec);
}

void TempDir::write(const std::string& name, const std::string& bytes) const {
  std::ofstream out(file(name), std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw std::runtime_error("cannot write test file " + name);
}

std::vector<std::string> TempDir::entries() const {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(path_)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace attnviz::testing
