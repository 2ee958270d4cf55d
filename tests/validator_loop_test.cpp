// The step loop with a scripted evaluator: what a step evaluates, scores,
// saves and logs, that a restarted validator continues from the last
// completed step, and that excluded uids are never evaluated nor weighted.
#include "crucible/validator/step_history.h"
#include "crucible/validator/validator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "crucible/validator/local_chain.h"
#include "crucible/validator/local_directory_hub.h"
#include "scripted_evaluator.h"
#include "validator_fixture.h"

namespace crucible {
namespace {

// Validator::run() with the stop flag raised after 200 ms; its return value.
int64_t run_for_200_ms(Validator& validator) {
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
  });
  const int64_t steps = validator.run(stop);
  stopper.join();
  return steps;
}

std::vector<nlohmann::json> metrics_lines(const std::string& state_dir) {
  std::ifstream in(state_dir + "/metrics.jsonl");
  std::vector<nlohmann::json> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

class ThrowingEvaluator : public ScriptedEvaluator {
 public:
  std::vector<ModelLosses> run(const CompetitionConfig&, uint64_t,
                               const std::vector<RoundModel>&) override {
    throw std::runtime_error("no data for this round");
  }
};

class ValidatorLoopTest : public ::testing::Test {
 protected:
  ValidatorLoopTest()
      : chain_(std::make_shared<LocalChain>(fixture_.chain_dir(), LocalChain::wall_now_seconds,
                                            LocalChainOptions{0.0, 5, 0.01, ""})),
        hub_(fixture_.hub_dir()),
        store_(fixture_.store_dir()),
        schedule_(CompetitionSchedule::builtin_default()) {
    fixture_.add_neuron("validator", true);
    miner("a", "score 0.9");
    miner("b", "score 0.3");
    miner("c", "broken");
    std::filesystem::create_directories(fixture_.state_dir());
  }

  void miner(const std::string& hotkey, const std::string& bytes) {
    fixture_.publish(hotkey, "c1", bytes);
    fixture_.add_neuron(hotkey);
    fixture_.commit(hotkey, ValidatorFixture::commitment(hotkey, "c1", hotkey, bytes), 10);
  }

  // One validator "process": state loaded from the state folder, models synced once.
  struct Run {
    explicit Run(ValidatorLoopTest& t, ModelManagerOptions manager_options = {})
        : state_store(t.fixture_.state_dir() + "/state"),
          models(t.chain_, t.hub_, t.store_, state, t.schedule_, manager_options, {}, &metrics),
          validator(t.chain_, models, t.evaluator_, t.schedule_, state, state_store, metrics,
                    ValidatorOptions{t.fixture_.state_dir()}, {}) {
      state_store.load(state);
      models.sync_all();
    }
    ValidatorState state;
    StateStore state_store;
    ValidatorMetrics metrics;
    ModelManager models;
    Validator validator;
  };

  ValidatorFixture fixture_;
  std::shared_ptr<LocalChain> chain_;
  LocalDirectoryHub hub_;
  DiskModelStore store_;
  CompetitionSchedule schedule_;
  ScriptedEvaluator evaluator_;
};

TEST_F(ValidatorLoopTest, AStepScoresSavesAndLogsTheQueuedModels) {
  Run run(*this);
  EXPECT_FALSE(run.validator.current_weights().has_value());
  ASSERT_TRUE(run.validator.step());

  const std::vector<nlohmann::json> lines = metrics_lines(fixture_.state_dir());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["step"], 1);
  EXPECT_EQ(lines[0]["block"], 1000);
  EXPECT_EQ(lines[0]["window"], 900);
  EXPECT_EQ(lines[0]["competition_id"], 0);
  EXPECT_EQ(lines[0]["seed"].get<uint64_t>(), chain_->block_seed(900));
  EXPECT_EQ(evaluator_.seeds, std::vector<uint64_t>{chain_->block_seed(900)});
  EXPECT_GE(lines[0]["seconds"].get<double>(), 0.0);
  EXPECT_EQ(lines[0]["pending"], run.state.pending_count());
  EXPECT_EQ(lines[0]["active"], run.state.active_count());
  EXPECT_EQ(lines[0]["seed_text"], std::to_string(chain_->block_seed(900)));
  // A row per miner (uid 0, a validator, is none).
  ASSERT_EQ(lines[0]["models"].size(), 3u);
  const nlohmann::json& a = lines[0]["models"][0];
  EXPECT_EQ(a["uid"], 1);
  EXPECT_EQ(a["status"], "ok");
  EXPECT_EQ(a["model"], "demo/a@c1");
  EXPECT_DOUBLE_EQ(a["ema"].get<double>(), 0.2 * 0.9);  // first update: alpha_init * score
  EXPECT_EQ(lines[0]["models"][2]["status"], "failed");
  EXPECT_EQ(lines[0]["models"][2]["weight"], 0.0);

  // Softmax at T = 0.1 over the positive EMAs (0.18 and 0.06); uids 0 and 3 get 0.
  const double wa = 1.0 / (1.0 + std::exp((0.06 - 0.18) / 0.1));
  const std::vector<double> weights = lines[0]["subnet_weights"].get<std::vector<double>>();
  ASSERT_EQ(weights.size(), 4u);
  EXPECT_NEAR(weights[1], wa, 1e-12);
  EXPECT_NEAR(weights[2], 1.0 - wa, 1e-12);
  EXPECT_EQ(weights[0], 0.0);
  EXPECT_EQ(weights[3], 0.0);
  const auto submission = run.validator.current_weights();
  ASSERT_TRUE(submission.has_value());
  EXPECT_EQ(submission->uids, (std::vector<Uid>{0, 1, 2, 3}));
  EXPECT_NEAR(submission->weights[1], wa, 1e-12);
}

