// Persistence: round trip, a crash at every write point, corrupt and
// incompatible files moved aside (never a silent wipe).
#include "crucible/validator/state_store.h"

#include <gtest/gtest.h>

#include "crucible/common/files.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

namespace crucible {
namespace {

namespace fs = std::filesystem;

struct SimulatedCrash {};

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = temp_.path() + "/state"; }

  // A state whose content depends on `n`.
  static void fill(ValidatorState& state, int n) {
    state.add_pending(0, n);
    state.take_pending(0);
    state.add_pending(1, 100 + n);
    state.with_trackers([n](ModelTracker& models, CompetitionEmaTracker& ema) {
      models.set_model("hk" + std::to_string(n), ModelMetadata{"ns/m:c::0", n, "", ""});
      ema.update(0, n, "hk" + std::to_string(n), 0.1 * n, n, EmaParams{});
    });
  }

  // The names in the state folder.
  std::set<std::string> names() const {
    std::set<std::string> found;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      found.insert(entry.path().filename().string());
    }
    return found;
  }

  // Loads the folder: `expected`, saved at `step`, without a warning.
  void expect_loads(const ValidatorState& expected, int64_t step, const std::string& when = "") {
    ValidatorState loaded;
    const StateStore::LoadReport report = StateStore(dir_).load(loaded);
    EXPECT_TRUE(same(expected, loaded)) << when;
    EXPECT_EQ(report.step, step) << when;
    EXPECT_TRUE(report.warnings.empty()) << when;
  }

  static bool same(const ValidatorState& a, const ValidatorState& b) {
    const ValidatorStateSnapshot x = a.snapshot(), y = b.snapshot();
    return x.queues == y.queues && x.ema == y.ema && x.models == y.models;
  }

  TemporaryFolder temp_{"state_store_test"};
  std::string dir_;
};

TEST_F(StateStoreTest, MissingFolderIsAFreshStart) {
  ValidatorState state;
  const StateStore::LoadReport report = StateStore(dir_).load(state);
  EXPECT_TRUE(report.fresh);
  EXPECT_TRUE(report.warnings.empty());
}

TEST_F(StateStoreTest, SaveLoadRoundTripAndOldGenerationsRemoved) {
  ValidatorState state;
  fill(state, 1);
  StateStore store(dir_);
  store.save(state);
  fill(state, 2);
  store.save(state);
  store.save(state);
  store.save(state);
  ValidatorState loaded;
  const StateStore::LoadReport report = store.load(loaded);
  EXPECT_FALSE(report.fresh);
  EXPECT_EQ(report.generation, "state-000004");
  EXPECT_TRUE(same(state, loaded));
  // The new generation and the two before it.
  EXPECT_EQ(names(),
            (std::set<std::string>{"CURRENT", "state-000002", "state-000003", "state-000004"}));
}

TEST_F(StateStoreTest, CrashAtEveryWritePointLeavesTheLastCompleteSave) {
  const std::vector<std::string> steps = {"write queues.json", "write ema.json",
                                          "write models.json", "write meta.json",
                                          "rename generation", "switch CURRENT"};
  for (const std::string& crash_at : steps) {
    fs::remove_all(dir_);
    ValidatorState saved;
    fill(saved, 1);
    StateStore(dir_).save(saved);

    ValidatorState newer;
    fill(newer, 1);
    fill(newer, 2);
    StateStore crashing(dir_, [&](const std::string& step) {
      if (step == crash_at) throw SimulatedCrash{};
    });
    EXPECT_THROW(crashing.save(newer), SimulatedCrash) << crash_at;

    ValidatorState loaded;
    const StateStore::LoadReport report = StateStore(dir_).load(loaded);
    EXPECT_TRUE(same(saved, loaded)) << "crash at " << crash_at;
    EXPECT_TRUE(report.warnings.empty()) << crash_at;

    // The next save after the crash works and is what loads.
    StateStore(dir_).save(newer);
    ValidatorState reloaded;
    StateStore(dir_).load(reloaded);
    EXPECT_TRUE(same(newer, reloaded)) << "save after crash at " << crash_at;
  }
}

// A save that fails (disk full, read-only folder: an exception, not a crash)
// removes what it wrote and leaves the previous generation current.
TEST_F(StateStoreTest, AFailedSaveLeavesNothingBehindAndThePreviousGenerationCurrent) {
  for (const char* fail_at : {"write queues.json", "write ema.json", "write models.json",
                              "write meta.json", "rename generation", "switch CURRENT"}) {
    fs::remove_all(dir_);
    ValidatorState saved;
    fill(saved, 1);
    StateStore(dir_).save(saved, 4);

    ValidatorState newer;
    fill(newer, 2);
    StateStore failing(dir_, [&](const std::string& step) {
      if (step == fail_at) throw std::runtime_error("disk full");
    });
    EXPECT_THROW(failing.save(newer, 5), std::runtime_error) << fail_at;
    EXPECT_EQ(names(), (std::set<std::string>{"CURRENT", "state-000001"})) << fail_at;
    expect_loads(saved, 4, fail_at);
  }
}

