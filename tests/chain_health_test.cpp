// Chain freshness end to end in the core: LocalChain::freshness() for a
// half-written metagraph.json and for a bridge that stopped syncing, the
// bridge's files as read, what became of the weights written, and the
// HealthMonitor turning a stale chain into a health problem, a warning, and
// back.
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crucible/common/files.h"
#include "crucible/validator/bridge_files.h"
#include "crucible/validator/health_monitor.h"
#include "crucible/validator/local_chain.h"
#include "crucible/validator/validator_metrics.h"

namespace crucible {
namespace {

using nlohmann::json;

constexpr const char* kMetagraph = R"({"netuid": 1, "block": 1000, "seconds_per_block": 12,
  "time": 100, "neurons": [{"uid": 0, "hotkey": "hk0", "stake": 1, "validator_permit": true}]})";

class ChainHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.refresh_seconds = 0;
    options_.read_attempts = 1;
    write("metagraph.json", kMetagraph);
  }

  void write(const std::string& file, const std::string& text) {
    std::ofstream(folder_.path() + "/" + file, std::ios::trunc) << text;
  }

  // bridge.json as the bridge writes it, at `now_`, last synced at `synced`.
  void write_bridge(double synced, const std::string& error = "") {
    const json bridge = {{"version", 1},
                         {"pid", 42},
                         {"time", now_},
                         {"started", 0},
                         {"sync",
                          {{"interval_seconds", 60},
                           {"last_attempt_time", now_},
                           {"last_ok_time", synced},
                           {"last_ok_block", 990},
                           {"last_error", error.empty() ? json(nullptr) : json(error)},
                           {"consecutive_failures", error.empty() ? 0 : 3}}},
                         {"weights",
                          {{"enabled", true},
                           {"hotkey", "hk0"},
                           {"last_poll_time", now_},
                           {"pending", 0},
                           {"consecutive_failures", 2},
                           {"last_submission", nullptr}}}};
    write("bridge.json", bridge.dump());
  }

  std::shared_ptr<LocalChain> chain() {
    return std::make_shared<LocalChain>(
        folder_.path(), [this] { return now_; }, options_);
  }

  TemporaryFolder folder_{"crucible-chain-health-test"};
  LocalChainOptions options_;
  double now_ = 5000;
};

TEST_F(ChainHealthTest, AFolderNobodyUpdatesStaysFresh) {
  auto local = chain();
  now_ += 100000;
  const ChainFreshness freshness = local->freshness();
  EXPECT_EQ(freshness.age_seconds, 0);
  EXPECT_EQ(freshness.cause, "");
  EXPECT_EQ(freshness.last_error, "");
}

TEST_F(ChainHealthTest, AHalfWrittenMetagraphAgesFromItsLastGoodRead) {
  auto local = chain();
  ASSERT_EQ(local->freshness().age_seconds, 0);
  write("metagraph.json", std::string(kMetagraph).substr(0, 40));
  now_ += 61;
  const ChainFreshness broken = local->freshness();
  EXPECT_EQ(broken.age_seconds, 61);
  EXPECT_EQ(broken.cause.rfind("metagraph.json last read fine 61 s ago: " + folder_.path() +
                                   "/metagraph.json: invalid JSON",
                               0),
            0u)
      << broken.cause;
  EXPECT_EQ(broken.last_error.rfind(folder_.path() + "/metagraph.json: invalid JSON", 0), 0u);
  // The last good copy is still served meanwhile.
  EXPECT_EQ(local->metagraph().neurons.size(), 1u);
  write("metagraph.json", kMetagraph);
  const ChainFreshness fixed = local->freshness();
  EXPECT_EQ(fixed.age_seconds, 0);
  EXPECT_EQ(fixed.last_error, "");
}

