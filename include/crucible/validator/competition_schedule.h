// Competitions, their tasks and the schedule that says which are active at a
// block (docs/scoring.md sections 1 and 5). Loaded from JSON with strict checks.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "crucible/validator/types.h"

namespace crucible {

// One evaluation task of a competition.
struct TaskConfig {
  std::string name = "synthetic-gp";
  std::string dataset = "synthetic";  // "synthetic", or a path to a real dataset
  std::vector<double> quantiles;      // sorted, deduplicated, each in (0, 1)
  int64_t series = 100;               // S
  int64_t length = 1024;              // L
  int64_t batch_size = 100;
  int64_t samples_per_kernel = 50;
  // Rows per group of a synthetic task; `series` then counts groups. The
  // defaults are the univariate task.
  int64_t group_targets = 1;     // [1, 64]
  int64_t past_covariates = 0;   // [0, 64], past-only covariates
  int64_t known_covariates = 0;  // [0, 64], future values given
  std::string metric = "crps";   // crps, pinball, wql, mae, mse
  double weight = 1.0;           // > 0
};

enum class RewardStrategy { kSoftmax, kLinear, kRankedDecay, kSoftmaxAllNeurons };

// How EMA scores become a competition's weights (docs/scoring.md section 5).
struct RewardConfig {
  RewardStrategy strategy = RewardStrategy::kSoftmax;
  double temperature = 0.1;        // softmax: exp(ema / temperature), > 0
  double decay = 0.9;              // ranked decay: decay^rank, in (0, 1]
  double exponent = 1.0;           // weights^exponent then renormalise; 1 = off; > 0
  double first_place_boost = 1.0;  // top uid's weight x boost then renormalise; 1 = off; >= 1
  double min_weight = 0.0;  // floor for every rewarded uid then renormalise; 0 = off; in [0, 1)
};

// Optional anti-gaming rule: a later model must beat every earlier model's
// mean loss by a factor (1 - epsilon). Epsilon goes linearly from `start` to
// `end` over `decay_blocks` blocks since the earlier model's block (fixed when
// decay_blocks is 0).
struct EpsilonConfig {
  bool enabled = false;
  double start = 0.005;  // in [0, 1)
  double end = 0.005;    // in [0, 1)
  int64_t decay_blocks = 0;
};

// Optional anti-gaming rule: identical content hashes, all but the earliest
// submission get score x penalty.
struct CopyPenaltyConfig {
  bool enabled = false;
  double penalty = 0.5;  // in [0, 1]
};

struct CompetitionConfig {
  CompetitionId id = 0;
  std::string name = "univariate";
  double reward_share = 1.0;            // fraction of emissions, in [0, 1]
  int64_t max_file_bytes = 50 << 20;    // model constraints, > 0
  int64_t max_parameters = 10'000'000;  // > 0
  std::vector<TaskConfig> tasks;        // at least one
  double ema_alpha = 0.2;               // in (0, 1]
  double ema_alpha_init = 0.2;          // in (0, 1]
  double ema_baseline = 0.0;
  int64_t sample_min = 10;  // models kept for the next step, >= 1
  RewardConfig rewards;
  EpsilonConfig epsilon;
  CopyPenaltyConfig copy_penalty;
};

// The competitions active from `start_block` on.
struct ScheduleEntry {
  Block start_block = 0;
  std::vector<CompetitionConfig> competitions;  // distinct ids, shares summing to <= 1
};

class CompetitionSchedule {
 public:
  // Competition 0 (univariate) from block 0, reward share 1.0, one task:
  // synthetic GP series, L = 1024, S = 100, quantiles 0.1..0.9, CRPS, weight 1.
  static CompetitionSchedule builtin_default();

  // Parses the document (see examples/schedule.json). `source` names it in
  // errors. Throws ConfigError for unknown keys, wrong types, out-of-range
  // values, duplicate start blocks or competition ids, shares summing to > 1,
  // an empty schedule; the message names the JSON path.
  static CompetitionSchedule from_json(const nlohmann::json& document, const std::string& source);

  // Parses the text of a schedule document: from_json, and ConfigError
  // "<source>: invalid JSON: ..." (one line) for text that is not JSON (a
  // syntax error, or a number too large for a double).
  static CompetitionSchedule parse(const std::string& text, const std::string& source);

  // Reads and parses a file; throws ConfigError naming the file (also for
  // unreadable files and JSON syntax errors).
  static CompetitionSchedule load(const std::string& path);

  // The competitions of the entry with the largest start block <= block, or
  // an empty list when the schedule starts later.
  const std::vector<CompetitionConfig>& active_at(Block block) const;

  const std::vector<ScheduleEntry>& entries() const { return entries_; }  // by start block

  // The document from_json() accepts, with every default written out.
  nlohmann::json to_json() const;

 private:
  std::vector<ScheduleEntry> entries_;
};

}  // namespace crucible
