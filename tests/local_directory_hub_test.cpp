// The local directory hub: copies a commit folder's files, refuses unsafe
// repository ids and commits, links and special files, and oversize models.
#include "crucible/validator/local_directory_hub.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "crucible/common/files.h"
#include "test_files.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

class LocalDirectoryHubTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(destination_); }

  // Writes `contents` to `base_/relative`, creating folders on the way.
  void put(const std::string& relative, const std::string& contents) {
    testing_files::write_file(fs::path(base_) / relative, contents);
  }

  bool destination_empty() const { return fs::is_empty(destination_); }

  // Downloads and returns the reason of the ModelFetchError thrown, "" if none.
  std::string reason_of(const std::string& repo_id, const std::string& commit,
                        int64_t max_total_bytes = 1 << 20) {
    try {
      LocalDirectoryHub(hub_root_).download(repo_id, commit, max_total_bytes, destination_);
    } catch (const ModelFetchError& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      return e.reason();
    }
    return "";
  }

  // Expects the download to be refused as "bad-files" with nothing copied.
  void expect_refused_before_copying(const std::string& repo_id, const std::string& commit) {
    EXPECT_EQ(reason_of(repo_id, commit), "bad-files") << repo_id << "@" << commit;
    EXPECT_TRUE(destination_empty()) << repo_id << "@" << commit;
  }

  const TemporaryFolder folder_{"local_directory_hub_test"};
  const std::string base_ = folder_.path();
  const std::string hub_root_ = base_ + "/hub";
  const std::string destination_ = base_ + "/destination";
};

TEST_F(LocalDirectoryHubTest, CopiesNestedFilesWithRelativePaths) {
  put("hub/acme/model/c1/model.pt", "weights");
  put("hub/acme/model/c1/config.json", "{\"a\":1}");
  put("hub/acme/model/c1/sub/deeper/extra.bin", std::string("x\0y", 3));
  put("hub/acme/model/c1/.gitattributes", "*.pt lfs");
  put("hub/acme/model/c2/model.pt", "other commit");

  LocalDirectoryHub(hub_root_).download("acme/model", "c1", 1 << 20, destination_);

  EXPECT_EQ(read_file(destination_ + "/model.pt"), "weights");
  EXPECT_EQ(read_file(destination_ + "/config.json"), "{\"a\":1}");
  EXPECT_EQ(read_file(destination_ + "/sub/deeper/extra.bin"), std::string("x\0y", 3));
  EXPECT_EQ(read_file(destination_ + "/.gitattributes"), "*.pt lfs");
  EXPECT_EQ(testing_files::files_under(destination_).size(), 4u);
}

TEST_F(LocalDirectoryHubTest, SizeCapIsCheckedBeforeCopying) {
  put("hub/acme/model/c1/model.pt", "123456");  // 6 + 4 = 10 bytes in all
  put("hub/acme/model/c1/sub/a.bin", "abcd");
  EXPECT_EQ(reason_of("acme/model", "c1", 9), "too-large");
  EXPECT_TRUE(destination_empty());
  EXPECT_EQ(reason_of("acme/model", "c1", 10), "");
  EXPECT_EQ(read_file(destination_ + "/sub/a.bin"), "abcd");
}

TEST_F(LocalDirectoryHubTest, MissingRepositoryOrCommitIsNotFound) {
  put("hub/acme/model/c1/model.pt", "weights");
  EXPECT_EQ(reason_of("acme/other", "c1"), "not-found");
  EXPECT_EQ(reason_of("nobody/model", "c1"), "not-found");
  EXPECT_EQ(reason_of("acme/model", "c9"), "not-found");
}

TEST_F(LocalDirectoryHubTest, RefusesSymlinkedFilesBeforeCopyingAnything) {
  put("hub/acme/model/c1/a_first.bin", "copied first if not checked up front");
  put("hub/acme/model/c1/model.pt", "weights");
  put("secret.txt", "outside the hub");
  fs::create_symlink(base_ + "/secret.txt", hub_root_ + "/acme/model/c1/z_link.bin");
  expect_refused_before_copying("acme/model", "c1");
}

