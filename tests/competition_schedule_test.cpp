#include "crucible/validator/competition_schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "crucible/engine/scoring/quantile_levels.h"

namespace crucible {
namespace {

using nlohmann::json;

// The repository root: from the build's definition when it gives one, else
// from this file's path.
std::string source_dir() {
#ifdef CRUCIBLE_SOURCE_DIR
  return CRUCIBLE_SOURCE_DIR;
#else
  const std::string file = __FILE__;
  return file.substr(0, file.rfind("/tests/"));
#endif
}

// The ConfigError message of parsing `document`, or "" when it parses.
std::string error_of(const json& document) {
  try {
    CompetitionSchedule::from_json(document, "test.json");
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

// Parsing `document` must fail at exactly `path`, with a reason containing `reason`.
void expect_rejected(const json& document, const std::string& path, const std::string& reason) {
  const std::string message = error_of(document);
  const std::string prefix = "test.json: " + path + ": ";
  EXPECT_EQ(message.compare(0, prefix.size(), prefix), 0) << "message: " << message;
  EXPECT_NE(message.find(reason, prefix.size()), std::string::npos) << "message: " << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "message: " << message;
}

// "$.a[0].b" for the JSON pointer "/a/0/b" whose keys are identifiers.
std::string json_path(const std::string& pointer) {
  std::string path = "$";
  std::istringstream tokens(pointer.substr(1));
  std::string token;
  while (std::getline(tokens, token, '/')) {
    const bool index = std::all_of(token.begin(), token.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c));
    });
    path += index ? "[" + token + "]" : "." + token;
  }
  return path;
}

// The smallest valid document: only the required keys.
json minimal_document() {
  return json::parse(R"({"schedule": [{"start_block": 0, "competitions": [
      {"id": 0, "reward_share": 1.0, "tasks": [{}]}]}]})");
}

// A valid document that spells out every section, for the range cases.
json full_document() { return CompetitionSchedule::builtin_default().to_json(); }

void expect_same(const TaskConfig& a, const TaskConfig& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.dataset, b.dataset);
  EXPECT_EQ(a.quantiles, b.quantiles);
  EXPECT_EQ(a.series, b.series);
  EXPECT_EQ(a.length, b.length);
  EXPECT_EQ(a.batch_size, b.batch_size);
  EXPECT_EQ(a.samples_per_kernel, b.samples_per_kernel);
  EXPECT_EQ(a.group_targets, b.group_targets);
  EXPECT_EQ(a.past_covariates, b.past_covariates);
  EXPECT_EQ(a.known_covariates, b.known_covariates);
  EXPECT_EQ(a.metric, b.metric);
  EXPECT_EQ(a.weight, b.weight);
}

void expect_same(const CompetitionConfig& a, const CompetitionConfig& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.reward_share, b.reward_share);
  EXPECT_EQ(a.max_file_bytes, b.max_file_bytes);
  EXPECT_EQ(a.max_parameters, b.max_parameters);
  ASSERT_EQ(a.tasks.size(), b.tasks.size());
  for (size_t i = 0; i < a.tasks.size(); ++i) expect_same(a.tasks[i], b.tasks[i]);
  EXPECT_EQ(a.ema_alpha, b.ema_alpha);
  EXPECT_EQ(a.ema_alpha_init, b.ema_alpha_init);
  EXPECT_EQ(a.ema_baseline, b.ema_baseline);
  EXPECT_EQ(a.sample_min, b.sample_min);
  EXPECT_EQ(a.rewards.strategy, b.rewards.strategy);
  EXPECT_EQ(a.rewards.temperature, b.rewards.temperature);
  EXPECT_EQ(a.rewards.decay, b.rewards.decay);
  EXPECT_EQ(a.rewards.exponent, b.rewards.exponent);
  EXPECT_EQ(a.rewards.first_place_boost, b.rewards.first_place_boost);
  EXPECT_EQ(a.rewards.min_weight, b.rewards.min_weight);
  EXPECT_EQ(a.epsilon.enabled, b.epsilon.enabled);
  EXPECT_EQ(a.epsilon.start, b.epsilon.start);
  EXPECT_EQ(a.epsilon.end, b.epsilon.end);
  EXPECT_EQ(a.epsilon.decay_blocks, b.epsilon.decay_blocks);
  EXPECT_EQ(a.copy_penalty.enabled, b.copy_penalty.enabled);
  EXPECT_EQ(a.copy_penalty.penalty, b.copy_penalty.penalty);
}