TEST_F(StateStoreTest, TheStepIsSavedAndReadBack) {
  StateStore store(dir_);
  EXPECT_EQ(store.saved_step(), 0);  // nothing saved
  ValidatorState state;
  fill(state, 1);
  store.save(state, 41);
  EXPECT_EQ(store.saved_step(), 41);
  store.save(state, 42);
  EXPECT_EQ(store.saved_step(), 42);
  expect_loads(state, 42);
  // A generation saved before the step was recorded: step 0, loaded without a
  // warning; the saved step is the largest of the generations', the older one's.
  std::ofstream(dir_ + "/state-000002/meta.json", std::ios::trunc) << "{\"format_version\": 1}";
  EXPECT_EQ(store.saved_step(), 41);
  expect_loads(state, 0);
}

// Killed after the first generation was renamed into place, before CURRENT
// was written: the complete generation loads, with its step, silently.
TEST_F(StateStoreTest, ACrashBeforeTheFirstCurrentLoadsTheRenamedGeneration) {
  ValidatorState state;
  fill(state, 1);
  StateStore crashing(dir_, [](const std::string& step) {
    if (step == "switch CURRENT") throw SimulatedCrash{};
  });
  EXPECT_THROW(crashing.save(state, 1), SimulatedCrash);
  EXPECT_EQ(names(), (std::set<std::string>{"state-000001"}));
  EXPECT_EQ(StateStore(dir_).saved_step(), 1);
  expect_loads(state, 1);
}

TEST_F(StateStoreTest, CrashAfterSwitchLoadsTheNewSave) {
  ValidatorState state;
  fill(state, 1);
  StateStore(dir_).save(state);
  fill(state, 2);
  StateStore crashing(dir_, [](const std::string& step) {
    if (step == "remove old generations") throw SimulatedCrash{};
  });
  EXPECT_THROW(crashing.save(state), SimulatedCrash);
  ValidatorState loaded;
  StateStore(dir_).load(loaded);
  EXPECT_TRUE(same(state, loaded));
}

TEST_F(StateStoreTest, TruncatedTemporaryFilesAreIgnoredThenRemovedByTheNextSave) {
  ValidatorState state;
  fill(state, 1);
  StateStore(dir_).save(state);
  // A crash inside write_file_atomically: a half-written temporary beside CURRENT.
  std::ofstream(dir_ + "/CURRENT.tmp.abc123") << "state-0000";
  fs::create_directory(dir_ + "/state-000002.tmp");
  std::ofstream(dir_ + "/state-000002.tmp/queues.json") << "{\"compet";
  ValidatorState loaded;
  EXPECT_TRUE(StateStore(dir_).load(loaded).warnings.empty());
  EXPECT_TRUE(same(state, loaded));
  // The next save removes them and keeps the generation CURRENT named.
  StateStore(dir_).save(state);
  EXPECT_EQ(names(), (std::set<std::string>{"CURRENT", "state-000001", "state-000003"}));
}

TEST_F(StateStoreTest, CorruptFileIsMovedAsideAndTheRestLoads) {
  ValidatorState state;
  fill(state, 3);
  StateStore(dir_).save(state);
  std::ofstream(dir_ + "/state-000001/ema.json", std::ios::trunc) << "{\"competitions\": [";
  ValidatorState loaded;
  const StateStore::LoadReport report = StateStore(dir_).load(loaded);
  EXPECT_FALSE(report.fresh);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("ema.json of state-000001 (step 0) is damaged"),
            std::string::npos)
      << report.warnings[0];
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0],
            "ema.json: no intact copy in state-000001 (step 0); the EMAs start fresh");
  EXPECT_TRUE(report.ema_restored_or_fresh);
  EXPECT_TRUE(fs::exists(dir_ + "/corrupt-state-000001-ema.json"));
  EXPECT_EQ(loaded.snapshot().queues, state.snapshot().queues);
  EXPECT_EQ(loaded.snapshot().models, state.snapshot().models);
  EXPECT_EQ(loaded.snapshot().ema, ValidatorState().snapshot().ema);
}

TEST_F(StateStoreTest, IncompatibleVersionIsMovedAsideNotDeleted) {
  ValidatorState state;
  fill(state, 1);
  StateStore(dir_).save(state);
  std::ofstream(dir_ + "/state-000001/meta.json", std::ios::trunc) << "{\"format_version\": 99}";
  ValidatorState loaded;
  const StateStore::LoadReport report = StateStore(dir_).load(loaded);
  EXPECT_TRUE(report.fresh);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_EQ(report.errors.size(), 3u);  // each part starts fresh
  EXPECT_TRUE(fs::exists(dir_ + "/incompatible-state-000001-v99/queues.json"));
  EXPECT_TRUE(same(loaded, ValidatorState()));
}

TEST_F(StateStoreTest, CurrentNamingNothingFallsBackToNewestGeneration) {
  ValidatorState state;
  fill(state, 1);
  StateStore(dir_).save(state);
  std::ofstream(dir_ + "/CURRENT", std::ios::trunc) << "garbage";
  ValidatorState loaded;
  const StateStore::LoadReport report = StateStore(dir_).load(loaded);
  EXPECT_TRUE(same(state, loaded));
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_TRUE(fs::exists(dir_ + "/CURRENT.corrupt"));
}

TEST_F(StateStoreTest, UnwritableFolderThrowsAndNamesIt) {
  std::ofstream(fs::path(dir_).parent_path() / "file") << "x";
  StateStore store((fs::path(dir_).parent_path() / "file" / "state").string());
  ValidatorState state;
  try {
    store.save(state);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("file/state"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace crucible