TEST_F(ValidatorLoopTest, ARestartContinuesFromTheLastCompletedStep) {
  {
    Run first(*this);
    ASSERT_TRUE(first.validator.step());
  }
  // A crash while the next line was written left half a line behind.
  std::ofstream(fixture_.state_dir() + "/metrics.jsonl", std::ios::app) << "{\"step\": 2, \"blo";
  Run second(*this);
  EXPECT_FALSE(second.validator.step());  // the window is scored already
  fixture_.set_block(1050);               // the next window
  ASSERT_TRUE(second.validator.step());
  const std::vector<nlohmann::json> lines = metrics_lines(fixture_.state_dir());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["step"], 2);
  // The EMA went on from the saved state: 0.2 * 0.9 + 0.8 * (0.2 * 0.9).
  EXPECT_DOUBLE_EQ(lines[1]["models"][0]["ema"].get<double>(), 0.2 * 0.9 + 0.8 * 0.18);
}

// A miner's new model installed while a step runs its old one (the model
// manager resets its EMA): the old run neither counts nor scores, and the new
// model runs in the next step, in the same window.
TEST_F(ValidatorLoopTest, AModelReplacedDuringTheStepRunsNextNotScoredWithTheOldRun) {
  Run run(*this);
  bool replaced = false;
  evaluator_.during = [&] {
    if (replaced) return;
    replaced = true;
    fixture_.publish("a", "c2", "score 0.5");
    fixture_.commit("a", ValidatorFixture::commitment("a", "c2", "a", "score 0.5"), 20);
    run.models.sync_all();
  };
  ASSERT_TRUE(run.validator.step());
  nlohmann::json line = metrics_lines(fixture_.state_dir())[0];
  EXPECT_EQ(line["models"][0]["uid"], 1);
  EXPECT_EQ(line["models"][0]["status"], "waiting");
  EXPECT_EQ(line["models"][0]["reason"],
            "a new model was installed while this step ran; it runs in the next step");
  EXPECT_TRUE(line["models"][0]["ema"].is_null());  // reset, and not updated by the old run
  EXPECT_EQ(run.state.pending(0), std::vector<Uid>{1});

  ASSERT_TRUE(run.validator.step());  // the same window
  line = metrics_lines(fixture_.state_dir())[1];
  EXPECT_EQ(line["models"][0]["status"], "ok");
  EXPECT_EQ(line["models"][0]["model"], "demo/a@c2");
  EXPECT_DOUBLE_EQ(line["models"][0]["composite"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(line["models"][0]["ema"].get<double>(), 0.2 * 0.5);  // its first update
}

TEST_F(ValidatorLoopTest, MetricsJsonlIsRotatedBySizeAndARestartCountsOn) {
  {
    Run first(*this);
    ASSERT_TRUE(first.validator.step());
  }
  ValidatorState state;
  StateStore state_store(fixture_.state_dir() + "/state");
  state_store.load(state);
  ValidatorMetrics metrics;
  ModelManager models(chain_, hub_, store_, state, schedule_, {}, {}, &metrics);
  models.sync_all();
  ValidatorOptions options{fixture_.state_dir()};
  options.metrics_rotate_bytes = 1;  // every line goes to a new file
  Validator validator(chain_, models, evaluator_, schedule_, state, state_store, metrics, options,
                      {});
  fixture_.set_block(1050);
  ASSERT_TRUE(validator.step());
  const std::string path = fixture_.state_dir() + "/metrics.jsonl";
  EXPECT_EQ(read_last_step_records(path + ".1", 10).records.at(0)["step"], 1);
  const StepRecords both = read_last_step_records(path, 10);
  ASSERT_EQ(both.records.size(), 2u);
  EXPECT_EQ(both.records[1]["step"], 2);
  // Rotated and not written since (a crash): the next process counts on.
  rotate_step_log(path);
  Run third(*this);
  fixture_.set_block(1200);
  ASSERT_TRUE(third.validator.step());
  EXPECT_EQ(read_last_step_records(path, 1).records.at(0)["step"], 3);
}

TEST_F(ValidatorLoopTest, AFailingStepIsLoggedMarksUnhealthyAndTheLoopGoesOn) {
  Run run(*this);
  ThrowingEvaluator throwing;
  std::vector<std::string> log;
  ValidatorOptions options{fixture_.state_dir()};
  options.idle_poll_seconds = 0.01;
  Validator validator(chain_, run.models, throwing, schedule_, run.state, run.state_store,
                      run.metrics, options,
                      [&](LogLevel, const std::string& line) { log.push_back(line); });
  EXPECT_EQ(run_for_200_ms(validator), 0);
  EXPECT_FALSE(run.metrics.healthy());
  ASSERT_GE(log.size(), 2u);
  EXPECT_NE(log[0].find("the chain folder records no block hashes"), std::string::npos) << log[0];
  EXPECT_EQ(log[1], "step failed: no data for this round");
  EXPECT_TRUE(metrics_lines(fixture_.state_dir()).empty());
}

// A save that fails (disk full): the step fails and is not logged, but its
// number is used and its EMA update stays in memory; the next step saves both.
TEST_F(ValidatorLoopTest, AFailedSaveKeepsTheUpdateInMemoryAndTheNextStepSavesIt) {
  Run run(*this);
  bool full = true;
  StateStore flaky(fixture_.state_dir() + "/state", [&](const std::string& step) {
    if (full && step == "write ema.json") throw std::runtime_error("ema.json: disk full");
  });
  Validator validator(chain_, run.models, evaluator_, schedule_, run.state, flaky, run.metrics,
                      ValidatorOptions{fixture_.state_dir()}, {});
  try {
    validator.step();
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "state of step 1 not saved (kept in memory; the next step saves it): "
              "ema.json: disk full");
  }
  EXPECT_TRUE(metrics_lines(fixture_.state_dir()).empty());
  EXPECT_EQ(flaky.saved_step(), 0);
  EXPECT_FALSE(std::filesystem::exists(fixture_.state_dir() + "/state/state-000001.tmp"));

  full = false;
  EXPECT_FALSE(validator.step());  // nothing left to score in the window; the save is retried
  EXPECT_EQ(flaky.saved_step(), 1);
  fixture_.set_block(1050);
  ASSERT_TRUE(validator.step());
  std::vector<nlohmann::json> lines = metrics_lines(fixture_.state_dir());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["step"], 2);
  const double two_updates = 0.2 * 0.9 + 0.8 * (0.2 * 0.9);
  EXPECT_DOUBLE_EQ(lines[0]["models"][0]["ema"].get<double>(), two_updates);
  EXPECT_EQ(flaky.saved_step(), 2);

  // A restart loads both updates and goes on from step 2.
  Run restarted(*this);
  fixture_.set_block(1200);
  ASSERT_TRUE(restarted.validator.step());
  lines = metrics_lines(fixture_.state_dir());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["step"], 3);
  EXPECT_DOUBLE_EQ(lines[1]["models"][0]["ema"].get<double>(), 0.2 * 0.9 + 0.8 * two_updates);
}