void expect_same(const CompetitionSchedule& a, const CompetitionSchedule& b) {
  ASSERT_EQ(a.entries().size(), b.entries().size());
  for (size_t i = 0; i < a.entries().size(); ++i) {
    EXPECT_EQ(a.entries()[i].start_block, b.entries()[i].start_block);
    ASSERT_EQ(a.entries()[i].competitions.size(), b.entries()[i].competitions.size());
    for (size_t j = 0; j < a.entries()[i].competitions.size(); ++j) {
      expect_same(a.entries()[i].competitions[j], b.entries()[i].competitions[j]);
    }
  }
}

TEST(ScheduleDefault, BuiltinDefaultIsOneUnivariateCompetition) {
  const CompetitionSchedule schedule = CompetitionSchedule::builtin_default();
  ASSERT_EQ(schedule.entries().size(), 1u);
  EXPECT_EQ(schedule.entries()[0].start_block, 0);
  const std::vector<CompetitionConfig>& active = schedule.active_at(0);
  ASSERT_EQ(active.size(), 1u);
  const CompetitionConfig& competition = active[0];
  EXPECT_EQ(competition.id, 0);
  EXPECT_EQ(competition.name, "univariate");
  EXPECT_EQ(competition.reward_share, 1.0);
  EXPECT_EQ(competition.max_file_bytes, 52428800);
  EXPECT_EQ(competition.max_parameters, 10000000);
  EXPECT_EQ(competition.sample_min, 10);
  EXPECT_EQ(competition.ema_alpha, 0.2);
  EXPECT_EQ(competition.ema_alpha_init, 0.2);
  EXPECT_EQ(competition.ema_baseline, 0.0);
  EXPECT_EQ(competition.rewards.strategy, RewardStrategy::kSoftmax);
  EXPECT_EQ(competition.rewards.temperature, 0.1);
  EXPECT_FALSE(competition.epsilon.enabled);
  EXPECT_FALSE(competition.copy_penalty.enabled);
  ASSERT_EQ(competition.tasks.size(), 1u);
  const TaskConfig& task = competition.tasks[0];
  EXPECT_EQ(task.name, "synthetic-gp");
  EXPECT_EQ(task.dataset, "synthetic");
  EXPECT_EQ(task.quantiles, default_quantile_levels());
  EXPECT_EQ(task.series, 100);
  EXPECT_EQ(task.length, 1024);
  EXPECT_EQ(task.batch_size, 100);
  EXPECT_EQ(task.samples_per_kernel, 50);
  EXPECT_EQ(task.metric, "crps");
  EXPECT_EQ(task.weight, 1.0);
  EXPECT_EQ(&schedule.active_at(1'000'000'000), &active);
}

TEST(ScheduleDefault, OptionalKeysTakeTheStructDefaults) {
  const CompetitionSchedule parsed = CompetitionSchedule::from_json(minimal_document(), "min");
  expect_same(parsed, CompetitionSchedule::builtin_default());
  EXPECT_EQ(parsed.to_json(), CompetitionSchedule::builtin_default().to_json());
}

TEST(ScheduleDefault, ToJsonWritesEveryKey) {
  const json competition = full_document()["schedule"][0]["competitions"][0];
  for (const char* key : {"id", "name", "reward_share", "constraints", "tasks", "ema", "sample_min",
                          "rewards", "epsilon", "copy_penalty"}) {
    EXPECT_TRUE(competition.contains(key)) << key;
  }
  EXPECT_EQ(competition["constraints"].size(), 2u);
  EXPECT_EQ(competition["ema"].size(), 3u);
  EXPECT_EQ(competition["rewards"].size(), 6u);
  EXPECT_EQ(competition["epsilon"].size(), 4u);
  EXPECT_EQ(competition["copy_penalty"].size(), 2u);
  EXPECT_EQ(competition["tasks"][0].size(), 12u);
}

TEST(ScheduleRoundTrip, EveryFieldSurvivesToJsonAndBack) {
  json document = json::parse(R"({"schedule": [
    {"start_block": 7000, "competitions": [
      {"id": 3, "name": "long", "reward_share": 0.25,
       "constraints": {"max_file_bytes": 123, "max_parameters": 456},
       "tasks": [{"name": "a", "dataset": "/data/m4.npz", "quantiles": [0.25, 0.75], "series": 7,
                  "length": 2, "batch_size": 3, "samples_per_kernel": 1, "metric": "wql",
                  "weight": 0.125},
                 {"name": "b", "metric": "mse", "weight": 3, "group_targets": 2,
                  "past_covariates": 1, "known_covariates": 3}],
       "ema": {"alpha": 0.3, "alpha_init": 1, "baseline": -0.5}, "sample_min": 4,
       "rewards": {"strategy": "ranked_decay", "temperature": 0.7, "decay": 0.6, "exponent": 2.5,
                   "first_place_boost": 1.5, "min_weight": 0.05},
       "epsilon": {"enabled": true, "start": 0.02, "end": 0.001, "decay_blocks": 7200},
       "copy_penalty": {"enabled": true, "penalty": 0.0}},
      {"id": 0, "reward_share": 0.75, "tasks": [{"metric": "pinball"}],
       "rewards": {"strategy": "linear"}}]},
    {"start_block": 0, "competitions": [
      {"id": 1, "reward_share": 0.1, "tasks": [{"metric": "mae"}],
       "rewards": {"strategy": "softmax_all_neurons", "temperature": 0.05}}]}]})");
  const CompetitionSchedule original = CompetitionSchedule::from_json(document, "original");
  const std::string text = original.to_json().dump(2);
  const CompetitionSchedule again = CompetitionSchedule::from_json(json::parse(text), "again");
  expect_same(original, again);
  EXPECT_EQ(again.to_json(), original.to_json());

  // Spot checks that the values were read, not defaulted, on both sides.
  const CompetitionConfig& first = again.active_at(7000)[0];
  EXPECT_EQ(first.rewards.strategy, RewardStrategy::kRankedDecay);
  EXPECT_EQ(first.tasks[0].dataset, "/data/m4.npz");
  EXPECT_EQ(first.tasks[1].weight, 3.0);
  EXPECT_EQ(first.ema_baseline, -0.5);
  EXPECT_EQ(first.epsilon.decay_blocks, 7200);
  EXPECT_EQ(again.active_at(7000)[1].rewards.strategy, RewardStrategy::kLinear);
  EXPECT_EQ(again.active_at(0)[0].rewards.strategy, RewardStrategy::kSoftmaxAllNeurons);
}

