// The model manager over a local chain and a local hub: what it installs,
// what it records as failed (and why) and logs, what it queues, and cleanup.
#include "crucible/validator/model_manager.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "crucible/validator/local_chain.h"
#include "crucible/validator/local_directory_hub.h"
#include "validator_fixture.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

class ModelManagerTest : public ::testing::Test {
 protected:
  ModelManagerTest()
      : chain_(std::make_shared<LocalChain>(fixture_.chain_dir(), LocalChain::wall_now_seconds,
                                            LocalChainOptions{0.0, 5, 0.01, ""})),
        hub_(fixture_.hub_dir()),
        store_(fixture_.store_dir()),
        schedule_(CompetitionSchedule::builtin_default()) {}

  ModelManager manager(ModelManagerOptions options = {}) {
    return ModelManager(chain_, hub_, store_, state_, schedule_, options, log_, &metrics_);
  }

  // The log lines so far at `level`, and forgets them.
  std::vector<std::string> take_log(LogLevel level) {
    std::lock_guard<std::mutex> lock(log_mutex_);
    std::vector<std::string> lines = std::move(log_lines_[level]);
    log_lines_.erase(level);
    return lines;
  }

  std::string failure(const std::string& hotkey) {
    const auto model = state_.with_trackers(
        [&](ModelTracker& models, CompetitionEmaTracker&) { return models.model(hotkey); });
    return model ? model->failure : "(untracked)";
  }

  ValidatorFixture fixture_;
  std::shared_ptr<LocalChain> chain_;
  LocalDirectoryHub hub_;
  DiskModelStore store_;
  CompetitionSchedule schedule_;
  ValidatorState state_;
  ValidatorMetrics metrics_;
  std::mutex log_mutex_;
  std::map<LogLevel, std::vector<std::string>> log_lines_;
  Log log_ = [this](LogLevel level, const std::string& line) {
    std::lock_guard<std::mutex> lock(log_mutex_);
    log_lines_[level].push_back(line);
  };
};

TEST_F(ModelManagerTest, InstallsGoodModelsAndRecordsWhyOthersFailed) {
  fixture_.publish("good", "c1", "GOOD");
  fixture_.publish("other", "c1", "OTHER");
  fixture_.add_neuron("validator", true);  // uid 0: never synced
  fixture_.add_neuron("good");             // 1
  fixture_.add_neuron("silent");           // 2: no commitment
  fixture_.add_neuron("garbled");          // 3
  fixture_.add_neuron("forger");           // 4: secure hash of other bytes
  fixture_.add_neuron("future");           // 5: competition 7 is not active
  fixture_.add_neuron("ghost");            // 6: repository missing
  fixture_.add_neuron("excluded");         // 7
  fixture_.commit("validator", ValidatorFixture::commitment("good", "c1", "validator", "GOOD"), 1);
  fixture_.commit("good", ValidatorFixture::commitment("good", "c1", "good", "GOOD"), 10);
  fixture_.commit("garbled", "no-slash:c1::0", 11);
  fixture_.commit("forger", ValidatorFixture::commitment("other", "c1", "forger", "GOOD"), 12);
  fixture_.commit("future", ValidatorFixture::commitment("good", "c1", "future", "GOOD", 7), 13);
  fixture_.commit("ghost", ValidatorFixture::commitment("gone", "c1", "ghost", "X"), 14);
  fixture_.commit("excluded", ValidatorFixture::commitment("good", "c1", "excluded", "GOOD"), 15);

  ModelManagerOptions options;
  options.exclude_uids = {7};
  ModelManager models = manager(options);
  EXPECT_EQ(models.sync_all().changed, 1u);

  EXPECT_EQ(state_.pending(0), std::vector<Uid>{1});
  const auto installed = models.installed_model("good");
  ASSERT_TRUE(installed);
  EXPECT_EQ(read_file(installed->model_path), "GOOD");
  EXPECT_EQ(failure("good"), "");
  EXPECT_EQ(failure("validator"), "(untracked)");
  EXPECT_EQ(failure("excluded"), "(untracked)");
  EXPECT_EQ(failure("silent"), "missing-commitment: no model committed");
  EXPECT_EQ(failure("garbled").rfind("bad-commitment: ", 0), 0u) << failure("garbled");
  EXPECT_EQ(failure("forger").rfind("hash-mismatch: ", 0), 0u) << failure("forger");
  EXPECT_EQ(failure("future"), "inactive-competition: competition 7 is not active");
  EXPECT_EQ(failure("ghost").rfind("not-found: ", 0), 0u) << failure("ghost");
  // Nothing of the failed downloads is left in the store.
  EXPECT_FALSE(fs::exists(fixture_.store_dir() + "/forger"));
  EXPECT_TRUE(fs::is_empty(fixture_.store_dir() + "/.tmp"));
  const std::string text = metrics_.prometheus_text();
  EXPECT_NE(text.find("crucible_model_failures_total{reason=\"hash-mismatch\"} 1"),
            std::string::npos)
      << text;
}

