// Parsing, checking and writing the competition schedule (docs/scoring.md sections
// 1 and 5). Every rejection is a ConfigError with the one-line message
// "<source>: <json path>: <reason>", the path written like
// $.schedule[0].competitions[1].tasks[0].quantiles[2].
#include "crucible/validator/competition_schedule.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <sstream>
#include <utility>

#include "crucible/common/files.h"
#include "crucible/engine/data/synthetic_gp.h"
#include "crucible/engine/scoring/quantile_levels.h"

namespace crucible {
namespace {

using nlohmann::json;

constexpr double kInf = std::numeric_limits<double>::infinity();

// The reward shares of one entry may exceed 1 by this much, so that shares
// such as 0.7 + 0.2 + 0.1 are not rejected for their rounding.
constexpr double kShareTolerance = 1e-9;

// The interval a value must lie in; an open end excludes its bound.
struct Bounds {
  double low = -kInf;
  bool low_open = false;
  double high = kInf;
  bool high_open = false;

  bool contains(double value) const {
    const bool above = low_open ? value > low : value >= low;
    const bool below = high_open ? value < high : value <= high;
    return above && below;
  }

  // "> 0", ">= 1" or "in (0, 1]".
  std::string describe() const {
    std::ostringstream text;
    if (high == kInf) {
      text << (low_open ? "> " : ">= ") << low;
    } else {
      text << "in " << (low_open ? '(' : '[') << low << ", " << high << (high_open ? ')' : ']');
    }
    return text.str();
  }
};

constexpr Bounds kAnyNumber{};
constexpr Bounds kNonNegative{0, false};
constexpr Bounds kPositive{0, true};
constexpr Bounds kAtLeastOne{1, false};
constexpr Bounds kAtLeastTwo{2, false};
constexpr Bounds kUnitInterval{0, false, 1, false};                 // [0, 1]
constexpr Bounds kUnitExcludingZero{0, true, 1, false};             // (0, 1]
constexpr Bounds kUnitExcludingOne{0, false, 1, true};              // [0, 1)
constexpr Bounds kOpenUnitInterval{0, true, 1, true};               // (0, 1)
constexpr Bounds kGroupTargets{1, false, kMaxGroupRows, false};     // [1, 64]
constexpr Bounds kGroupCovariates{0, false, kMaxGroupRows, false};  // [0, 64]

constexpr const char* kMetrics[] = {"crps", "pinball", "wql", "mae", "mse"};

constexpr std::pair<RewardStrategy, const char*> kStrategies[] = {
    {RewardStrategy::kSoftmax, "softmax"},
    {RewardStrategy::kLinear, "linear"},
    {RewardStrategy::kRankedDecay, "ranked_decay"},
    {RewardStrategy::kSoftmaxAllNeurons, "softmax_all_neurons"},
};

const char* strategy_name(RewardStrategy strategy) {
  for (const auto& [value, name] : kStrategies) {
    if (value == strategy) return name;
  }
  return "softmax";  // only an out-of-range value made by a cast gets here
}

// A value as a message shows it: scalars in JSON notation (shortest form that
// reads back exactly), containers and strings by their type.
std::string describe(const json& value) {
  if (value.is_primitive() && !value.is_string()) return value.dump();
  return value.type_name();
}

// A string in JSON notation: quoted, escaped, so it stays on one line.
std::string json_string(const std::string& text) {
  return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string indexed(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

// path.key for identifier-like keys, path["key"] for any other key.
std::string member_path(const std::string& path, const std::string& key) {
  const auto word_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  };
  const bool identifier = !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0])) &&
                          std::all_of(key.begin(), key.end(), word_char);
  return identifier ? path + "." + key : path + "[" + json_string(key) + "]";
}