TEST(ScheduleExample, ExampleFileLoads) {
  const CompetitionSchedule schedule =
      CompetitionSchedule::load(source_dir() + "/examples/schedule.json");
  ASSERT_EQ(schedule.entries().size(), 3u);
  ASSERT_EQ(schedule.active_at(4'999'999).size(), 1u);
  const std::vector<CompetitionConfig>& later = schedule.active_at(5'000'000);
  ASSERT_EQ(later.size(), 2u);
  EXPECT_DOUBLE_EQ(later[0].reward_share + later[1].reward_share, 1.0);
  EXPECT_EQ(later[0].tasks.size(), 2u);
  EXPECT_EQ(later[0].tasks[1].quantiles, (std::vector<double>{0.05, 0.25, 0.5, 0.75, 0.95}));
  EXPECT_EQ(later[1].rewards.strategy, RewardStrategy::kRankedDecay);
  EXPECT_TRUE(later[1].epsilon.enabled);
  // From block 6,000,000 the same two (other shares) and a grouped task.
  const std::vector<CompetitionConfig>& grouped = schedule.active_at(6'000'000);
  ASSERT_EQ(grouped.size(), 3u);
  EXPECT_DOUBLE_EQ(grouped[0].reward_share + grouped[1].reward_share + grouped[2].reward_share,
                   1.0);
  expect_same(grouped[0].tasks[1], later[0].tasks[1]);
  expect_same(grouped[1].tasks[0], later[1].tasks[0]);
  const TaskConfig& task = grouped[2].tasks[0];
  EXPECT_EQ(grouped[2].id, 2);
  EXPECT_EQ(task.series, 20);
  EXPECT_EQ(task.group_targets, 2);
  EXPECT_EQ(task.past_covariates, 1);
  EXPECT_EQ(task.known_covariates, 1);
}

TEST(ScheduleRejects, GroupsTooLargeOrOnARealDataset) {
  json document = full_document();
  json& task = document["schedule"][0]["competitions"][0]["tasks"][0];
  task["group_targets"] = 30;
  task["known_covariates"] = 35;
  const std::string path = "$.schedule[0].competitions[0].tasks[0].group_targets";
  expect_rejected(document, path, "must be <= 64, got 65");
  task["known_covariates"] = 1;
  task["dataset"] = "data.jsonl";
  expect_rejected(document, path, "synthetic dataset only");
}