// Three miners that all fail: each failure is logged once per change (also
// once more by a restarted manager, whose tracker already holds it), and the
// walk reports what it found.
TEST_F(ModelManagerTest, EachFailureIsLoggedOncePerChangeAndTheWalkIsSummarised) {
  fixture_.publish("other", "c1", "OTHER");
  fixture_.add_neuron("validator", true);  // uid 0
  fixture_.add_neuron("silent");           // 1: no commitment
  fixture_.add_neuron("forger");           // 2: secure hash of other bytes
  fixture_.add_neuron("ghost");            // 3: repository missing
  fixture_.add_neuron("excluded");         // 4
  fixture_.commit("forger", ValidatorFixture::commitment("other", "c1", "forger", "GOOD"), 12);
  fixture_.commit("ghost", ValidatorFixture::commitment("gone", "c1", "ghost", "X"), 14);
  ModelManagerOptions options;
  options.retry_seconds = 0;  // every walk looks at every miner again
  options.exclude_uids = {4};

  const auto starts_with = [](const std::string& line, const std::string& prefix) {
    return line.rfind(prefix, 0) == 0;
  };
  for (int process = 0; process < 2; ++process) {  // the second: a restart
    ModelManager models = manager(options);
    const SyncReport report = models.sync_all();
    EXPECT_EQ(report.miners, 3u);
    EXPECT_EQ(report.excluded, 1u);
    EXPECT_EQ(report.installed, 0u);
    EXPECT_EQ(report.changed, 0u);
    EXPECT_EQ(report.failures,
              (std::map<std::string, size_t>{
                  {"hash-mismatch", 1}, {"missing-commitment", 1}, {"not-found", 1}}));
    EXPECT_EQ(report.summary(),
              "3 miners, 0 models installed, 3 failed (hash-mismatch 1, missing-commitment 1, "
              "not-found 1), 1 excluded");
    const std::vector<std::string> warnings = take_log(LogLevel::kWarn);
    ASSERT_EQ(warnings.size(), 2u) << process;
    EXPECT_TRUE(starts_with(warnings[0], "uid 2: hash-mismatch: ")) << warnings[0];
    EXPECT_TRUE(starts_with(warnings[1], "uid 3: not-found: ")) << warnings[1];
    // A missing commitment is no fault, but the operator sees it once, at info.
    const std::vector<std::string> infos = take_log(LogLevel::kInfo);
    EXPECT_NE(
        std::find(infos.begin(), infos.end(), "uid 1: missing-commitment: no model committed"),
        infos.end());

    models.sync_all();  // nothing changed: nothing logged
    EXPECT_TRUE(take_log(LogLevel::kWarn).empty());
    EXPECT_TRUE(take_log(LogLevel::kDebug).empty());
  }
  {
    ModelManager models = manager(options);
    models.sync_all();
    take_log(LogLevel::kWarn);
    take_log(LogLevel::kDebug);
    fixture_.commit("silent", "garbled", 20);  // a changed failure is logged again
    models.sync_all();
    const std::vector<std::string> warnings = take_log(LogLevel::kWarn);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_TRUE(starts_with(warnings[0], "uid 1: bad-commitment: ")) << warnings[0];
  }

  // The thread's first walk ends with the summary.
  ModelManagerOptions threaded = options;
  threaded.sync_interval_seconds = 3600;
  threaded.cleanup_interval_seconds = 3600;
  ModelManager models = manager(threaded);
  models.start();
  // A new process: the missing commitment once more, then the summary.
  std::vector<std::string> info;
  for (int i = 0; i < 500 && info.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (const std::string& line : take_log(LogLevel::kInfo)) info.push_back(line);
  }
  models.stop();
  EXPECT_EQ(info, (std::vector<std::string>{
                      "uid 1: missing-commitment: no model committed",
                      "first model sync: 3 miners, 0 models installed, 3 failed (bad-commitment 1, "
                      "hash-mismatch 1, not-found 1), 1 excluded"}));
}

