// The validator's step loop, wiring only: each step picks the next active
// competition (round-robin), moves its pending uids to active, evaluates
// their installed models on the round seed's data (RoundEvaluator), scores
// the step (score_step), saves the state, then prints the step's table and
// appends one line to <state-dir>/metrics.jsonl. Background services (model
// manager, weight setter, status server) are started by the caller. The
// model manager's excluded uids are never evaluated nor weighted, whatever
// the saved state holds.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "crucible/validator/chain.h"
#include "crucible/validator/competition_schedule.h"
#include "crucible/validator/log.h"
#include "crucible/validator/model_manager.h"
#include "crucible/validator/round_evaluator.h"
#include "crucible/validator/state_store.h"
#include "crucible/validator/validator_metrics.h"
#include "crucible/validator/validator_state.h"

namespace crucible {

struct ValidatorOptions {
  std::string state_dir;           // metrics.jsonl lives here (the state in state_dir/state)
  int64_t max_steps = 0;           // steps that evaluated a model; 0 = until stopped
  double idle_poll_seconds = 2.0;  // wait when no model is queued
  Block seed_cadence = 150;        // the seed comes from the last multiple of this
  double subnet_weight_threshold = 0.0;
  int64_t version_key = 1;
};

class Validator {
 public:
  // Everything is borrowed and must outlive the validator.
  Validator(std::shared_ptr<Chain> chain, ModelManager& models, RoundEvaluator& evaluator,
            const CompetitionSchedule& schedule, ValidatorState& state, StateStore& store,
            ValidatorMetrics& metrics, ValidatorOptions options, Log log);

  // Runs steps until `stop` is set or max_steps steps evaluated a model;
  // returns the number of those steps. A step that throws (chain unreadable,
  // data not built) is logged, marks the metrics unhealthy until a step
  // succeeds, and the loop goes on.
  int64_t run(const std::atomic<bool>& stop);

  // One step; true when it evaluated at least one model. Step numbers go on
  // from the larger of metrics.jsonl's last step and the saved state's step.
  // Once the step is scored, its number is used: a save that fails throws
  // ("state of step N not saved ...") with the step's update kept in memory
  // for the next save; a metrics.jsonl line that cannot be written throws
  // ("step N saved but not logged: ...").
  bool step();

  // The subnet weights the state holds now (for the WeightSetter); nullopt
  // while no competition has weights.
  std::optional<WeightsSubmission> current_weights();

  // The step evaluating models now, e.g. "step 4 (competition 0, 3 models,
  // running for 12 s)"; empty when none. Thread-safe (for a stop request).
  std::string step_in_progress() const;

 private:
  struct StepProgress {
    int64_t step = 0;
    CompetitionId competition = 0;
    size_t models = 0;
    std::chrono::steady_clock::time_point start;
  };

  void apply_metagraph(const Metagraph& metagraph, const std::vector<CompetitionConfig>& active);
  void drop_excluded_uids();
  void set_progress(std::optional<StepProgress> progress);

  std::shared_ptr<Chain> chain_;
  ModelManager& models_;
  RoundEvaluator& evaluator_;
  const CompetitionSchedule& schedule_;
  ValidatorState& state_;
  StateStore& store_;
  ValidatorMetrics& metrics_;
  ValidatorOptions options_;
  Log log_;
  int64_t step_ = 0;  // steps that evaluated a model, over restarts (from metrics.jsonl)
  size_t round_robin_ = 0;

  mutable std::mutex progress_mutex_;  // guards progress_
  std::optional<StepProgress> progress_;
};

}  // namespace crucible
