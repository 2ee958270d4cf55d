// The end of a validator step, docs/scoring.md section 5 in one place: the step's
// per-uid results -> optional anti-gaming rules -> EMA -> tracker records ->
// competition weights -> subnet weights -> the uids kept for the next step.
// No I/O: the caller logs, saves the state and sets weights.
#pragma once

#include <string>
#include <vector>

#include "crucible/validator/competition_schedule.h"
#include "crucible/validator/validator_state.h"

namespace crucible {

// One evaluated model of the step.
struct StepModelResult {
  Uid uid = 0;
  std::string hotkey;
  bool ok = false;         // false: exception, timeout, bad output, rejected file
  double mean_loss = 0.0;  // +inf when !ok
  double win_rate = 0.0;
  double composite = 0.0;    // the step score; a failed model scores 0
  Block model_block = 0;     // block of the model's commitment
  std::string content_hash;  // for the copy penalty; may be empty
  // Scored for the first time in this window: its EMA moves and its
  // evaluation is recorded. Models scored earlier in the window are in the
  // comparison (and the keep rule) only.
  bool new_in_window = true;
};

struct StepOutcome {
  std::vector<double> step_scores;          // per result, after the optional rules
  std::vector<double> competition_weights;  // this competition, per uid (num_neurons)
  std::vector<double> subnet_weights;       // over all active competitions (num_neurons)
  std::vector<Uid> kept;                    // active uids for the next step
};

// Scores one step of `competition` at `block`: `results` are every model
// scored in the current window; the new ones move their EMAs, all of them
// get their window score and compete for the queue. `active_competitions` are the
// competitions active now (their stored weights are aggregated); `hotkeys` is
// the number of uids in the metagraph now.
StepOutcome score_step(ValidatorState& state, const CompetitionConfig& competition,
                       const std::vector<CompetitionConfig>& active_competitions,
                       const std::vector<StepModelResult>& results, Block block, size_t num_neurons,
                       double subnet_weight_threshold = 0.0);

}  // namespace crucible