// One JSON object of the document: rejects keys outside the allowed set when
// constructed, then hands out typed and range-checked fields by name. Each
// field reader leaves `out` (its default) unchanged when an optional key is
// absent.
class ObjectReader {
 public:
  ObjectReader(const json& node, std::string path, const std::string& source,
               std::initializer_list<const char*> allowed)
      : node_(node), path_(std::move(path)), source_(source) {
    if (!node_.is_object()) fail(path_, "expected object, got " + describe(node_));
    for (const auto& item : node_.items()) {
      const auto same = [&](const char* key) { return item.key() == key; };
      if (std::none_of(allowed.begin(), allowed.end(), same)) {
        std::string names;
        for (const char* key : allowed) names += std::string(names.empty() ? "" : ", ") + key;
        fail(at(item.key()), "unknown key (allowed: " + names + ")");
      }
    }
  }

  const std::string& source() const { return source_; }
  std::string at(const std::string& key) const { return member_path(path_, key); }

  [[noreturn]] void fail(const std::string& path, const std::string& reason) const {
    throw ConfigError(source_ + ": " + path + ": " + reason);
  }

  // The value under `key`, or nullptr when it is absent and not required.
  const json* find(const char* key, bool required) const {
    const auto it = node_.find(key);
    if (it != node_.end()) return &*it;
    if (required) fail(at(key), "required key is missing");
    return nullptr;
  }

  // The array under `key` (nullptr when absent and not required).
  const json* array(const char* key, bool required) const {
    const json* value = find(key, required);
    if (value != nullptr && !value->is_array()) {
      fail(at(key), "expected array, got " + describe(*value));
    }
    return value;
  }

  void integer(const char* key, int64_t& out, const Bounds& bounds, bool required = false) const {
    if (const json* value = find(key, required)) out = as_integer(*value, at(key), bounds);
  }

  void number(const char* key, double& out, const Bounds& bounds, bool required = false) const {
    if (const json* value = find(key, required)) out = as_number(*value, at(key), bounds);
  }

  void boolean(const char* key, bool& out) const {
    const json* value = find(key, false);
    if (value == nullptr) return;
    if (!value->is_boolean()) fail(at(key), "expected bool, got " + describe(*value));
    out = value->get<bool>();
  }

  // A non-empty string.
  void text(const char* key, std::string& out) const {
    const json* value = find(key, false);
    if (value == nullptr) return;
    if (!value->is_string()) fail(at(key), "expected string, got " + describe(*value));
    if (value->get_ref<const std::string&>().empty()) fail(at(key), "must not be empty");
    out = value->get<std::string>();
  }

  // An integer in a JSON integer literal: 1.5 and 2.0 are both rejected.
  int64_t as_integer(const json& value, const std::string& path, const Bounds& bounds) const {
    if (!value.is_number_integer()) fail(path, "expected integer, got " + describe(value));
    if (value.is_number_unsigned() &&
        value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail(path, "integer " + value.dump() + " is out of range");
    }
    const int64_t result = value.get<int64_t>();
    if (!bounds.contains(static_cast<double>(result))) {
      fail(path, "must be " + bounds.describe() + ", got " + value.dump());
    }
    return result;
  }

  // A finite number; an integer literal is accepted, a bool is not.
  double as_number(const json& value, const std::string& path, const Bounds& bounds) const {
    if (!value.is_number()) fail(path, "expected number, got " + describe(value));
    const double result = value.get<double>();
    // Only a document built in memory can hold these; dump() would print null.
    if (!std::isfinite(result)) fail(path, "must be a finite number");
    if (!bounds.contains(result)) {
      fail(path, "must be " + bounds.describe() + ", got " + value.dump());
    }
    return result;
  }

 private:
  const json& node_;
  std::string path_;
  const std::string& source_;
};

// The levels, each checked with its own path, then sorted and deduplicated.
std::vector<double> parse_quantiles(const ObjectReader& task, const json& list,
                                    const std::string& path) {
  if (list.empty()) task.fail(path, "must not be empty");
  std::vector<double> levels;
  for (size_t i = 0; i < list.size(); ++i) {
    levels.push_back(task.as_number(list[i], indexed(path, i), kOpenUnitInterval));
  }
  return normalize_quantile_levels(std::move(levels));
}

