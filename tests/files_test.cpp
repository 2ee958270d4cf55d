// append_line when the disk fills up mid-write: the part written is cut back,
// and a cut line left by an earlier failure is removed before the next one.
// A full disk is simulated with RLIMIT_FSIZE: a write crossing the limit is
// short, the next one fails (EFBIG), as a write on a full disk does (ENOSPC).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "crucible/common/files.h"

namespace crucible {
namespace {

// Limits the size of files this process writes while in scope.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    previous_signal_ = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a core dump
    getrlimit(RLIMIT_FSIZE, &previous_);
    rlimit limit = previous_;
    limit.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &previous_);
    std::signal(SIGXFSZ, previous_signal_);
  }

 private:
  rlimit previous_{};
  void (*previous_signal_)(int) = nullptr;
};

class AppendLineTest : public ::testing::Test {
 protected:
  TemporaryFolder folder_{"files_test"};
  const std::string path_ = folder_.path() + "/log.jsonl";
};

TEST_F(AppendLineTest, AppendsWholeLinesAndCreatesTheFile) {
  append_line(path_, R"({"step": 1})");
  append_line(path_, R"({"step": 2})");
  EXPECT_EQ(read_file(path_), "{\"step\": 1}\n{\"step\": 2}\n");
}

TEST_F(AppendLineTest, AWriteThatFailsPartwayLeavesThePreviousLengthAndNamesTheFile) {
  const std::string first = R"({"step": 1})";
  append_line(path_, first);
  const std::string long_line = "{\"step\": 2, \"pad\": \"" + std::string(200, 'x') + "\"}";
  try {
    const FileSizeLimit full(first.size() + 1 + 50);  // room for 50 bytes of the next line
    append_line(path_, long_line);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message, path_ + ": cannot write: " + std::strerror(EFBIG));
  }
  EXPECT_EQ(read_file(path_), first + "\n");
  // Once there is room again, the next line follows the first one.
  append_line(path_, R"({"step": 3})");
  EXPECT_EQ(read_file(path_), first + "\n{\"step\": 3}\n");
}

TEST_F(AppendLineTest, ALineCutEarlierIsRemovedBeforeTheNextOne) {
  std::FILE* file = std::fopen(path_.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs("{\"step\": 1}\n{\"step\": 2, \"bl", file);
  std::fclose(file);
  append_line(path_, R"({"step": 3})");
  EXPECT_EQ(read_file(path_), "{\"step\": 1}\n{\"step\": 3}\n");
}

TEST_F(AppendLineTest, ACutLineLongerThanOneReadBlockOrAloneIsRemoved) {
  // No newline at all: the whole file is a cut line.
  std::FILE* file = std::fopen(path_.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs(("{\"pad\": \"" + std::string(10000, 'y')).c_str(), file);
  std::fclose(file);
  append_line(path_, R"({"step": 1})");
  EXPECT_EQ(read_file(path_), "{\"step\": 1}\n");

  // A newline more than one 4 KiB block before the end.
  file = std::fopen(path_.c_str(), "a");
  ASSERT_NE(file, nullptr);
  std::fputs(("{\"pad\": \"" + std::string(10000, 'z')).c_str(), file);
  std::fclose(file);
  append_line(path_, R"({"step": 2})");
  EXPECT_EQ(read_file(path_), "{\"step\": 1}\n{\"step\": 2}\n");
}

TEST_F(AppendLineTest, AnUnopenableFileIsNamed) {
  try {
    append_line(folder_.path() + "/missing/log.jsonl", "{}");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(
        std::string(e.what()),
        folder_.path() + "/missing/log.jsonl: cannot open for appending: " + std::strerror(ENOENT));
  }
}

// A killed process's TemporaryFolders are found by prefix and removed; other
// folders and files beside them stay.
TEST(TemporaryFolders, ThoseAKilledRunLeftAreRemovedByPrefix) {
  const TemporaryFolder root("files_test");
  const std::string parent = root.path() + "/rounds";
  std::string left_behind;
  {
    const TemporaryFolder first("crucible-round", parent);  // creates `parent`
    left_behind = first.path();
  }
  EXPECT_FALSE(std::filesystem::exists(left_behind));  // removed when it ends
  for (const char* name : {"crucible-round.abc123", "crucible-round.x/inner"}) {
    std::filesystem::create_directories(parent + "/" + name);
  }
  write_file_atomically(parent + "/crucible-round.x/inner/task.npy", "data");
  std::filesystem::create_directories(parent + "/crucible-roundup");
  write_file_atomically(parent + "/keep.txt", "keep");

  EXPECT_EQ(remove_temporary_folders("crucible-round", parent), 2u);
  EXPECT_FALSE(std::filesystem::exists(parent + "/crucible-round.abc123"));
  EXPECT_FALSE(std::filesystem::exists(parent + "/crucible-round.x"));
  EXPECT_TRUE(std::filesystem::exists(parent + "/crucible-roundup"));
  EXPECT_TRUE(std::filesystem::exists(parent + "/keep.txt"));
  EXPECT_EQ(remove_temporary_folders("crucible-round", parent), 0u);
  EXPECT_EQ(remove_temporary_folders("crucible-round", root.path() + "/missing"), 0u);
}

}  // namespace
}  // namespace crucible