TEST_F(ModelManagerTest, AChangedCommitmentReinstallsResetsTheEmaAndRequeues) {
  fixture_.publish("m", "c1", "FIRST");
  fixture_.publish("m", "c2", "SECOND");
  fixture_.add_neuron("miner");
  fixture_.commit("miner", ValidatorFixture::commitment("m", "c1", "miner", "FIRST"), 10);
  ModelManager models = manager();
  ASSERT_EQ(models.sync_all().changed, 1u);
  const std::string first_dir = models.installed_model("miner")->directory;
  state_.take_pending(0);
  state_.with_trackers([](ModelTracker&, CompetitionEmaTracker& ema) {
    ema.update(0, 0, "miner", 0.5, 10, EmaParams{});
    return 0;
  });

  EXPECT_EQ(models.sync_all().changed, 0u);  // unchanged: nothing downloaded, nothing queued
  EXPECT_TRUE(state_.pending(0).empty());

  fixture_.commit("miner", ValidatorFixture::commitment("m", "c2", "miner", "SECOND"), 20);
  EXPECT_EQ(models.sync_all().changed, 1u);
  EXPECT_EQ(read_file(models.installed_model("miner")->model_path), "SECOND");
  EXPECT_EQ(state_.pending(0), std::vector<Uid>{0});
  const auto ema =
      state_.with_trackers([](ModelTracker&, CompetitionEmaTracker& ema) { return ema.ema(0, 0); });
  EXPECT_FALSE(ema.has_value());

  EXPECT_TRUE(fs::exists(first_dir));
  EXPECT_EQ(models.cleanup(), 1u);  // the first model is no longer referenced
  EXPECT_FALSE(fs::exists(first_dir));
  EXPECT_TRUE(fs::exists(models.installed_model("miner")->model_path));
}

TEST_F(ModelManagerTest, TopMinersOfTheHighestStakeValidatorsAreQueued) {
  fixture_.publish("m", "c1", "BYTES");
  fixture_.add_neuron("big-validator", true);    // uid 0, stake 50: weights uid 2 most
  fixture_.add_neuron("small-validator", true);  // uid 1, stake 1: weights uid 3 most
  fixture_.add_neuron("liked");                  // 2
  fixture_.add_neuron("also-liked");             // 3
  for (const char* hotkey : {"liked", "also-liked"}) {
    fixture_.commit(hotkey, ValidatorFixture::commitment("m", "c1", hotkey, "BYTES"), 10);
  }
  fixture_.set_validator_weights(0, 50.0, {0.0, 0.0, 0.9, 0.1});
  fixture_.set_validator_weights(1, 1.0, {0.0, 0.0, 0.2, 0.8});
  ModelManagerOptions options;
  options.top_validators = 1;
  ModelManager models = manager(options);
  models.sync_all();
  state_.take_pending(0);
  state_.replace_active(0, {});

  EXPECT_EQ(models.queue_top_miners(), std::vector<Uid>{2});
  EXPECT_EQ(state_.pending(0), std::vector<Uid>{2});
}

TEST_F(ModelManagerTest, TheThreadSyncsAtOnceAndStopsPromptly) {
  fixture_.publish("m", "c1", "BYTES");
  fixture_.add_neuron("miner");
  fixture_.commit("miner", ValidatorFixture::commitment("m", "c1", "miner", "BYTES"), 10);
  ModelManagerOptions options;
  options.sync_interval_seconds = 3600;
  options.cleanup_interval_seconds = 3600;
  ModelManager models = manager(options);
  models.start();
  for (int i = 0; i < 200 && state_.pending(0).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(state_.pending(0), std::vector<Uid>{0});
  const auto start = std::chrono::steady_clock::now();
  models.stop();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
}

}  // namespace
}  // namespace crucible