TaskConfig parse_task(const json& node, const std::string& path, const std::string& source) {
  const ObjectReader reader(
      node, path, source,
      {"name", "dataset", "quantiles", "series", "length", "batch_size", "samples_per_kernel",
       "group_targets", "past_covariates", "known_covariates", "metric", "weight"});
  TaskConfig task;
  task.quantiles = default_quantile_levels();
  reader.text("name", task.name);
  reader.text("dataset", task.dataset);
  if (const json* levels = reader.array("quantiles", false)) {
    task.quantiles = parse_quantiles(reader, *levels, reader.at("quantiles"));
  }
  reader.integer("series", task.series, kAtLeastOne);
  reader.integer("length", task.length, kAtLeastTwo);  // the input/target split needs two steps
  reader.integer("batch_size", task.batch_size, kAtLeastOne);
  reader.integer("samples_per_kernel", task.samples_per_kernel, kAtLeastOne);
  reader.integer("group_targets", task.group_targets, kGroupTargets);
  reader.integer("past_covariates", task.past_covariates, kGroupCovariates);
  reader.integer("known_covariates", task.known_covariates, kGroupCovariates);
  const int64_t group_rows = task.group_targets + task.past_covariates + task.known_covariates;
  if (group_rows > kMaxGroupRows) {
    reader.fail(reader.at("group_targets"),
                "group_targets + past_covariates + known_covariates must be <= " +
                    std::to_string(kMaxGroupRows) + ", got " + std::to_string(group_rows));
  }
  if (group_rows > 1 && task.dataset != "synthetic") {
    reader.fail(reader.at("group_targets"),
                "group_targets, past_covariates and known_covariates apply to the synthetic "
                "dataset only (a real dataset's records give their groups)");
  }
  reader.text("metric", task.metric);
  const auto same = [&](const char* metric) { return task.metric == metric; };
  if (std::none_of(std::begin(kMetrics), std::end(kMetrics), same)) {
    reader.fail(reader.at("metric"),
                "must be one of crps, pinball, wql, mae, mse, got " + json_string(task.metric));
  }
  reader.number("weight", task.weight, kPositive);
  return task;
}

void parse_rewards(const ObjectReader& reader, const json& node, RewardConfig& rewards) {
  const ObjectReader section(
      node, reader.at("rewards"), reader.source(),
      {"strategy", "temperature", "decay", "exponent", "first_place_boost", "min_weight"});
  std::string name = strategy_name(rewards.strategy);
  section.text("strategy", name);
  const auto match = std::find_if(std::begin(kStrategies), std::end(kStrategies),
                                  [&](const auto& entry) { return name == entry.second; });
  if (match == std::end(kStrategies)) {
    section.fail(section.at("strategy"),
                 "must be one of softmax, linear, ranked_decay, softmax_all_neurons, got " +
                     json_string(name));
  }
  rewards.strategy = match->first;
  section.number("temperature", rewards.temperature, kPositive);
  section.number("decay", rewards.decay, kUnitExcludingZero);
  section.number("exponent", rewards.exponent, kPositive);
  section.number("first_place_boost", rewards.first_place_boost, kAtLeastOne);
  section.number("min_weight", rewards.min_weight, kUnitExcludingOne);
}