// Killed between the save and the metrics.jsonl line (here: the line cannot
// be written): the saved state is a step ahead of the log, and the restart
// continues after the saved step, never repeating a number.
TEST_F(ValidatorLoopTest, AStepSavedButNotLoggedKeepsItsNumberAfterARestart) {
  const std::string metrics = fixture_.state_dir() + "/metrics.jsonl";
  {
    Run first(*this);
    ASSERT_TRUE(first.validator.step());
    std::filesystem::rename(metrics, metrics + ".kept");
    std::filesystem::create_directory(metrics);  // appending to it fails
    fixture_.set_block(1050);
    try {
      first.validator.step();
      FAIL() << "no error";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()),
                "step 2 saved but not logged (kept; the next step writes it): " + metrics +
                    ": cannot open for appending: Is a directory");
    }
    EXPECT_EQ(first.state_store.saved_step(), 2);
    std::filesystem::remove(metrics);
    std::filesystem::rename(metrics + ".kept", metrics);
  }
  Run second(*this);
  fixture_.set_block(1200);
  ASSERT_TRUE(second.validator.step());
  const std::vector<nlohmann::json> lines = metrics_lines(fixture_.state_dir());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["step"], 1);
  EXPECT_EQ(lines[1]["step"], 3);
  // Three updates: step 2's was saved although its line is missing.
  EXPECT_DOUBLE_EQ(lines[1]["models"][0]["ema"].get<double>(),
                   0.2 * 0.9 + 0.8 * (0.2 * 0.9 + 0.8 * 0.18));
  EXPECT_EQ(second.state_store.saved_step(), 3);
}