TEST(ScheduleActiveAt, PicksTheLatestEntryStartedAtOrBeforeTheBlock) {
  // Written out of order: entries are sorted by start block after parsing.
  json document = json::parse(R"({"schedule": [
    {"start_block": 300, "competitions": [{"id": 3, "reward_share": 1, "tasks": [{}]}]},
    {"start_block": 100, "competitions": [{"id": 1, "reward_share": 1, "tasks": [{}]}]},
    {"start_block": 200, "competitions": [{"id": 2, "reward_share": 1, "tasks": [{}]}]}]})");
  const CompetitionSchedule schedule = CompetitionSchedule::from_json(document, "test.json");
  ASSERT_EQ(schedule.entries().size(), 3u);
  EXPECT_EQ(schedule.entries()[0].start_block, 100);
  EXPECT_EQ(schedule.entries()[2].start_block, 300);
  const auto active_id = [&](Block block) -> CompetitionId {
    const std::vector<CompetitionConfig>& active = schedule.active_at(block);
    return active.empty() ? -1 : active[0].id;
  };
  EXPECT_EQ(active_id(0), -1);  // before the first entry
  EXPECT_EQ(active_id(99), -1);
  EXPECT_TRUE(schedule.active_at(-5).empty());
  EXPECT_EQ(active_id(100), 1);  // exactly at a start
  EXPECT_EQ(active_id(199), 1);  // between
  EXPECT_EQ(active_id(200), 2);
  EXPECT_EQ(active_id(250), 2);
  EXPECT_EQ(active_id(300), 3);
  EXPECT_EQ(active_id(1'000'000'000'000), 3);  // after the last
}

TEST(ScheduleQuantiles, AreSortedAndDeduplicated) {
  json document = minimal_document();
  document["schedule"][0]["competitions"][0]["tasks"][0]["quantiles"] = {0.9, 0.1, 0.5, 0.1, 1};
  expect_rejected(document, "$.schedule[0].competitions[0].tasks[0].quantiles[4]", "(0, 1)");
  document["schedule"][0]["competitions"][0]["tasks"][0]["quantiles"] = {0.9, 0.1, 0.5, 0.1};
  const CompetitionSchedule schedule = CompetitionSchedule::from_json(document, "test.json");
  EXPECT_EQ(schedule.active_at(0)[0].tasks[0].quantiles, (std::vector<double>{0.1, 0.5, 0.9}));
}

TEST(ScheduleRejects, UnknownKeysAtEveryLevel) {
  const std::string competition = "$.schedule[0].competitions[0]";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/extra", "$.extra"},
      {"/schedule/0/blocks", "$.schedule[0].blocks"},
      {"/schedule/0/competitions/0/reward_shares", competition + ".reward_shares"},
      {"/schedule/0/competitions/0/constraints/max_bytes", competition + ".constraints.max_bytes"},
      {"/schedule/0/competitions/0/tasks/0/quantile", competition + ".tasks[0].quantile"},
      {"/schedule/0/competitions/0/ema/beta", competition + ".ema.beta"},
      {"/schedule/0/competitions/0/rewards/temp", competition + ".rewards.temp"},
      {"/schedule/0/competitions/0/epsilon/rate", competition + ".epsilon.rate"},
      {"/schedule/0/competitions/0/copy_penalty/on", competition + ".copy_penalty.on"},
      {"/schedule/0/competitions/0/a b", competition + "[\"a b\"]"},
  };
  for (const auto& [pointer, path] : cases) {
    json document = full_document();
    document[json::json_pointer(pointer)] = 1;
    expect_rejected(document, path, "unknown key");
  }
}