TEST_F(ChainHealthTest, ABridgeThatStoppedSyncingAgesTheChain) {
  write_bridge(now_ - 10);
  auto local = chain();
  EXPECT_EQ(local->freshness().age_seconds, 10);
  now_ += 400;  // the bridge is gone: bridge.json is no longer rewritten
  ChainFreshness freshness = local->freshness();
  EXPECT_EQ(freshness.age_seconds, 410);
  EXPECT_EQ(freshness.cause, "the bridge last synced the chain 410 s ago");
  // Alive but failing: the heartbeat is new, the last good sync is not.
  write_bridge(now_ - 410, "cannot reach wss://entrypoint: timed out");
  freshness = local->freshness();
  EXPECT_EQ(freshness.cause,
            "the bridge last synced the chain 410 s ago: cannot reach wss://entrypoint: timed out");
  ASSERT_TRUE(freshness.bridge);  // the bridge's report comes along
  EXPECT_EQ(freshness.bridge->sync_failures, 3);
  write_bridge(now_ - 1);
  EXPECT_EQ(local->freshness().age_seconds, 1);
}

TEST_F(ChainHealthTest, BridgeStatusReadsItsFieldsAndRejectsNonsense) {
  write_bridge(4990, "boom");
  const std::optional<BridgeStatus> status = read_bridge_status(folder_.path() + "/bridge.json");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->time, 5000);
  EXPECT_EQ(status->last_sync_ok_time, 4990);
  EXPECT_EQ(status->last_sync_ok_block, 990);
  EXPECT_EQ(status->last_sync_error, "boom");
  EXPECT_EQ(status->sync_failures, 3);
  EXPECT_TRUE(status->weights_enabled);
  EXPECT_EQ(status->submission_failures, 2);
  EXPECT_FALSE(read_bridge_status(folder_.path() + "/none.json"));
  write("bridge.json", "[1, 2]");
  try {
    read_bridge_status(folder_.path() + "/bridge.json");
    FAIL() << "accepted a JSON array";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              folder_.path() +
                  "/bridge.json: not a bridge status (a JSON object with a number \"time\")");
  }
  // A broken bridge.json is a read error, not an age.
  const ChainFreshness freshness = chain()->freshness();
  EXPECT_EQ(freshness.age_seconds, 0);
  EXPECT_NE(freshness.last_error.find("not a bridge status"), std::string::npos);
}

TEST_F(ChainHealthTest, WeightsDeliveryFollowsTheBridgesRecordOfOurLine) {
  auto local = chain();
  EXPECT_FALSE(local->weights_delivery());  // nothing written yet
  local->set_weights({{0}, {1.0}, 0});
  const std::string line = read_file(folder_.path() + "/weights.jsonl");
  const std::string key = weights_line_key(line.substr(0, line.size() - 1));
  EXPECT_EQ(key.size(), 7u + 64u);
  std::optional<WeightsDelivery> delivery = local->weights_delivery();
  ASSERT_TRUE(delivery);
  EXPECT_EQ(delivery->written_block, 1000 + (5000 - 100) / 12);
  EXPECT_EQ(delivery->status, "");
  EXPECT_FALSE(delivery->submitted_time);
  // An older line went through; ours failed once, then went through.
  std::ofstream submitted(folder_.path() + "/weights-submitted.jsonl");
  submitted << R"({"key": "sha256:older", "status": "submitted", "block": 1300, "time": 10})"
            << "\n"
            << json({{"key", key},
                     {"status", "failed"},
                     {"message", "rate limited"},
                     {"block", 1400},
                     {"time", 20}})
                   .dump()
            << "\nnot json\n";
  submitted.flush();
  delivery = local->weights_delivery();
  EXPECT_EQ(delivery->status, "failed");
  EXPECT_EQ(delivery->message, "rate limited");
  EXPECT_EQ(delivery->submitted_block, 1300);
  EXPECT_EQ(delivery->submitted_time, 10);
  submitted << json({{"key", key}, {"status", "submitted"}, {"block", 1401}, {"time", 30}}).dump()
            << "\n"
            << R"({"key": "sha256:torn", "status": "subm)";
  submitted.flush();
  delivery = local->weights_delivery();
  EXPECT_EQ(delivery->status, "submitted");
  EXPECT_EQ(delivery->submitted_block, 1401);
}

