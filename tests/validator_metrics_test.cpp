// The metrics renderers: exact Prometheus text for known updates, label
// escaping, non-finite values, the failure-reason cap, the weights document,
// and updates from many threads (checked by ThreadSanitizer).
#include "crucible/validator/validator_metrics.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crucible/validator/step_report.h"

namespace crucible {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// The sample lines (no comments) of a family, in order.
std::vector<std::string> samples(const std::string& text, const std::string& family) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    const bool named = line.rfind(family, 0) == 0 && line.size() > family.size();
    if (named && (line[family.size()] == ' ' || line[family.size()] == '{')) lines.push_back(line);
  }
  return lines;
}

TEST(ValidatorMetrics, KnownUpdatesGiveExactPrometheusText) {
  ValidatorMetrics metrics([] { return 1700000000.5; });
  metrics.set_started(true);
  metrics.record_step(2, 1100, 9.0, 4);
  metrics.record_step(3, 1234, 1.5, 13);
  metrics.add_failure("timeout");
  metrics.add_failure("refused");
  metrics.add_failure("timeout");
  metrics.set_queue_sizes(4, 2);
  metrics.set_weights(1200, {0.5, 0.5});
  const std::string expected =
      "# HELP crucible_started 1 once the validator loop is running.\n"
      "# TYPE crucible_started gauge\n"
      "crucible_started 1\n"
      "# HELP crucible_healthy 1 while the validator is healthy (/healthz answers 200).\n"
      "# TYPE crucible_healthy gauge\n"
      "crucible_healthy 1\n"
      "# HELP crucible_step The last completed validator step.\n"
      "# TYPE crucible_step gauge\n"
      "crucible_step 3\n"
      "# HELP crucible_block The chain block of the last completed step.\n"
      "# TYPE crucible_block gauge\n"
      "crucible_block 1234\n"
      "# HELP crucible_last_step_timestamp_seconds Unix time at which the last step completed.\n"
      "# TYPE crucible_last_step_timestamp_seconds gauge\n"
      "crucible_last_step_timestamp_seconds 1700000000.5\n"
      "# HELP crucible_step_seconds Duration of the last completed step in seconds.\n"
      "# TYPE crucible_step_seconds gauge\n"
      "crucible_step_seconds 1.5\n"
      "# HELP crucible_models_evaluated_total Models evaluated since the validator started.\n"
      "# TYPE crucible_models_evaluated_total counter\n"
      "crucible_models_evaluated_total 17\n"
      "# HELP crucible_model_failures_total Model downloads and evaluations that failed, by "
      "reason.\n"
      "# TYPE crucible_model_failures_total counter\n"
      "crucible_model_failures_total{reason=\"refused\"} 1\n"
      "crucible_model_failures_total{reason=\"timeout\"} 2\n"
      "# HELP crucible_queue_size Models waiting for evaluation (pending) and being evaluated "
      "(active).\n"
      "# TYPE crucible_queue_size gauge\n"
      "crucible_queue_size{queue=\"pending\"} 4\n"
      "crucible_queue_size{queue=\"active\"} 2\n"
      "# HELP crucible_weights_block The block at which the last weights were computed.\n"
      "# TYPE crucible_weights_block gauge\n"
      "crucible_weights_block 1200\n"
      "# HELP crucible_chain_age_seconds Seconds since the chain data was last known current.\n"
      "# TYPE crucible_chain_age_seconds gauge\n"
      "crucible_chain_age_seconds 0\n"
      "# HELP crucible_chain_stale_after_seconds The chain age after which it counts as stale "
      "(0: never).\n"
      "# TYPE crucible_chain_stale_after_seconds gauge\n"
      "crucible_chain_stale_after_seconds 0\n"
      "# HELP crucible_chain_stale 1 while the chain data is stale: no weights are set and "
      "/healthz is 503.\n"
      "# TYPE crucible_chain_stale gauge\n"
      "crucible_chain_stale 0\n"
      "# HELP crucible_chain_read_error_info 1, labelled with the latest chain read error, while "
      "there is one.\n"
      "# TYPE crucible_chain_read_error_info gauge\n";
  EXPECT_EQ(metrics.prometheus_text(), expected);
}

TEST(ValidatorMetrics, FreshMetricsHaveNoFailureOrWeightsSamples) {
  ValidatorMetrics metrics;
  const std::string text = metrics.prometheus_text();
  EXPECT_EQ(samples(text, "crucible_started"), std::vector<std::string>{"crucible_started 0"});
  EXPECT_EQ(samples(text, "crucible_step"), std::vector<std::string>{"crucible_step 0"});
  EXPECT_TRUE(samples(text, "crucible_model_failures_total").empty());
  EXPECT_TRUE(samples(text, "crucible_weights_block").empty());
  EXPECT_NE(text.find("# TYPE crucible_model_failures_total counter\n"), std::string::npos);
  metrics.set_problem("step", "the last step failed: x");
  EXPECT_FALSE(metrics.healthy());
  EXPECT_EQ(metrics.problems(), std::vector<std::string>{"the last step failed: x"});
  EXPECT_EQ(samples(metrics.prometheus_text(), "crucible_healthy"),
            std::vector<std::string>{"crucible_healthy 0"});
}

TEST(ValidatorMetrics, LabelValuesAreEscaped) {
  ValidatorMetrics metrics;
  metrics.add_failure("back\\slash \"quoted\"\nnext line");
  EXPECT_EQ(samples(metrics.prometheus_text(), "crucible_model_failures_total"),
            std::vector<std::string>{
                R"(crucible_model_failures_total{reason="back\\slash \"quoted\"\nnext line"} 1)"});
}