// The optional sections of a competition; each may be absent or partial.
void parse_sections(const ObjectReader& reader, CompetitionConfig& competition) {
  const std::string& source = reader.source();
  if (const json* node = reader.find("constraints", false)) {
    const ObjectReader section(*node, reader.at("constraints"), source,
                               {"max_file_bytes", "max_parameters"});
    section.integer("max_file_bytes", competition.max_file_bytes, kAtLeastOne);
    section.integer("max_parameters", competition.max_parameters, kAtLeastOne);
  }
  if (const json* node = reader.find("ema", false)) {
    const ObjectReader section(*node, reader.at("ema"), source,
                               {"alpha", "alpha_init", "baseline"});
    section.number("alpha", competition.ema_alpha, kUnitExcludingZero);
    section.number("alpha_init", competition.ema_alpha_init, kUnitExcludingZero);
    section.number("baseline", competition.ema_baseline, kAnyNumber);
  }
  if (const json* node = reader.find("rewards", false)) {
    parse_rewards(reader, *node, competition.rewards);
  }
  if (const json* node = reader.find("epsilon", false)) {
    const ObjectReader section(*node, reader.at("epsilon"), source,
                               {"enabled", "start", "end", "decay_blocks"});
    section.boolean("enabled", competition.epsilon.enabled);
    section.number("start", competition.epsilon.start, kUnitExcludingOne);
    section.number("end", competition.epsilon.end, kUnitExcludingOne);
    section.integer("decay_blocks", competition.epsilon.decay_blocks, kNonNegative);
  }
  if (const json* node = reader.find("copy_penalty", false)) {
    const ObjectReader section(*node, reader.at("copy_penalty"), source, {"enabled", "penalty"});
    section.boolean("enabled", competition.copy_penalty.enabled);
    section.number("penalty", competition.copy_penalty.penalty, kUnitInterval);
  }
}

CompetitionConfig parse_competition(const json& node, const std::string& path,
                                    const std::string& source) {
  const ObjectReader reader(node, path, source,
                            {"id", "name", "reward_share", "constraints", "tasks", "ema",
                             "sample_min", "rewards", "epsilon", "copy_penalty"});
  CompetitionConfig competition;
  reader.integer("id", competition.id, kNonNegative, true);
  reader.text("name", competition.name);
  reader.number("reward_share", competition.reward_share, kUnitInterval, true);
  const json& tasks = *reader.array("tasks", true);
  if (tasks.empty()) reader.fail(reader.at("tasks"), "must not be empty");
  for (size_t i = 0; i < tasks.size(); ++i) {
    competition.tasks.push_back(parse_task(tasks[i], indexed(reader.at("tasks"), i), source));
  }
  reader.integer("sample_min", competition.sample_min, kAtLeastOne);
  parse_sections(reader, competition);
  return competition;
}

ScheduleEntry parse_entry(const json& node, const std::string& path, const std::string& source) {
  const ObjectReader reader(node, path, source, {"start_block", "competitions"});
  ScheduleEntry entry;
  reader.integer("start_block", entry.start_block, kNonNegative, true);
  const json& list = *reader.array("competitions", true);
  const std::string list_path = reader.at("competitions");
  if (list.empty()) reader.fail(list_path, "must not be empty");
  double share_sum = 0.0;
  for (size_t i = 0; i < list.size(); ++i) {
    CompetitionConfig competition = parse_competition(list[i], indexed(list_path, i), source);
    for (size_t j = 0; j < i; ++j) {
      if (entry.competitions[j].id == competition.id) {
        reader.fail(indexed(list_path, i) + ".id", "duplicate competition id " +
                                                       std::to_string(competition.id) +
                                                       " (also at " + indexed(list_path, j) + ")");
      }
    }
    share_sum += competition.reward_share;
    entry.competitions.push_back(std::move(competition));
  }
  if (share_sum > 1.0 + kShareTolerance) {
    reader.fail(list_path, "reward shares sum to " + json(share_sum).dump() + ", more than 1");
  }
  return entry;
}

json task_to_json(const TaskConfig& task) {
  return {{"name", task.name},
          {"dataset", task.dataset},
          {"quantiles", task.quantiles},
          {"series", task.series},
          {"length", task.length},
          {"batch_size", task.batch_size},
          {"samples_per_kernel", task.samples_per_kernel},
          {"group_targets", task.group_targets},
          {"past_covariates", task.past_covariates},
          {"known_covariates", task.known_covariates},
          {"metric", task.metric},
          {"weight", task.weight}};
}