TEST_F(LocalDirectoryHubTest, RefusesSymlinkedFoldersOnTheWayAndInside) {
  put("elsewhere/c1/model.pt", "weights");
  fs::create_directories(hub_root_ + "/acme/model");
  fs::create_directory_symlink(base_ + "/elsewhere", hub_root_ + "/acme/linked");
  fs::create_directory_symlink(base_ + "/elsewhere/c1", hub_root_ + "/acme/model/c1");
  EXPECT_EQ(reason_of("acme/linked", "c1"), "bad-files");
  EXPECT_EQ(reason_of("acme/model", "c1"), "bad-files");

  put("hub/acme/model/c2/model.pt", "weights");
  fs::create_directory_symlink(base_ + "/elsewhere", hub_root_ + "/acme/model/c2/sub");
  expect_refused_before_copying("acme/model", "c2");
}

TEST_F(LocalDirectoryHubTest, RefusesSpecialFiles) {
  put("hub/acme/model/c1/model.pt", "weights");
  ASSERT_EQ(::mkfifo((hub_root_ + "/acme/model/c1/pipe").c_str(), 0600), 0);
  expect_refused_before_copying("acme/model", "c1");
}

TEST_F(LocalDirectoryHubTest, RefusesUnsafeRepositoryIdsAndCommits) {
  // Each of these would resolve to a real model folder if the ids were used
  // as paths unchecked.
  put("x/c1/model.pt", "escaped to base_/x");    // "../x" from the hub root
  put("hub/c1/model.pt", "escaped via ns/..");   // "acme/.." at c1 is hub/c1
  put("hub/acme/model/c1/model.pt", "weights");  // the good one
  put("hub/acme/.hidden/c1/model.pt", "hidden");
  put("hub/acme/model/.git/model.pt", "hidden commit");
  put("hub/acme/model/model.pt", "commit \".\"");
  put("hub/acme/model.pt", "commit \"..\"");

  EXPECT_EQ(reason_of("../x", "c1"), "bad-files");
  EXPECT_EQ(reason_of("acme/..", "c1"), "bad-files");
  EXPECT_EQ(reason_of("acme/.", "model/c1"), "bad-files");
  EXPECT_EQ(reason_of("acme/.hidden", "c1"), "bad-files");
  EXPECT_EQ(reason_of("acme/model", ".."), "bad-files");
  EXPECT_EQ(reason_of("acme/model", "."), "bad-files");
  EXPECT_EQ(reason_of("acme/model", ".git"), "bad-files");
  EXPECT_EQ(reason_of("acme/model", ""), "bad-files");
  EXPECT_EQ(reason_of("acme/model", "c1/../c1"), "bad-files");
  EXPECT_EQ(reason_of("acme", "model/c1"), "bad-files");
  EXPECT_EQ(reason_of("acme/model/c1", ""), "bad-files");
  EXPECT_EQ(reason_of("/acme/model", "c1"), "bad-files");
  EXPECT_EQ(reason_of("acme//model", "c1"), "bad-files");
  EXPECT_EQ(reason_of("acme/mo del", "c1"), "bad-files");
  EXPECT_EQ(reason_of("acme/model\n", "c1"), "bad-files");
  EXPECT_TRUE(destination_empty());
  EXPECT_EQ(reason_of("acme/model", "c1"), "");
}

TEST_F(LocalDirectoryHubTest, ErrorNamesTheRepositoryOnOneLine) {
  try {
    LocalDirectoryHub(hub_root_).download("acme/bad\nname", "c1", 100, destination_);
    FAIL() << "accepted";
  } catch (const ModelFetchError& e) {
    EXPECT_EQ(std::string(e.what()),
              "repository \"acme/bad\\x0aname\" at commit \"c1\": repository id must be "
              "<namespace>/<name>, each of [A-Za-z0-9._-] and not starting with '.'");
  }
}

}  // namespace
}  // namespace crucible
