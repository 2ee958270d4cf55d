// What the validator asks of the engine each step: evaluate the queued
// models of one competition on the data of a round seed and score them
// (docs/scoring.md sections 1-4). An interface so the validator core stays
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
  std::string model_path;  // the installed TorchScript archive
};

struct RoundModelResult {
  Uid uid = 0;
  std::string status = "failed";  // ok, refused, failed, timeout, crashed, bad-output
  std::string reason;             // one line when not ok
  double mean_loss = 0.0;         // +inf when not ok
  double win_rate = 0.0;
  double composite = 0.0;
  double seconds = 0.0;
};

class RoundEvaluator {
 public:
  virtual ~RoundEvaluator() = default;

  // One result per model, in the models' order. With several tasks, win
  // rate, composite and mean loss are the task-weight-weighted means. Throws
  // std::runtime_error only when the round itself cannot run (its data
  // cannot be built); a failing model is a result, not an exception.
  virtual std::vector<RoundModelResult> evaluate(const CompetitionConfig& competition,
                                                 uint64_t seed,
                                                 const std::vector<RoundModel>& models) = 0;
};

}  // namespace crucible
