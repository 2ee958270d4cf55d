// Scoring once per task window: a window already scored runs nothing, a
// model joining mid-window is scored against the window's earlier runs and
// only its EMA moves, two validators ten times apart in speed reach the same
// EMAs and weights, the validator's own store faults cost no miner anything,
// weights held after a damaged state wait for a scored window, and the seed
// waits for the window's block hash.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "crucible/validator/local_chain.h"
#include "crucible/validator/local_directory_hub.h"
#include "crucible/validator/validator.h"
#include "scripted_evaluator.h"
#include "validator_fixture.h"

namespace crucible {
namespace {

// One validator "process" with its own store and state folder.
struct ValidatorRun {
  ValidatorRun(std::shared_ptr<Chain> chain, ModelHub& hub, const CompetitionSchedule& schedule,
               RoundEvaluator& evaluator, const std::string& dir, Log log = {})
      : dir(dir),
        store(dir + "/models"),
        state_store(dir + "/state"),
        models(chain, hub, store, state, schedule, {}, {}, &metrics),
        validator(chain, models, evaluator, schedule, state, state_store, metrics, options(dir),
                  std::move(log)) {
    state_store.load(state);
    models.sync_all();
  }

  static ValidatorOptions options(const std::string& dir) {
    std::filesystem::create_directories(dir);
    ValidatorOptions o{dir};
    o.idle_poll_seconds = 0.002;
    return o;
  }

  // Runs the loop for `ms` milliseconds of wall time.
  void run_for(int ms) {
    std::atomic<bool> stop{false};
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      stop = true;
    });
    validator.run(stop);
    stopper.join();
  }

  std::vector<double> emas(size_t neurons) {
    return state.with_trackers(
        [&](ModelTracker&, CompetitionEmaTracker& ema) { return ema.emas(0, neurons); });
  }

  size_t logged_steps() const {
    std::ifstream in(dir + "/metrics.jsonl");
    size_t lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    return lines;
  }
  std::string dir;
  DiskModelStore store;
  ValidatorState state;
  StateStore state_store;
  ValidatorMetrics metrics;
  ModelManager models;
  Validator validator;
};

class ValidatorWindowTest : public ::testing::Test {
 protected:
  ValidatorWindowTest()
      : chain_(std::make_shared<LocalChain>(fixture_.chain_dir(), LocalChain::wall_now_seconds,
                                            LocalChainOptions{0.0, 5, 0.01, ""})),
        hub_(fixture_.hub_dir()),
        schedule_(CompetitionSchedule::builtin_default()) {
    fixture_.add_neuron("validator", true);
    miner("a", "score 0.9");
    miner("b", "score 0.3");
    miner("c", "broken");
  }

  void miner(const std::string& hotkey, const std::string& bytes, Block block = 10) {
    fixture_.publish(hotkey, "c1", bytes);
    fixture_.add_neuron(hotkey);
    fixture_.commit(hotkey, ValidatorFixture::commitment(hotkey, "c1", hotkey, bytes), block);
  }

  std::string dir(const std::string& name) const { return fixture_.state_dir() + "/" + name; }

  ValidatorFixture fixture_;
  std::shared_ptr<LocalChain> chain_;
  LocalDirectoryHub hub_;
  CompetitionSchedule schedule_;
};

TEST_F(ValidatorWindowTest, AWindowAlreadyScoredRunsNothingAndTheNextOneScoresTheQueueOnce) {
  ScriptedEvaluator evaluator;
  ValidatorRun run(chain_, hub_, schedule_, evaluator, dir("v"));
  ASSERT_TRUE(run.validator.step());
  const std::vector<double> after_one = run.emas(4);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(run.validator.step());
  EXPECT_EQ(evaluator.runs, std::vector<size_t>{3});  // one run() call, three models
  EXPECT_EQ(run.emas(4)[1], after_one[1]);
  EXPECT_DOUBLE_EQ(after_one[1], 0.2 * 0.9);

  fixture_.set_block(1149);  // the window of block 1050
  ASSERT_TRUE(run.validator.step());
  EXPECT_FALSE(run.validator.step());
  EXPECT_EQ(evaluator.runs, (std::vector<size_t>{3, 2}));  // a and b kept; c failed, dropped
  EXPECT_EQ(evaluator.seeds.back(), chain_->block_seed(1050));
  EXPECT_DOUBLE_EQ(run.emas(4)[1], 0.2 * 0.9 + 0.8 * 0.18);
}