TEST(ScheduleRejects, WrongTypes) {
  const std::string competition = "$.schedule[0].competitions[0]";
  struct Case {
    std::string pointer;
    json value;
    std::string path;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"/schedule", json::object(), "$.schedule", "expected array, got object"},
      {"/schedule/0", 5, "$.schedule[0]", "expected object, got 5"},
      {"/schedule/0/start_block", "0", "$.schedule[0].start_block", "expected integer, got string"},
      {"/schedule/0/competitions/0/id", 1.5, competition + ".id", "expected integer, got 1.5"},
      {"/schedule/0/competitions/0/id", 1.0, competition + ".id", "expected integer"},
      {"/schedule/0/competitions/0/tasks/0/series", 100.5, competition + ".tasks[0].series",
       "expected integer"},
      {"/schedule/0/competitions/0/tasks/0/known_covariates", "1",
       competition + ".tasks[0].known_covariates", "expected integer, got string"},
      {"/schedule/0/competitions/0/tasks/0/past_covariates", 1.0,
       competition + ".tasks[0].past_covariates", "expected integer"},
      {"/schedule/0/competitions/0/reward_share", true, competition + ".reward_share",
       "expected number, got true"},
      {"/schedule/0/competitions/0/name", 3, competition + ".name", "expected string, got 3"},
      {"/schedule/0/competitions/0/epsilon/enabled", 1, competition + ".epsilon.enabled",
       "expected bool, got 1"},
      {"/schedule/0/competitions/0/rewards", json::array(), competition + ".rewards",
       "expected object, got array"},
      {"/schedule/0/competitions/0/tasks", json::object(), competition + ".tasks",
       "expected array, got object"},
      {"/schedule/0/competitions/0/tasks/0/quantiles/2", "0.3",
       competition + ".tasks[0].quantiles[2]", "expected number, got string"},
      {"/schedule/0/competitions/0/ema/baseline", nullptr, competition + ".ema.baseline",
       "expected number, got null"},
      {"/schedule/0/start_block", 18446744073709551615u, "$.schedule[0].start_block",
       "out of range"},
  };
  for (const Case& item : cases) {
    json document = full_document();
    document[json::json_pointer(item.pointer)] = item.value;
    expect_rejected(document, item.path, item.expected);
  }
  expect_rejected(json::array(), "$", "expected object, got array");
}

TEST(ScheduleRejects, MissingRequiredKeys) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/schedule", "$.schedule"},
      {"/schedule/0/start_block", "$.schedule[0].start_block"},
      {"/schedule/0/competitions", "$.schedule[0].competitions"},
      {"/schedule/0/competitions/0/id", "$.schedule[0].competitions[0].id"},
      {"/schedule/0/competitions/0/reward_share", "$.schedule[0].competitions[0].reward_share"},
      {"/schedule/0/competitions/0/tasks", "$.schedule[0].competitions[0].tasks"},
  };
  for (const auto& [pointer, path] : cases) {
    json document = full_document();
    const json::json_pointer location(pointer);
    document[location.parent_pointer()].erase(location.back());
    expect_rejected(document, path, "required key is missing");
  }
}

TEST(ScheduleRejects, OutOfRangeValues) {
  // {JSON pointer below the competition, bad value, expected reason}.
  struct Case {
    std::string pointer;
    json value;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"/reward_share", -0.1, "in [0, 1]"},
      {"/reward_share", 1.5, "in [0, 1]"},
      {"/id", -1, ">= 0"},
      {"/constraints/max_file_bytes", 0, ">= 1"},
      {"/constraints/max_parameters", -3, ">= 1"},
      {"/tasks/0/series", 0, ">= 1"},
      {"/tasks/0/length", 1, ">= 2"},
      {"/tasks/0/batch_size", 0, ">= 1"},
      {"/tasks/0/samples_per_kernel", 0, ">= 1"},
      {"/tasks/0/group_targets", 0, "in [1, 64]"},
      {"/tasks/0/group_targets", 65, "in [1, 64]"},
      {"/tasks/0/past_covariates", -1, "in [0, 64]"},
      {"/tasks/0/known_covariates", 65, "in [0, 64]"},
      {"/tasks/0/weight", 0, "> 0"},
      {"/tasks/0/quantiles/0", 0, "in (0, 1)"},
      {"/tasks/0/metric", "rmse", "one of crps, pinball, wql, mae, mse, got \"rmse\""},
      {"/tasks/0/name", "", "must not be empty"},
      {"/ema/alpha", 0, "in (0, 1]"},
      {"/ema/alpha_init", 1.01, "in (0, 1]"},
      {"/sample_min", 0, ">= 1"},
      {"/rewards/strategy", "greedy", "one of softmax, linear, ranked_decay, softmax_all_neurons"},
      {"/rewards/temperature", 0, "> 0"},
      {"/rewards/decay", 0, "in (0, 1]"},
      {"/rewards/decay", 1.1, "in (0, 1]"},
      {"/rewards/exponent", -1, "> 0"},
      {"/rewards/first_place_boost", 0.9, ">= 1"},
      {"/rewards/min_weight", 1, "in [0, 1)"},
      {"/epsilon/start", 1, "in [0, 1)"},
      {"/epsilon/end", -0.1, "in [0, 1)"},
      {"/epsilon/decay_blocks", -1, ">= 0"},
      {"/copy_penalty/penalty", 1.5, "in [0, 1]"},
  };
  for (const Case& item : cases) {
    json document = full_document();
    document[json::json_pointer("/schedule/0/competitions/0" + item.pointer)] = item.value;
    const std::string path = json_path("/schedule/0/competitions/0" + item.pointer);
    expect_rejected(document, path, item.expected);
  }
  json document = full_document();
  document["schedule"][0]["start_block"] = -1;
  expect_rejected(document, "$.schedule[0].start_block", ">= 0");
}

