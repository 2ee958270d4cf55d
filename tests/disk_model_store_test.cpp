// The on-disk model store: installs verified by content and secure hash,
// nothing partial left on any failure, unsafe names refused, cleanup of
// unreferenced models, and cleanup racing installs.
#include "crucible/validator/disk_model_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <thread>
#include <vector>

#include "crucible/common/files.h"
#include "crucible/validator/folder_stamps.h"
#include "crucible/validator/local_directory_hub.h"
#include "test_files.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;
using testing_files::write_file;

// A hub whose download is the given function: tests make it misbehave.
class FunctionHub : public ModelHub {
 public:
  using Download = std::function<void(const std::string& destination)>;
  explicit FunctionHub(Download download) : download_(std::move(download)) {}
  void download(const std::string&, const std::string&, int64_t,
                const std::string& destination) override {
    download_(destination);
  }

 private:
  Download download_;
};

ModelId model_id(const std::string& namespace_, const std::string& name, const std::string& commit,
                 const std::string& secure_hash = "") {
  ModelId id;
  id.namespace_ = namespace_;
  id.name = name;
  id.commit = commit;
  id.secure_hash = secure_hash;
  return id;
}

// Each test has a store at base_/store and a local hub at base_/hub.
class DiskModelStoreTest : public ::testing::Test {
 protected:
  // Writes a file of the hub repository acme/<name> at <commit>.
  void put(const std::string& name, const std::string& commit, const std::string& relative,
           const std::string& contents) {
    write_file(fs::path(hub_root_) / "acme" / name / commit / relative, contents);
  }

  // Runs `install` and returns the reason of the ModelFetchError thrown.
  static std::string reason_of(const std::function<void()>& install) {
    try {
      install();
    } catch (const ModelFetchError& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      return e.reason();
    }
    return "(no error)";
  }

  // True when the store holds nothing for `hotkey` and no download folder.
  bool nothing_left(const std::string& hotkey) const {
    const fs::path folder = fs::path(store_root_) / hotkey;
    return (!fs::exists(folder) || fs::is_empty(folder)) && fs::is_empty(store_root_ + "/.tmp");
  }

  const TemporaryFolder folder_{"disk_model_store_test"};
  const std::string base_ = folder_.path();
  const std::string hub_root_ = base_ + "/hub";
  const std::string store_root_ = base_ + "/store";
  DiskModelStore store_{store_root_};
  LocalDirectoryHub hub_{hub_root_};
};

TEST_F(DiskModelStoreTest, InstallThenFindRoundTrip) {
  put("model", "c1", "model.pt", "weights");
  put("model", "c1", "config.json", "{}");
  put("model", "c1", "sub/extra.bin", "x");

  const InstalledModel model = store_.install("hk1", model_id("acme", "model", "c1"), hub_, 1000);

  const std::string expected_hash =
      content_hash({{"config.json", "{}"}, {"model.pt", "weights"}, {"sub/extra.bin", "x"}});
  EXPECT_EQ(model.hotkey, "hk1");
  EXPECT_EQ(model.content_hash, expected_hash);
  EXPECT_EQ(model.directory,
            store_root_ + "/hk1/" + DiskModelStore::hash_folder_name(expected_hash));
  EXPECT_EQ(model.model_path, model.directory + "/model.pt");
  EXPECT_EQ(read_file(model.model_path), "weights");
  EXPECT_EQ(read_file(model.directory + "/sub/extra.bin"), "x");
  EXPECT_TRUE(fs::is_empty(store_root_ + "/.tmp"));

  const std::optional<InstalledModel> found = store_.find("hk1", expected_hash);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->directory, model.directory);
  EXPECT_EQ(found->model_path, model.model_path);
  EXPECT_EQ(found->content_hash, expected_hash);
  EXPECT_FALSE(store_.find("hk2", expected_hash).has_value());
  EXPECT_FALSE(store_.find("hk1", content_hash({{"model.pt", "other"}})).has_value());

  // A fresh store over the same folder finds it too.
  EXPECT_TRUE(DiskModelStore(store_root_).find("hk1", expected_hash).has_value());
}