TEST_F(ValidatorLoopTest, ANewHotkeyAtAUidRestartsItsEmaAndNewNeuronsWidenTheWeights) {
  Run run(*this);
  ASSERT_TRUE(run.validator.step());
  // uid 1 is deregistered and taken by a new hotkey with the same model; a
  // fifth neuron registers.
  fixture_.set_hotkey(1, "a2");
  fixture_.commit("a2", ValidatorFixture::commitment("a", "c1", "a2", "score 0.9"), 20);
  miner("d", "score 0.5");
  run.models.sync_all();
  ASSERT_TRUE(run.validator.step());  // the same window: only the new models are scored
  const nlohmann::json line = metrics_lines(fixture_.state_dir())[1];
  EXPECT_EQ(line["subnet_weights"].size(), 5u);
  std::map<int, nlohmann::json> by_uid;
  for (const nlohmann::json& m : line["models"]) by_uid[m["uid"].get<int>()] = m;
  // A row per miner: the new hotkey at uid 1 and the new uid 4 run, the
  // others installed and scored earlier in the window, or failed (uid 3).
  ASSERT_EQ(by_uid.size(), 4u);
  EXPECT_EQ(by_uid[1]["status"], "ok");
  EXPECT_EQ(by_uid[4]["status"], "ok");
  EXPECT_EQ(by_uid[2]["status"], "waiting");
  EXPECT_EQ(by_uid[2]["reason"], "installed; not run in this step");
  EXPECT_EQ(by_uid[1]["hotkey"], "a2");
  EXPECT_DOUBLE_EQ(by_uid[1]["ema"].get<double>(), 0.2 * 0.9);  // a first update again
  EXPECT_DOUBLE_EQ(by_uid[4]["ema"].get<double>(), 0.2 * 0.5);
  const auto ema_of_2 = run.state.with_trackers(
      [](ModelTracker&, CompetitionEmaTracker& ema) { return ema.ema(0, 2); });
  EXPECT_DOUBLE_EQ(*ema_of_2, 0.2 * 0.3);  // scored once in this window: unchanged

  fixture_.set_block(1050);  // the next window scores the queue again
  ASSERT_TRUE(run.validator.step());
  by_uid.clear();
  const nlohmann::json next = metrics_lines(fixture_.state_dir())[2];
  for (const nlohmann::json& m : next["models"]) by_uid[m["uid"].get<int>()] = m;
  ASSERT_EQ(by_uid.size(), 4u);  // 1, 2 and 4 run; the failed 3 was not kept
  EXPECT_EQ(by_uid[3]["status"], "waiting");
  EXPECT_DOUBLE_EQ(by_uid[2]["ema"].get<double>(), 0.2 * 0.3 + 0.8 * 0.06);
}

