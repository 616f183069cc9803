// writeFileAtomic under faults: whatever fails, the target keeps its old contents, no
// temporary file remains, and the Error names the path and the reason.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "matrix_io.hpp"
#include "run_binary.hpp"

namespace attnviz::testing {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string errorOf(const std::string& path, const std::string& bytes) {
  try {
    writeFileAtomic(path, bytes);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "writing " << path << " did not fail";
  return {};
}

// RLIMIT_FSIZE with SIGXFSZ ignored: write() fails with EFBIG, as on a full disk, part-way
// through the data. Restored on scope exit.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    savedHandler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = saved_;
    lim.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, savedHandler_);
  }

 private:
  rlimit saved_{};
  sighandler_t savedHandler_;
};

TEST(WriteFileAtomic, WritesAndLeavesNoTemporary) {
  TempDir dir;
  writeFileAtomic(dir.file("a.bin"), "old");
  writeFileAtomic(dir.file("a.bin"), "new contents");
  EXPECT_EQ(slurp(dir.file("a.bin")), "new contents");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.bin"});
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("a.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(WriteFileAtomic, FullDiskKeepsTheOldFile) {
  TempDir dir;
  writeFileAtomic(dir.file("session.json"), "the user's work");
  const std::string big(1 << 16, 'x');
  std::string message;
  {
    FileSizeLimit limit(4096);
    message = errorOf(dir.file("session.json"), big);
  }
  EXPECT_EQ(message, "cannot write " + dir.file("session.json") + ": File too large");
  EXPECT_EQ(slurp(dir.file("session.json")), "the user's work");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"session.json"});
}

TEST(WriteFileAtomic, DevFullIsRefusedAndLeftAlone) {
  struct stat before {};
  ASSERT_EQ(::stat("/dev/full", &before), 0) << "Debian always has /dev/full";
  EXPECT_EQ(errorOf("/dev/full", "x"), "cannot write /dev/full: not a regular file");
  struct stat after {};
  ASSERT_EQ(::stat("/dev/full", &after), 0);
  EXPECT_TRUE(S_ISCHR(after.st_mode));
  EXPECT_EQ(before.st_rdev, after.st_rdev);
}

TEST(WriteFileAtomic, MissingDirectory) {
  TempDir dir;
  EXPECT_EQ(errorOf(dir.file("nope/x.npy"), "x"), "cannot write " + dir.file("nope/x.npy") + ": No such file or directory");
}

TEST(WriteFileAtomic, TargetIsADirectory) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("d"));
  EXPECT_EQ(errorOf(dir.file("d"), "x"), "cannot write " + dir.file("d") + ": it is a directory");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"d"});
}

// Root ignores permission bits, so the write happens in a child that has dropped to nobody.
TEST(WriteFileAtomic, UnwritableDirectory) {
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  std::filesystem::create_directory(dir.file("ro"));
  ::chmod(dir.file("ro").c_str(), 0555);
  const std::string message = runAsNobody(
      [](int reportFd, const std::string& path) {
        const std::string e = errorOf(path, "x");
        if (::write(reportFd, e.data(), e.size()) < 0) ::_exit(2);
      },
      dir.file("ro/x.npy"));
  EXPECT_EQ(message, "cannot write " + dir.file("ro/x.npy") + ": Permission denied");
  EXPECT_TRUE(std::filesystem::is_empty(dir.file("ro")));
}

}  // namespace
}  // namespace attnviz::testing