TEST_F(DiskModelStoreTest, ANativeModelIsItsFolder) {
  put("bolt", "c1", "config.json", "{\"architectures\": []}");
  put("bolt", "c1", "model.safetensors", "tensors");
  put("bolt", "c1", "README.md", "card");

  const InstalledModel model = store_.install("hk1", model_id("acme", "bolt", "c1"), hub_, 1000);

  EXPECT_EQ(model.content_hash, content_hash({{"README.md", "card"},
                                              {"config.json", "{\"architectures\": []}"},
                                              {"model.safetensors", "tensors"}}));
  EXPECT_EQ(model.model_path, model.directory);
  EXPECT_EQ(read_file(model.directory + "/model.safetensors"), "tensors");
  const std::optional<InstalledModel> found = store_.find("hk1", model.content_hash);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->model_path, model.directory);

  // The pair is required: weights without their config are bad files.
  put("weights-only", "c1", "model.safetensors", "tensors");
  EXPECT_EQ(
      reason_of([&] { store_.install("hk2", model_id("acme", "weights-only", "c1"), hub_, 1000); }),
      "bad-files");
  EXPECT_TRUE(nothing_left("hk2"));
}

TEST_F(DiskModelStoreTest, FolderIsThePathSafeContentHash) {
  // Worked by hand with Python: base64(sha256(base64(sha256(b"weights-0")))).
  put("model", "c1", "model.pt", "weights-0");
  const InstalledModel model = store_.install("hk1", model_id("acme", "model", "c1"), hub_, 1000);
  EXPECT_EQ(model.content_hash, "T+lmLHp7p53TYXu2P9CkQW6yqKEtRe/dc3GO0xrzo6Q=");
  EXPECT_EQ(model.directory, store_root_ + "/hk1/T-lmLHp7p53TYXu2P9CkQW6yqKEtRe_dc3GO0xrzo6Q");
  EXPECT_TRUE(fs::is_regular_file(model.model_path));

  EXPECT_EQ(reason_of([&] { DiskModelStore::hash_folder_name(""); }), "bad-files");
  EXPECT_EQ(reason_of([&] { DiskModelStore::hash_folder_name("=="); }), "bad-files");
  EXPECT_EQ(reason_of([&] { store_.find("hk1", "../../etc"); }), "bad-files");
}

TEST_F(DiskModelStoreTest, MatchingSecureHashInstalls) {
  put("model", "c1", "model.pt", "weights");
  const std::string hash = content_hash({{"model.pt", "weights"}});
  const InstalledModel model =
      store_.install("hk1", model_id("acme", "model", "c1", secure_hash(hash, "hk1")), hub_, 1000);
  EXPECT_EQ(model.content_hash, hash);
  EXPECT_TRUE(store_.find("hk1", hash).has_value());
}

TEST_F(DiskModelStoreTest, SecureHashMismatchLeavesNothing) {
  put("model", "c1", "model.pt", "weights");
  const std::string hash = content_hash({{"model.pt", "weights"}});
  // The commitment of another miner (copied model) and of other content.
  for (const std::string& committed :
       {secure_hash(hash, "hk2"), secure_hash(content_hash({{"model.pt", "other"}}), "hk1")}) {
    EXPECT_EQ(reason_of([&] {
                store_.install("hk1", model_id("acme", "model", "c1", committed), hub_, 1000);
              }),
              "hash-mismatch");
    EXPECT_TRUE(nothing_left("hk1"));
  }
  EXPECT_FALSE(store_.find("hk1", hash).has_value());
}

TEST_F(DiskModelStoreTest, TooLargeLeavesNothing) {
  put("model", "c1", "model.pt", "12345");  // 5 + 3 = 8 bytes
  put("model", "c1", "config.json", "abc");
  EXPECT_EQ(reason_of([&] { store_.install("hk1", model_id("acme", "model", "c1"), hub_, 7); }),
            "too-large");
  EXPECT_TRUE(nothing_left("hk1"));
  EXPECT_NO_THROW(store_.install("hk1", model_id("acme", "model", "c1"), hub_, 8));
}

TEST_F(DiskModelStoreTest, HubThrowingMidwayLeavesNothing) {
  FunctionHub fails_with_reason([](const std::string& destination) {
    write_file(destination + "/model.pt", "half a model");
    throw ModelFetchError("download-failed", "acme/model: connection reset");
  });
  EXPECT_EQ(reason_of([&] {
              store_.install("hk1", model_id("acme", "model", "c1"), fails_with_reason, 1000);
            }),
            "download-failed");
  EXPECT_TRUE(nothing_left("hk1"));

  FunctionHub fails_otherwise([](const std::string& destination) {
    write_file(destination + "/sub/part.bin", "part");
    throw std::runtime_error("disk full");
  });
  EXPECT_THROW(store_.install("hk1", model_id("acme", "model", "c1"), fails_otherwise, 1000),
               std::runtime_error);
  EXPECT_TRUE(nothing_left("hk1"));
}

