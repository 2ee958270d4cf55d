// A RoundEvaluator for the validator's tests, scripted by the model files'
// bytes: "score 0.7" runs fine with value 0.7; anything else (or a file that
// cannot be read) fails. score() gives each ok run its value as composite and
// win rate, or, when `relative` is set, its value divided by the largest
// value of the set (so a score depends on the other models, as a real one
// does). `delay` slows run() down, to mimic a slower machine.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "crucible/common/files.h"
#include "crucible/validator/round_evaluator.h"

namespace crucible {

class ScriptedEvaluator : public RoundEvaluator {
 public:
  std::vector<ModelLosses> run(const CompetitionConfig&, uint64_t seed,
                               const std::vector<RoundModel>& models) override {
    seeds.push_back(seed);
    runs.push_back(models.size());
    if (during) during();
    std::this_thread::sleep_for(delay);
    std::vector<ModelLosses> results;
    for (const RoundModel& m : models) {
      ModelLosses r;
      r.uid = m.uid;
      std::string bytes;
      try {
        bytes = read_file(m.model_path);
      } catch (const std::exception& e) {
        r.status = "refused";
        r.reason = e.what();
      }
      if (bytes.rfind("score ", 0) == 0) {
        r.status = "ok";
        r.task_losses = {{std::stod(bytes.substr(6))}};
      } else {
        if (r.reason.empty()) {
          r.status = "failed";
          r.reason = "scripted failure";
        }
        r.task_losses = {{INFINITY}};
      }
      results.push_back(r);
    }
    return results;
  }

  std::vector<RoundModelResult> score(const CompetitionConfig&, uint64_t,
                                      const std::vector<ModelLosses>& set) override {
    double largest = 0.0;
    for (const ModelLosses& r : set) {
      if (r.status == "ok") largest = std::max(largest, r.task_losses[0][0]);
    }
    std::vector<RoundModelResult> results;
    for (const ModelLosses& r : set) {
      RoundModelResult result;
      result.uid = r.uid;
      result.status = r.status;
      result.reason = r.reason;
      if (r.status == "ok") {
        const double value = r.task_losses[0][0];
        result.composite = result.win_rate = relative && largest > 0 ? value / largest : value;
        result.mean_loss = 1.0 - value;
      } else {
        result.mean_loss = INFINITY;
      }
      results.push_back(result);
    }
    return results;
  }

  std::vector<uint64_t> seeds;   // of each run() call
  std::vector<size_t> runs;      // models run by each run() call
  std::function<void()> during;  // runs inside run()
  std::chrono::milliseconds delay{0};
  bool relative = false;
};

}  // namespace crucible