TEST_F(ValidatorLoopTest, NothingQueuedIsNoStep) {
  Run run(*this);
  run.state.take_pending(0);
  run.state.replace_active(0, {});
  EXPECT_FALSE(run.validator.step());
  EXPECT_TRUE(metrics_lines(fixture_.state_dir()).empty());
}

// The validator's own store lost a model: its miner keeps its EMA (none is
// made up), and the model is queued again to be scored in the same window.
TEST_F(ValidatorLoopTest, AModelMissingFromTheStoreIsNotInstalledAndCostsItsMinerNothing) {
  Run run(*this);
  std::filesystem::remove_all(fixture_.store_dir() + "/b");
  ASSERT_TRUE(run.validator.step());
  const nlohmann::json b = metrics_lines(fixture_.state_dir())[0]["models"][1];
  EXPECT_EQ(b["uid"], 2);
  EXPECT_EQ(b["status"], "not-installed");
  EXPECT_EQ(b["weight"], 0.0);
  EXPECT_TRUE(b["ema"].is_null());
  EXPECT_EQ(run.state.pending(0), std::vector<Uid>{2});

  run.models.sync_all();
  ASSERT_TRUE(run.validator.step());
  const nlohmann::json again = metrics_lines(fixture_.state_dir())[1]["models"];
  ASSERT_EQ(again.size(), 3u);  // a row per miner; only uid 2 ran
  EXPECT_EQ(again[1]["uid"], 2);
  EXPECT_EQ(again[1]["status"], "ok");
  EXPECT_DOUBLE_EQ(again[1]["ema"].get<double>(), 0.2 * 0.3);  // its first and only update
}

// Model folders damaged under a running validator: a rewritten file makes the
// model not installed, with the file named, until the next model sync fetches
// it again; a deleted folder is fetched again the same way.
TEST_F(ValidatorLoopTest, AModelDamagedOrDeletedOnDiskIsFetchedAgain) {
  Run run(*this);
  const auto model_folder = [&](const std::string& hotkey) {
    for (const auto& entry :
         std::filesystem::directory_iterator(fixture_.store_dir() + "/" + hotkey)) {
      if (entry.is_directory()) return entry.path().string();
    }
    return std::string();
  };
  // Same length, other bytes, written later than the install (not within one clock tick).
  const std::string rewritten = model_folder("a") + "/model.pt";
  write_file_atomically(rewritten, "score 0.1");
  std::filesystem::last_write_time(
      rewritten, std::filesystem::file_time_type::clock::now() + std::chrono::minutes(1));
  std::filesystem::remove_all(model_folder("b"));

  ASSERT_TRUE(run.validator.step());  // c is scored (it fails: the miner's own doing)
  const nlohmann::json damaged = metrics_lines(fixture_.state_dir())[0]["models"];
  EXPECT_EQ(damaged[0]["status"], "not-installed");
  const std::string reason = damaged[0]["reason"];
  EXPECT_NE(reason.find("model.pt: modified since installed"), std::string::npos) << reason;
  EXPECT_NE(reason.find("fetched again by the next model sync"), std::string::npos) << reason;
  EXPECT_EQ(damaged[1]["status"], "not-installed");
  EXPECT_NE(damaged[1]["reason"].get<std::string>().find("not installed"), std::string::npos);

  run.models.sync_all();
  ASSERT_TRUE(run.validator.step());
  const nlohmann::json fetched = metrics_lines(fixture_.state_dir())[1]["models"];
  EXPECT_EQ(fetched[0]["status"], "ok");
  EXPECT_DOUBLE_EQ(fetched[0]["composite"], 0.9);
  EXPECT_EQ(fetched[1]["status"], "ok");
  EXPECT_DOUBLE_EQ(fetched[1]["composite"], 0.3);
}