TEST_F(DiskModelStoreTest, MissingOrIrregularModelFileIsBadFiles) {
  put("config-only", "c1", "config.json", "{}");
  put("nested", "c1", "sub/model.pt", "weights");
  put("folder", "c1", "model.pt/inner", "weights");
  for (const char* name : {"config-only", "nested", "folder"}) {
    EXPECT_EQ(reason_of([&] { store_.install("hk1", model_id("acme", name, "c1"), hub_, 1000); }),
              "bad-files")
        << name;
    EXPECT_TRUE(nothing_left("hk1")) << name;
  }

  // A misbehaving hub writing links: model.pt itself, or another file.
  write_file(base_ + "/outside.pt", "weights");
  FunctionHub links_model([this](const std::string& destination) {
    fs::create_symlink(base_ + "/outside.pt", destination + "/model.pt");
  });
  FunctionHub links_other([this](const std::string& destination) {
    write_file(destination + "/model.pt", "weights");
    fs::create_symlink(base_ + "/outside.pt", destination + "/extra.pt");
  });
  for (FunctionHub* linking : {&links_model, &links_other}) {
    EXPECT_EQ(
        reason_of([&] { store_.install("hk1", model_id("acme", "m", "c1"), *linking, 1000); }),
        "bad-files");
    EXPECT_TRUE(nothing_left("hk1"));
  }
  EXPECT_EQ(read_file(base_ + "/outside.pt"), "weights");
}

TEST_F(DiskModelStoreTest, InvalidHotkeysAreRefusedBeforeDownloading) {
  int downloads = 0;
  FunctionHub counting([&downloads](const std::string& destination) {
    ++downloads;
    write_file(destination + "/model.pt", "weights");
  });
  for (const std::string& hotkey :
       {std::string("../../etc"), std::string(""), std::string(".tmp"), std::string("a/b"),
        std::string(".."), std::string("hk\n"), std::string("hk.1"), std::string(129, 'a')}) {
    EXPECT_EQ(
        reason_of([&] { store_.install(hotkey, model_id("acme", "m", "c1"), counting, 100); }),
        "bad-files")
        << hotkey;
    EXPECT_EQ(reason_of([&] {
                store_.find(hotkey, content_hash({{"model.pt", "weights"}}));
              }),
              "bad-files")
        << hotkey;
  }
  EXPECT_EQ(downloads, 0);
  EXPECT_TRUE(fs::is_empty(store_root_ + "/.tmp"));

  const std::string longest(128, 'a');
  EXPECT_NO_THROW(store_.install(longest, model_id("acme", "m", "c1"), counting, 100));
  EXPECT_NO_THROW(store_.install("5F3sa2TJ_-x", model_id("acme", "m", "c1"), counting, 100));
  EXPECT_EQ(downloads, 2);
  try {
    store_.install("../../etc", model_id("acme", "m", "c1"), counting, 100);
  } catch (const ModelFetchError& e) {
    EXPECT_EQ(std::string(e.what()),
              "hotkey \"../../etc\": must be 1 to 128 characters of [A-Za-z0-9_-]");
  }
}

TEST_F(DiskModelStoreTest, PathEscapesInRepositoryAndCommitAreRefused) {
  write_file(base_ + "/x/c1/model.pt", "outside the hub");
  write_file(hub_root_ + "/c1/model.pt", "outside the namespace");
  put("model", "c1", "model.pt", "weights");
  for (const ModelId& id : {model_id("..", "x", "c1"), model_id("acme", "..", "c1"),
                            model_id("acme", "model", ".."), model_id("acme", "model", "")}) {
    EXPECT_EQ(reason_of([&] { store_.install("hk1", id, hub_, 1000); }), "bad-files")
        << id.repo_id() << "@" << id.commit;
    EXPECT_TRUE(nothing_left("hk1"));
  }
}