TEST(ScheduleRejects, RewardSharesSummingAboveOne) {
  json document = full_document();
  json second = document["schedule"][0]["competitions"][0];
  second["id"] = 1;
  second["reward_share"] = 0.3;
  document["schedule"][0]["competitions"][0]["reward_share"] = 0.7;
  document["schedule"][0]["competitions"].push_back(second);
  EXPECT_EQ(error_of(document), "");  // 0.7 + 0.3 is 1 up to rounding
  document["schedule"][0]["competitions"][1]["reward_share"] = 0.31;
  expect_rejected(document, "$.schedule[0].competitions", "reward shares sum to 1.01");
}

TEST(ScheduleRejects, EmptyLists) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/schedule", "$.schedule"},
      {"/schedule/0/competitions", "$.schedule[0].competitions"},
      {"/schedule/0/competitions/0/tasks", "$.schedule[0].competitions[0].tasks"},
      {"/schedule/0/competitions/0/tasks/0/quantiles",
       "$.schedule[0].competitions[0].tasks[0].quantiles"},
  };
  for (const auto& [pointer, path] : cases) {
    json document = full_document();
    document[json::json_pointer(pointer)] = json::array();
    expect_rejected(document, path, "must not be empty");
  }
}

TEST(ScheduleRejects, DuplicateCompetitionIds) {
  json document = full_document();
  json copy = document["schedule"][0]["competitions"][0];
  document["schedule"][0]["competitions"][0]["reward_share"] = 0.5;
  copy["reward_share"] = 0.5;
  document["schedule"][0]["competitions"].push_back(copy);
  expect_rejected(document, "$.schedule[0].competitions[1].id",
                  "duplicate competition id 0 (also at $.schedule[0].competitions[0])");
}

TEST(ScheduleRejects, DuplicateStartBlocks) {
  json document = full_document();
  json entry = document["schedule"][0];
  entry["start_block"] = 10;
  document["schedule"].push_back(entry);
  EXPECT_EQ(error_of(document), "");
  entry["start_block"] = 0;
  document["schedule"].push_back(entry);
  expect_rejected(document, "$.schedule[2].start_block",
                  "duplicate start block 0 (also at $.schedule[0])");
}

TEST(ScheduleRejects, UnreadableAndMalformedFiles) {
  const std::string missing = ::testing::TempDir() + "/no-such-schedule.json";
  try {
    CompetitionSchedule::load(missing);
    ADD_FAILURE() << "a missing file loaded";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()).rfind(missing + ": cannot open file", 0), 0u)
        << error.what();
  }

  const std::string malformed = ::testing::TempDir() + "/malformed-schedule.json";
  std::ofstream(malformed) << "{\"schedule\": [\n  {\"start_block\": 0,\n}";
  try {
    CompetitionSchedule::load(malformed);
    ADD_FAILURE() << "a malformed file loaded";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind(malformed + ": invalid JSON: ", 0), 0u) << message;
    EXPECT_NE(message.find("line 3"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }

  // A well-formed file with a bad value names the file as its source.
  const std::string invalid = ::testing::TempDir() + "/invalid-schedule.json";
  std::ofstream(invalid) << R"({"schedule": []})";
  EXPECT_THROW(
      {
        try {
          CompetitionSchedule::load(invalid);
        } catch (const ConfigError& error) {
          EXPECT_EQ(std::string(error.what()), invalid + ": $.schedule: must not be empty");
          throw;
        }
      },
      ConfigError);
}

}  // namespace
}  // namespace crucible