// Ten times apart in speed, on the same chain, with a model joining in the
// middle of a window: the same EMAs and weights, bit for bit, after every
// window; each validator scores each model once per window.
TEST_F(ValidatorWindowTest, TwoValidatorsTenTimesApartInSpeedReachTheSameEmasAndWeights) {
  ScriptedEvaluator fast_evaluator, slow_evaluator;
  fast_evaluator.delay = std::chrono::milliseconds(2);
  slow_evaluator.delay = std::chrono::milliseconds(20);
  fast_evaluator.relative = slow_evaluator.relative = true;
  ValidatorRun fast(chain_, hub_, schedule_, fast_evaluator, dir("fast"));
  ValidatorRun slow(chain_, hub_, schedule_, slow_evaluator, dir("slow"));

  const int windows = 5;
  for (int w = 0; w < windows; ++w) {
    fixture_.set_block(1000 + 150 * w);
    fast.run_for(120);
    slow.run_for(120);
    if (w == 2) {  // a better model arrives in the middle of the window
      miner("d", "score 1.0", 1000 + 150 * w);
      fast.models.sync_all();
      slow.models.sync_all();
      fast.run_for(60);
      slow.run_for(60);
    }
    const std::vector<double> fast_emas = fast.emas(5), slow_emas = slow.emas(5);
    for (size_t uid = 0; uid < fast_emas.size(); ++uid) {
      if (std::isnan(fast_emas[uid])) {
        EXPECT_TRUE(std::isnan(slow_emas[uid])) << "window " << w << " uid " << uid;
      } else {
        EXPECT_EQ(fast_emas[uid], slow_emas[uid]) << "window " << w << " uid " << uid;
      }
    }
    ASSERT_TRUE(fast.validator.current_weights().has_value());
    EXPECT_EQ(fast.validator.current_weights()->weights, slow.validator.current_weights()->weights)
        << "window " << w;
  }
  // One scoring step per window, one more for the model that joined.
  EXPECT_EQ(fast.logged_steps(), static_cast<size_t>(windows + 1));
  EXPECT_EQ(slow.logged_steps(), static_cast<size_t>(windows + 1));
  // uid 1 ("score 0.9") was scored once per window: alone with b at first
  // (0.9 / 0.9 = 1), then against d (0.9 / 1.0) from window 3 on; d joining
  // in window 2 did not move it a second time in that window.
  double expected = 0.0;
  for (int w = 0; w < windows; ++w) {
    const double score = w < 3 ? 1.0 : 0.9;
    expected = w == 0 ? 0.2 * score : 0.2 * score + 0.8 * expected;
  }
  EXPECT_DOUBLE_EQ(fast.emas(5)[1], expected);
  // d joined in window 2 and was scored against a and b (1.0 / 1.0), then
  // once in each later window.
  EXPECT_DOUBLE_EQ(fast.emas(5)[4], 0.2 * 1.0 + 0.8 * (0.2 * 1.0 + 0.8 * 0.2));
}

// The model vanishes from the validator's own store while it runs: the
// miner is not charged, and the model is scored in the same window once it
// is fetched again.
TEST_F(ValidatorWindowTest, AStoreFaultDuringTheRunCostsTheMinerNothing) {
  ScriptedEvaluator evaluator;
  ValidatorRun run(chain_, hub_, schedule_, evaluator, dir("v"));
  evaluator.during = [&] { std::filesystem::remove_all(dir("v") + "/models/b"); };
  ASSERT_TRUE(run.validator.step());
  evaluator.during = nullptr;
  EXPECT_TRUE(std::isnan(run.emas(4)[2]));  // not scored, not zeroed
  EXPECT_EQ(run.state.pending(0), std::vector<Uid>{2});
  std::ifstream in(dir("v") + "/metrics.jsonl");
  std::string line;
  std::getline(in, line);
  const nlohmann::json b = nlohmann::json::parse(line)["models"][1];
  EXPECT_EQ(b["uid"], 2);
  EXPECT_EQ(b["status"], "not-installed");

  run.models.sync_all();
  ASSERT_TRUE(run.validator.step());
  EXPECT_DOUBLE_EQ(run.emas(4)[2], 0.2 * 0.3);
  EXPECT_DOUBLE_EQ(run.emas(4)[1], 0.2 * 0.9);  // a was not scored twice
}