TEST_F(DiskModelStoreTest, ReinstallOfSameContentIsIdempotent) {
  put("model", "c1", "model.pt", "weights");
  put("model", "c2", "model.pt", "weights");  // another commit, same content
  const InstalledModel first = store_.install("hk1", model_id("acme", "model", "c1"), hub_, 1000);
  const InstalledModel again = store_.install("hk1", model_id("acme", "model", "c1"), hub_, 1000);
  const InstalledModel other = store_.install("hk1", model_id("acme", "model", "c2"), hub_, 1000);
  EXPECT_EQ(again.directory, first.directory);
  EXPECT_EQ(other.directory, first.directory);
  EXPECT_EQ(std::distance(fs::directory_iterator(store_root_ + "/hk1"), fs::directory_iterator()),
            2);  // the model folder and its stamps
  EXPECT_EQ(read_file(first.model_path), "weights");
  EXPECT_TRUE(fs::is_empty(store_root_ + "/.tmp"));
}

// find() notices files changed under the store by their stamps, accepts them
// again when they still have the content hash, and install() replaces a
// damaged folder.
TEST_F(DiskModelStoreTest, AModelChangedOnDiskIsNotFoundUntilReinstalled) {
  put("model", "c1", "model.pt", "weights");
  const InstalledModel model = store_.install("hk1", model_id("acme", "model", "c1"), hub_, 1000);
  const std::string stamps = model.directory + ".stamps.json";
  ASSERT_TRUE(fs::exists(stamps));
  const auto problem = [&] {
    std::string why;
    const bool found = store_.find("hk1", model.content_hash, &why).has_value();
    EXPECT_EQ(found, why.empty()) << why;
    return why;
  };
  EXPECT_EQ(problem(), "");

  // Same bytes, new modification time, no stamps: re-hashed, accepted, re-stamped.
  fs::last_write_time(model.model_path,
                      fs::last_write_time(model.model_path) - std::chrono::hours(1));
  EXPECT_EQ(problem(), "");
  fs::remove(stamps);
  EXPECT_EQ(problem(), "");
  EXPECT_TRUE(fs::exists(stamps));

  write_file(model.model_path, "weigh");  // truncated
  EXPECT_EQ(problem(),
            "model.pt: 5 bytes, 7 when installed; the files no longer have the content hash " +
                model.content_hash);
  write_file(model.model_path, "WEIGHTS");  // same size, other bytes
  EXPECT_EQ(problem().rfind("model.pt: modified since installed; the files no longer", 0), 0u);
  write_file(model.model_path, "weights");
  write_file(model.directory + "/extra.bin", "x");
  EXPECT_NE(problem().find("; the files no longer have the content hash"), std::string::npos);

  EXPECT_EQ(store_.install("hk1", model_id("acme", "model", "c1"), hub_, 1000).directory,
            model.directory);
  EXPECT_EQ(problem(), "");
  EXPECT_FALSE(fs::exists(model.directory + "/extra.bin"));

  fs::remove_all(model.directory);
  EXPECT_EQ(problem(), "not installed");
  store_.install("hk1", model_id("acme", "model", "c1"), hub_, 1000);
  EXPECT_EQ(problem(), "");
  EXPECT_EQ(read_file(model.model_path), "weights");
}

TEST(FolderStampsTest, TheFirstDifferenceIsNamed) {
  const FolderStamps installed = {{"a", {7, 100}}, {"b/c", {1, 100}}};
  EXPECT_EQ(stamps_difference(installed, installed), "");
  EXPECT_EQ(stamps_difference(installed, {{"a", {7, 100}}}), "b/c: missing");
  EXPECT_EQ(stamps_difference(installed, {{"a", {5, 100}}, {"b/c", {1, 100}}}),
            "a: 5 bytes, 7 when installed");
  EXPECT_EQ(stamps_difference(installed, {{"a", {7, 101}}, {"b/c", {1, 100}}}),
            "a: modified since installed");
  EXPECT_EQ(stamps_difference(installed, {{"a", {7, 100}}, {"b/c", {1, 100}}, {"d", {0, 1}}}),
            "d: not there when installed");
}

