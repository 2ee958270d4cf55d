// The validator's step loop, wiring only: each step picks the next active
// competition (round-robin) with queued models not yet scored in the current
// task window, runs them on the round seed's data (RoundEvaluator), scores
// them against the window's earlier runs, updates their EMAs (score_step),
// saves the state, then prints the step's table and appends one line to
// <state-dir>/metrics.jsonl. Background services (model
// manager, weight setter, status server) are started by the caller. The
// model manager's excluded uids are never evaluated nor weighted, whatever
// the saved state holds.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crucible/validator/chain.h"
#include "crucible/validator/competition_schedule.h"
#include "crucible/validator/log.h"
#include "crucible/validator/model_manager.h"
#include "crucible/validator/round_evaluator.h"
#include "crucible/validator/state_store.h"
#include "crucible/validator/step_report.h"
#include "crucible/validator/validator_metrics.h"
#include "crucible/validator/validator_state.h"
#include "crucible/validator/window_runs.h"

namespace crucible {

struct ValidatorOptions {
  std::string state_dir;           // metrics.jsonl lives here (the state in state_dir/state)
  int64_t max_steps = 0;           // steps that evaluated a model; 0 = until stopped
  double idle_poll_seconds = 2.0;  // wait when no model is queued
  Block seed_cadence = 150;        // the seed comes from the last multiple of this
  double subnet_weight_threshold = 0.0;
  int64_t version_key = 1;
  // metrics.jsonl is rotated (rotate_step_log) before a line would be
  // appended to a file this large; 0 never.
  uint64_t metrics_rotate_bytes = 64ull << 20;
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

  // One step; true when it scored at least one model. A model is scored once
  // per task window (the blocks sharing a round seed): the step scores the
  // queued models without a score in the current window, against the
  // window's earlier ones, and moves only their EMAs; with none, it is idle
  // (false) and runs nothing. A model whose installed copy is missing or
  // damaged is not scored ("not-installed"), costs its miner nothing and is
  // queued again. While the chain has no hash for the window's first block
  // the step waits (false). Step numbers go on
  // from the larger of metrics.jsonl's last step and the saved state's step.
  // Once the step is scored, its number is used: a save that fails throws
  // ("state of step N not saved ...") with the step's update kept in memory
  // for the next save; a metrics.jsonl line that cannot be written throws
  // ("step N saved but not logged: ...").
  bool step();

  // The subnet weights the state holds now (for the WeightSetter); nullopt
  // while no competition has weights, and while weights are held.
  std::optional<WeightsSubmission> current_weights();

  // Sets no weights until a full window is scored: for EMAs restored from an
  // older step or started fresh after a damaged state. Logged, and saved
  // with the EMAs, so a restart keeps holding.
  void hold_weights(const std::string& reason);
  // Why weights are held; empty when they are not.
  std::string weights_held();

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

  // A competition's queue in the current window: the queued uids without a
  // score in it (to score now) and the uids scored in it already (the
  // comparison set), both restricted to present, not excluded uids.
  struct WindowWork {
    std::vector<Uid> to_score;
    std::vector<Uid> scored;
  };
  WindowWork window_work(const CompetitionConfig& competition, Block window, size_t num_neurons);
  // The seed of `window` into *seed; false (logged once per window) while the
  // chain has no hash for it yet.
  bool round_seed(Block window, uint64_t* seed);
  void release_weights_when_window_scored(const std::vector<CompetitionConfig>& active,
                                          Block window, size_t num_neurons);
  void apply_metagraph(const Metagraph& metagraph, const std::vector<CompetitionConfig>& active);
  // The content hash of the model the tracker holds for `hotkey` ("" none).
  std::string installed_hash(const std::string& hotkey) const;
  // A row (miner_row(); "excluded" for --exclude-uids) for every miner of
  // `metagraph` (a neuron without a validator permit) that `rows` lacks.
  void add_unrun_miners(const Metagraph& metagraph, std::vector<StepReportRow>& rows) const;
  // Saves the state at step_; on failure throws, and the next step() (idle
  // or not) saves again.
  void save_state();
  // Appends the steps' metrics.jsonl lines not written yet, oldest first; on
  // failure throws and keeps them for the next step() (idle or not).
  void append_metrics_lines();
  void log_failure(const std::string& failure);
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
  std::map<CompetitionId, WindowRuns> window_runs_;  // the step loop's own
  bool scored_since_hold_ = false;                   // a step scored models since weights were held
  Block seed_wait_logged_ = -1;                      // the window whose missing seed was logged
  bool predictable_warned_ = false;
  bool unsaved_ = false;                                                // the last save failed
  std::vector<std::pair<int64_t, std::string>> unlogged_lines_;         // (step, line)
  std::optional<std::chrono::steady_clock::time_point> failing_since_;  // the run loop's own
  std::chrono::steady_clock::time_point last_warned_;
  std::string last_warned_failure_;  // failure_kind() of the last warning
  Block window_ = -1;                // the window of the latest step
  int64_t failures_ = 0;
  std::map<Uid, std::string> not_installed_logged_;  // the reason logged per uid

  mutable std::mutex progress_mutex_;  // guards progress_
  std::optional<StepProgress> progress_;
};

}  // namespace crucible