// A metrics.jsonl line that could not be written is kept and written by the
// next step, idle or not, so the log has every step and stays in order.
TEST_F(ValidatorWindowTest, AMetricsLineThatCouldNotBeWrittenIsWrittenByTheNextStep) {
  ScriptedEvaluator evaluator;
  ValidatorRun run(chain_, hub_, schedule_, evaluator, dir("v"));
  const std::string metrics = dir("v") + "/metrics.jsonl";
  std::filesystem::create_directory(metrics);  // appending to it fails
  EXPECT_THROW(run.validator.step(), std::runtime_error);
  EXPECT_THROW(run.validator.step(), std::runtime_error);  // idle: the retry fails too
  std::filesystem::remove(metrics);
  EXPECT_FALSE(run.validator.step());  // idle: writes the kept line
  EXPECT_EQ(run.logged_steps(), 1u);
  fixture_.set_block(1050);
  ASSERT_TRUE(run.validator.step());
  std::ifstream in(metrics);
  std::vector<int64_t> steps;
  for (std::string line; std::getline(in, line);) {
    steps.push_back(nlohmann::json::parse(line)["step"].get<int64_t>());
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2}));
}

TEST_F(ValidatorWindowTest, HeldWeightsWaitForAScoredWindowAcrossARestart) {
  ScriptedEvaluator evaluator;
  {
    ValidatorRun first(chain_, hub_, schedule_, evaluator, dir("v"));
    ASSERT_TRUE(first.validator.step());
    ASSERT_TRUE(first.validator.current_weights().has_value());
    first.validator.hold_weights("the EMAs were restored from an older step");
    EXPECT_FALSE(first.validator.current_weights().has_value());
    EXPECT_FALSE(first.validator.step());  // the window is scored already: still held
    first.state_store.save(first.state, 1);
  }
  std::vector<std::string> log;
  ValidatorRun second(chain_, hub_, schedule_, evaluator, dir("v"),
                      [&](LogLevel, const std::string& line) { log.push_back(line); });
  EXPECT_EQ(second.validator.weights_held(), "the EMAs were restored from an older step");
  EXPECT_FALSE(second.validator.current_weights().has_value());
  fixture_.set_block(1050);
  ASSERT_TRUE(second.validator.step());
  EXPECT_TRUE(second.validator.weights_held().empty());
  EXPECT_TRUE(second.validator.current_weights().has_value());
  EXPECT_NE(std::find(log.begin(), log.end(),
                      "weights released: every queued model is scored in the window of block 1050"),
            log.end());
}

TEST_F(ValidatorWindowTest, TheSeedComesFromTheWindowsBlockHashOnceTheChainHasIt) {
  ScriptedEvaluator evaluator;
  std::vector<std::pair<LogLevel, std::string>> log;
  ValidatorRun run(chain_, hub_, schedule_, evaluator, dir("v"),
                   [&](LogLevel level, const std::string& line) { log.emplace_back(level, line); });
  const uint64_t predictable = chain_->block_seed(900);
  fixture_.set_block_hashes({{"750", "ab12"}});
  EXPECT_FALSE(run.validator.step());
  EXPECT_FALSE(run.validator.step());
  ASSERT_EQ(log.size(), 1u);  // logged once per window
  EXPECT_EQ(log[0].first, LogLevel::kInfo);
  EXPECT_NE(log[0].second.find("waiting for the round seed: "), std::string::npos);
  EXPECT_NE(log[0].second.find("no block_hashes entry for block 900"), std::string::npos);
  EXPECT_TRUE(evaluator.seeds.empty());

  fixture_.set_block_hashes({{"750", "ab12"}, {"900", "0xC0FFEE"}});
  ASSERT_TRUE(run.validator.step());
  ASSERT_EQ(evaluator.seeds.size(), 1u);
  EXPECT_EQ(evaluator.seeds[0], chain_->block_seed(900));
  EXPECT_NE(evaluator.seeds[0], predictable);
  for (const auto& [level, line] : log) {
    EXPECT_EQ(line.find("records no block hashes"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace crucible
