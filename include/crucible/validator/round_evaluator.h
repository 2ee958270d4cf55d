// What the validator asks of the engine: run models on the data of a round
// seed, and score a set of runs together (docs/scoring.md sections 1-4). Two
// calls, so that a model joining a window is run alone and scored against the
// runs the window already has. An interface so the validator core stays
// torch-free and its tests can use a scripted evaluator; the engine's
// implementation is EngineRoundEvaluator.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crucible/validator/competition_schedule.h"
#include "crucible/validator/types.h"

namespace crucible {

struct RoundModel {
  Uid uid = 0;
  std::string model_path;  // the installed model (TorchScript archive or native folder)
};

// One model's run on every task of a competition.
struct ModelLosses {
  Uid uid = 0;
  std::string status = "failed";  // ok, refused, failed, timeout, crashed, bad-output
  std::string reason;             // one line when not ok
  double seconds = 0.0;
  // [task][series]: the per-series losses (NaN: no target; +inf: the model
  // failed on that task). A pure function of the model and the seed.
  std::vector<std::vector<double>> task_losses;
};

struct RoundModelResult {
  Uid uid = 0;
  std::string status = "failed";  // as ModelLosses::status
  std::string reason;             // one line when not ok
  double mean_loss = 0.0;         // +inf when not ok
  double win_rate = 0.0;
  double composite = 0.0;
  double seconds = 0.0;
};

class RoundEvaluator {
 public:
  virtual ~RoundEvaluator() = default;

  // Runs `models` on the tasks of `competition` for the round `seed`: one
  // result per model, in the models' order. Throws std::runtime_error only
  // when the round itself cannot run (its data cannot be built); a failing
  // model is a result, not an exception.
  virtual std::vector<ModelLosses> run(const CompetitionConfig& competition, uint64_t seed,
                                       const std::vector<RoundModel>& models) = 0;

  // Scores `runs` (of `competition` on `seed`, distinct uids) against each
  // other: one result per run, in their order. A run's result depends on the
  // set of runs, not on their order nor on the uids. With several tasks, win
  // rate, composite and mean loss are the task-weight-weighted means.
  virtual std::vector<RoundModelResult> score(const CompetitionConfig& competition, uint64_t seed,
                                              const std::vector<ModelLosses>& runs) = 0;

  // Native model weight bytes read from files so far (0 where not counted).
  virtual long long weight_bytes_read() const { return 0; }
};

}  // namespace crucible