TEST_F(ChainHealthTest, ReadLastSubmissionsReadsOnlyTheTail) {
  std::ofstream file(folder_.path() + "/s.jsonl");
  for (int i = 0; i < 1000; ++i) {
    file << json({{"key", "k" + std::to_string(i)}, {"status", "submitted"}, {"time", i}}).dump()
         << "\n";
  }
  file.flush();
  const std::vector<SubmissionRecord> records =
      read_last_submissions(folder_.path() + "/s.jsonl", 1000);
  ASSERT_FALSE(records.empty());
  EXPECT_LT(records.size(), 30u);  // ~50 bytes a line
  EXPECT_EQ(records.back().key, "k999");
  EXPECT_EQ(records.back().time, 999);
  // Every record is whole: consecutive keys up to the last.
  EXPECT_EQ(records.front().key, "k" + std::to_string(1000 - records.size()));
}

class HealthMonitorTest : public ChainHealthTest {
 protected:
  HealthMonitor monitor(double stale_after) {
    HealthMonitorOptions options;
    options.stale_after_seconds = stale_after;
    options.warn_every_seconds = 1e9;
    return HealthMonitor(chain_, metrics_, options,
                         [this](LogLevel level, const std::string& line) {
                           std::lock_guard<std::mutex> lock(mutex_);
                           log_.emplace_back(level, line);
                         });
  }

  std::shared_ptr<LocalChain> chain_ = chain();
  ValidatorMetrics metrics_{[this] { return now_; }};
  std::mutex mutex_;
  std::vector<std::pair<LogLevel, std::string>> log_;
};

TEST_F(HealthMonitorTest, AStaleChainIsAProblemAWarningAndClearsWhenFresh) {
  write_bridge(now_ - 5);
  HealthMonitor health = monitor(300);
  EXPECT_TRUE(metrics_.healthy());
  EXPECT_NE(metrics_.prometheus_text().find("\ncrucible_chain_stale 0\n"), std::string::npos);
  EXPECT_NE(metrics_.prometheus_text().find("\ncrucible_bridge_submission_failures 2\n"),
            std::string::npos);

  now_ += 301;
  const std::string reason = health.check();
  EXPECT_EQ(reason, "chain stale: the bridge last synced the chain 306 s ago (stale after 300 s)");
  EXPECT_EQ(metrics_.problems(), std::vector<std::string>{reason});
  const std::string text = metrics_.prometheus_text();
  EXPECT_NE(text.find("\ncrucible_chain_stale 1\n"), std::string::npos);
  EXPECT_NE(text.find("\ncrucible_chain_age_seconds 306\n"), std::string::npos);
  EXPECT_EQ(json::parse(metrics_.status_json())["chain"]["stale"], true);
  health.check();  // still stale: no second warning within warn_every_seconds
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0].first, LogLevel::kWarn);
  EXPECT_EQ(log_[0].second, reason + "; weights are not set until it is fresh again");

  write_bridge(now_);
  EXPECT_EQ(health.check(), "");
  EXPECT_TRUE(metrics_.healthy());
  EXPECT_NE(metrics_.prometheus_text().find("\ncrucible_chain_stale 0\n"), std::string::npos);
  ASSERT_EQ(log_.size(), 2u);
  EXPECT_EQ(log_[1].first, LogLevel::kInfo);
  EXPECT_EQ(log_[1].second, "chain fresh again (data 0 s old); weights are set again");
}

TEST_F(HealthMonitorTest, ZeroThresholdNeverStaleAndBadOptionsAreRefused) {
  write_bridge(now_ - 1e6);
  HealthMonitor health = monitor(0);
  EXPECT_EQ(health.check(), "");
  EXPECT_TRUE(metrics_.healthy());
  HealthMonitorOptions negative;
  negative.stale_after_seconds = -1;
  EXPECT_THROW(HealthMonitor(chain_, metrics_, negative), std::invalid_argument);
}

}  // namespace
}  // namespace crucible