TEST(ValidatorMetrics, EmptyReasonIsUnknownAndReasonsAreCapped) {
  ValidatorMetrics metrics;
  metrics.add_failure("");
  for (size_t i = 1; i < ValidatorMetrics::kMaxFailureReasons; ++i) {
    metrics.add_failure("reason-" + std::to_string(i));
  }
  metrics.add_failure("late-1");
  metrics.add_failure("late-2");
  metrics.add_failure("reason-1");
  const std::vector<std::string> lines =
      samples(metrics.prometheus_text(), "crucible_model_failures_total");
  ASSERT_EQ(lines.size(), ValidatorMetrics::kMaxFailureReasons + 1);
  const auto has = [&lines](const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  };
  EXPECT_TRUE(has(R"(crucible_model_failures_total{reason="unknown"} 1)"));
  EXPECT_TRUE(has(R"(crucible_model_failures_total{reason="other"} 2)"));
  EXPECT_TRUE(has(R"(crucible_model_failures_total{reason="reason-1"} 2)"));
  EXPECT_FALSE(has(R"(crucible_model_failures_total{reason="late-1"} 1)"));
}

TEST(ValidatorMetrics, NonFiniteStepSecondsUsePrometheusSpelling) {
  ValidatorMetrics metrics;
  metrics.record_step(1, 10, kNaN, 0);
  EXPECT_EQ(samples(metrics.prometheus_text(), "crucible_step_seconds"),
            std::vector<std::string>{"crucible_step_seconds NaN"});
  metrics.record_step(2, 11, kInf, 0);
  EXPECT_EQ(samples(metrics.prometheus_text(), "crucible_step_seconds"),
            std::vector<std::string>{"crucible_step_seconds +Inf"});
  metrics.record_step(3, 12, -kInf, 0);
  EXPECT_EQ(samples(metrics.prometheus_text(), "crucible_step_seconds"),
            std::vector<std::string>{"crucible_step_seconds -Inf"});
  metrics.record_step(4, 13, 0.1, 0);
  EXPECT_EQ(samples(metrics.prometheus_text(), "crucible_step_seconds"),
            std::vector<std::string>{"crucible_step_seconds 0.1"});
}

TEST(ValidatorMetrics, WeightsJsonWritesNonFiniteAsZero) {
  ValidatorMetrics metrics;
  EXPECT_EQ(metrics.weights_json(), R"({"block":null,"weights":[]})");
  metrics.set_weights(1200, {0.25, kNaN, kInf, -kInf, 0.75});
  EXPECT_EQ(metrics.weights_json(), R"({"block":1200,"weights":[0.25,0.0,0.0,0.0,0.75]})");
  metrics.set_weights(1300, {});
  EXPECT_EQ(metrics.weights_json(), R"({"block":1300,"weights":[]})");
}

TEST(ValidatorMetrics, ConcurrentUpdatesAreAllCounted) {
  ValidatorMetrics metrics;
  constexpr int kThreads = 4, kIterations = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < kIterations; ++i) {
        metrics.record_step(i, 1000 + i, 0.5, 3);
        metrics.add_failure(t % 2 ? "timeout" : "crashed");
        metrics.set_queue_sizes(i, t);
        metrics.set_weights(i, {0.5, 0.5});
        EXPECT_FALSE(metrics.prometheus_text().empty());
        EXPECT_FALSE(metrics.weights_json().empty());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::string text = metrics.prometheus_text();
  EXPECT_EQ(samples(text, "crucible_models_evaluated_total"),
            std::vector<std::string>{"crucible_models_evaluated_total 6000"});
  EXPECT_EQ(samples(text, "crucible_model_failures_total"),
            (std::vector<std::string>{R"(crucible_model_failures_total{reason="crashed"} 1000)",
                                      R"(crucible_model_failures_total{reason="timeout"} 1000)"}));
}

// The metrics.jsonl line holds the step's seconds and queue sizes, keeps each
// model's failure reason, shortened, and stays valid JSON whatever bytes the
// reason holds.
TEST(StepMetricsLine, ReasonsAreKeptShortenedAndValidUtf8) {
  StepReport report;
  report.step = 3;
  report.seconds = 2.5;
  report.pending = 6;
  report.active = 2;
  report.rows.push_back({1, "hk1", "-", "ok", "", 0.5, 1.0, 1.0, kNaN, 1.0});
  report.rows.push_back({2, "hk2", "-", "failed", "bad \xff\xfe bytes", kInf, 0, 0, 0.1, 0});
  report.rows.push_back({3, "hk3", "-", "failed", std::string(1000, 'x'), kInf, 0, 0, 0.1, 0});
  const nlohmann::json line = nlohmann::json::parse(step_metrics_line(report));
  EXPECT_EQ(line["step"], 3);
  EXPECT_EQ(line["seconds"], 2.5);
  EXPECT_EQ(line["pending"], 6);
  EXPECT_EQ(line["active"], 2);
  EXPECT_EQ(line["models"][0]["reason"], "");
  EXPECT_EQ(line["models"][0]["ema"], nullptr);
  EXPECT_EQ(line["models"][1]["reason"], "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
  EXPECT_EQ(line["models"][1]["mean_loss"], nullptr);
  EXPECT_EQ(line["models"][2]["reason"], std::string(298, 'x') + "..");
}

}  // namespace
}  // namespace crucible