TEST_F(DiskModelStoreTest, RemoveUnreferencedKeepsExactlyTheReferenced) {
  put("m1", "c1", "model.pt", "one");
  put("m2", "c1", "model.pt", "two");
  put("m3", "c1", "model.pt", "three");
  put("m4", "c1", "model.pt", "four");
  const InstalledModel a1 = store_.install("hkA", model_id("acme", "m1", "c1"), hub_, 100);
  const InstalledModel a2 = store_.install("hkA", model_id("acme", "m2", "c1"), hub_, 100);
  const InstalledModel b3 = store_.install("hkB", model_id("acme", "m3", "c1"), hub_, 100);
  const InstalledModel c4 = store_.install("hkC", model_id("acme", "m4", "c1"), hub_, 100);
  const InstalledModel d4 = store_.install("hkD", model_id("acme", "m4", "c1"), hub_, 100);
  fs::create_directories(store_root_ + "/.tmp/install-stale/sub");  // a crashed install
  write_file(store_root_ + "/hkA/stray.txt", "not a model");
  write_file(store_root_ + "/README.txt", "not a hotkey folder: left alone");

  const size_t removed = store_.remove_unreferenced(
      {{"hkA", a1.content_hash}, {"hkB", a1.content_hash}, {"hkD", d4.content_hash}});

  EXPECT_EQ(removed, 3u);  // a2, b3, c4
  EXPECT_TRUE(store_.find("hkA", a1.content_hash).has_value());
  EXPECT_TRUE(store_.find("hkD", d4.content_hash).has_value());
  EXPECT_FALSE(fs::exists(a2.directory));
  EXPECT_FALSE(fs::exists(store_root_ + "/hkA/stray.txt"));
  EXPECT_FALSE(fs::exists(store_root_ + "/hkB"));
  EXPECT_FALSE(fs::exists(store_root_ + "/hkC"));
  EXPECT_TRUE(fs::is_empty(store_root_ + "/.tmp"));
  EXPECT_TRUE(fs::exists(store_root_ + "/README.txt"));

  EXPECT_EQ(store_.remove_unreferenced({{"hkA", a1.content_hash}, {"hkD", d4.content_hash}}), 0u);
  EXPECT_EQ(store_.remove_unreferenced({{"hkA", "not base64!"}}), 2u);
  EXPECT_FALSE(fs::exists(store_root_ + "/hkA"));
  EXPECT_FALSE(fs::exists(store_root_ + "/hkD"));
}

TEST_F(DiskModelStoreTest, CleanupDuringDownloadSparesTheInstallInFlight) {
  size_t removed_during_download = 99;
  FunctionHub cleans_midway([&](const std::string& destination) {
    write_file(destination + "/model.pt", "weights");
    removed_during_download = store_.remove_unreferenced({});
    write_file(destination + "/config.json", "{}");
  });
  const InstalledModel model =
      store_.install("hk1", model_id("acme", "m", "c1"), cleans_midway, 100);
  EXPECT_EQ(removed_during_download, 0u);
  EXPECT_EQ(model.content_hash, content_hash({{"config.json", "{}"}, {"model.pt", "weights"}}));
  EXPECT_EQ(read_file(model.directory + "/config.json"), "{}");
}

TEST_F(DiskModelStoreTest, ConcurrentInstallsFindsAndCleanups) {
  constexpr int kHotkeys = 4;
  for (int i = 0; i < kHotkeys; ++i) {
    put("m" + std::to_string(i), "c1", "model.pt", "weights " + std::to_string(i));
  }
  std::map<std::string, std::string> keep;
  for (int i = 0; i < kHotkeys; ++i) {
    keep["hk" + std::to_string(i)] = content_hash({{"model.pt", "weights " + std::to_string(i)}});
  }

  std::atomic<bool> done{false};
  std::thread cleaner([&] {
    try {
      while (!done) {
        store_.remove_unreferenced(keep);
        store_.find("hk0", keep.at("hk0"));
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleaner: " << e.what();
    }
  });
  std::vector<std::thread> installers;
  for (int i = 0; i < kHotkeys; ++i) {
    installers.emplace_back([&, i] {
      for (int round = 0; round < 5; ++round) {
        const std::string hotkey = "hk" + std::to_string(i);
        try {
          store_.install(hotkey, model_id("acme", "m" + std::to_string(i), "c1"), hub_, 100);
        } catch (const std::exception& e) {
          ADD_FAILURE() << hotkey << ": " << e.what();
        }
        EXPECT_TRUE(store_.find(hotkey, keep.at(hotkey)).has_value());
      }
    });
  }
  for (std::thread& installer : installers) installer.join();
  done = true;
  cleaner.join();
  for (const auto& [hotkey, hash] : keep) EXPECT_TRUE(store_.find(hotkey, hash).has_value());
}

TEST_F(DiskModelStoreTest, UnusableRootIsOneLineNamingThePath) {
  write_file(base_ + "/file", "not a folder");
  try {
    DiskModelStore store(base_ + "/file");
    FAIL() << "accepted";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(base_ + "/file/.tmp: cannot create the model store folder", 0), 0u)
        << what;
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace crucible