json competition_to_json(const CompetitionConfig& competition) {
  json tasks = json::array();
  for (const TaskConfig& task : competition.tasks) tasks.push_back(task_to_json(task));
  const RewardConfig& rewards = competition.rewards;
  return {{"id", competition.id},
          {"name", competition.name},
          {"reward_share", competition.reward_share},
          {"constraints",
           {{"max_file_bytes", competition.max_file_bytes},
            {"max_parameters", competition.max_parameters}}},
          {"tasks", std::move(tasks)},
          {"ema",
           {{"alpha", competition.ema_alpha},
            {"alpha_init", competition.ema_alpha_init},
            {"baseline", competition.ema_baseline}}},
          {"sample_min", competition.sample_min},
          {"rewards",
           {{"strategy", strategy_name(rewards.strategy)},
            {"temperature", rewards.temperature},
            {"decay", rewards.decay},
            {"exponent", rewards.exponent},
            {"first_place_boost", rewards.first_place_boost},
            {"min_weight", rewards.min_weight}}},
          {"epsilon",
           {{"enabled", competition.epsilon.enabled},
            {"start", competition.epsilon.start},
            {"end", competition.epsilon.end},
            {"decay_blocks", competition.epsilon.decay_blocks}}},
          {"copy_penalty",
           {{"enabled", competition.copy_penalty.enabled},
            {"penalty", competition.copy_penalty.penalty}}}};
}

// nlohmann's messages may span lines; a ConfigError is one line.
std::string one_line(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  return text;
}

}  // namespace

CompetitionSchedule CompetitionSchedule::builtin_default() {
  TaskConfig task;
  task.quantiles = default_quantile_levels();
  CompetitionConfig competition;
  competition.tasks.push_back(std::move(task));
  ScheduleEntry entry;
  entry.competitions.push_back(std::move(competition));
  CompetitionSchedule schedule;
  schedule.entries_.push_back(std::move(entry));
  return schedule;
}

CompetitionSchedule CompetitionSchedule::from_json(const nlohmann::json& document,
                                                   const std::string& source) {
  const ObjectReader root(document, "$", source, {"schedule"});
  const json& list = *root.array("schedule", true);
  const std::string list_path = root.at("schedule");
  if (list.empty()) root.fail(list_path, "must not be empty");
  CompetitionSchedule schedule;
  for (size_t i = 0; i < list.size(); ++i) {
    ScheduleEntry entry = parse_entry(list[i], indexed(list_path, i), source);
    for (size_t j = 0; j < i; ++j) {
      if (schedule.entries_[j].start_block == entry.start_block) {
        root.fail(indexed(list_path, i) + ".start_block",
                  "duplicate start block " + std::to_string(entry.start_block) + " (also at " +
                      indexed(list_path, j) + ")");
      }
    }
    schedule.entries_.push_back(std::move(entry));
  }
  std::sort(
      schedule.entries_.begin(), schedule.entries_.end(),
      [](const ScheduleEntry& a, const ScheduleEntry& b) { return a.start_block < b.start_block; });
  return schedule;
}

CompetitionSchedule CompetitionSchedule::load(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::runtime_error& error) {
    throw ConfigError(error.what());
  }
  return parse(text, path);
}

CompetitionSchedule CompetitionSchedule::parse(const std::string& text, const std::string& source) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::exception& error) {  // parse_error, or out_of_range for 1e999
    throw ConfigError(source + ": invalid JSON: " + one_line(error.what()));
  }
  return from_json(document, source);
}

const std::vector<CompetitionConfig>& CompetitionSchedule::active_at(Block block) const {
  static const std::vector<CompetitionConfig> kNone;
  const auto after = std::upper_bound(
      entries_.begin(), entries_.end(), block,
      [](Block value, const ScheduleEntry& entry) { return value < entry.start_block; });
  return after == entries_.begin() ? kNone : std::prev(after)->competitions;
}

nlohmann::json CompetitionSchedule::to_json() const {
  json list = json::array();
  for (const ScheduleEntry& entry : entries_) {
    json competitions = json::array();
    for (const CompetitionConfig& competition : entry.competitions) {
      competitions.push_back(competition_to_json(competition));
    }
    list.push_back({{"start_block", entry.start_block}, {"competitions", std::move(competitions)}});
  }
  return {{"schedule", std::move(list)}};
}

}  // namespace crucible