// A restart with uid 1 excluded, after a step that queued and weighted it:
// the saved state still holds it, but it is neither evaluated nor weighted.
TEST_F(ValidatorLoopTest, AnExcludedUidIsNeitherEvaluatedNorWeightedWhateverTheStateHolds) {
  {
    Run first(*this);
    ASSERT_TRUE(first.validator.step());
    first.state.add_pending(0, 1);
    first.state_store.save(first.state);
  }
  ModelManagerOptions options;
  options.exclude_uids = {1};
  fixture_.set_block(1050);
  Run second(*this, options);
  ASSERT_EQ(second.state.pending(0), std::vector<Uid>{1});  // as saved
  const auto before = second.validator.current_weights();
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(before->weights[1], 0.0);
  EXPECT_NEAR(before->weights[2], 1.0, 1e-12);

  ASSERT_TRUE(second.validator.step());
  const nlohmann::json line = metrics_lines(fixture_.state_dir()).back();
  for (const nlohmann::json& m : line["models"]) {
    if (m["uid"] == 1) EXPECT_EQ(m["status"], "excluded") << line.dump();
  }
  EXPECT_EQ(line["subnet_weights"][1], 0.0);
  EXPECT_EQ(second.validator.current_weights()->weights[1], 0.0);
  for (CompetitionId c : {0}) {
    for (Uid uid : second.state.active(c)) EXPECT_NE(uid, 1);
    for (Uid uid : second.state.pending(c)) EXPECT_NE(uid, 1);
  }
  const auto ema = second.state.with_trackers(
      [](ModelTracker&, CompetitionEmaTracker& ema) { return ema.ema(0, 1); });
  EXPECT_FALSE(ema.has_value());
}

TEST_F(ValidatorLoopTest, TheStepInProgressIsDescribedWhileItRuns) {
  Run run(*this);
  EXPECT_EQ(run.validator.step_in_progress(), "");
  std::string during;
  evaluator_.during = [&] { during = run.validator.step_in_progress(); };
  ASSERT_TRUE(run.validator.step());
  EXPECT_EQ(during, "step 1 (competition 0, 3 models, running for 0 s)");
  EXPECT_EQ(run.validator.step_in_progress(), "");
}

TEST_F(ValidatorLoopTest, IdlingIsLoggedOnceAtDebug) {
  Run run(*this);
  run.state.take_pending(0);
  run.state.replace_active(0, {});
  std::vector<std::pair<LogLevel, std::string>> log;
  ValidatorOptions options{fixture_.state_dir()};
  options.idle_poll_seconds = 0.01;
  Validator validator(
      chain_, run.models, evaluator_, schedule_, run.state, run.state_store, run.metrics, options,
      [&](LogLevel level, const std::string& line) { log.emplace_back(level, line); });
  EXPECT_EQ(run_for_200_ms(validator), 0);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].first, LogLevel::kWarn);  // the local chain's seeds are predictable, once
  EXPECT_EQ(log[1].first, LogLevel::kDebug);
  EXPECT_EQ(log[1].second,
            "idle: every queued model is scored in this window; polling every 0.01 s");
}

}  // namespace
}  // namespace crucible
