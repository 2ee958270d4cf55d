// The RoundEvaluator of a running validator: builds each task's data from
// the round seed (synthetic GP series, or windows of a real dataset), runs
// the models with the engine's runner (worker processes by default) and
// scores them. The one place where the validator meets LibTorch.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "crucible/engine/data/task_data.h"
#include "crucible/engine/device.h"
#include "crucible/engine/round/model_runner.h"
#include "crucible/validator/round_evaluator.h"

namespace crucible {

class NativeModelCache;

// The pieces of a round that `crucible eval` shares with the validator, so a
// miner's local run is the validator's, step for step.

// The seed of task `index` of a round: task 0 draws from the round seed
// itself (so `crucible eval --seed N` reproduces a one-task round), task i
// from its own.
uint64_t task_seed(uint64_t round_seed, size_t index);

// Task `config`'s data for `seed`: synthetic GP series, or windows of a real
// dataset whose targets are `real_horizon` steps (at most length - 1).
TaskData build_round_task(const TaskConfig& config, uint64_t seed, int64_t real_horizon,
                          const c10::Device& device);

// Adds a model's run on the next task to its losses: the seconds add up, the
// first failure's status and reason stay.
void add_task_run(ModelLosses& model, const ModelRun& run, std::vector<double> losses);

// The validator's scores of `runs` (RoundEvaluator::score).
std::vector<RoundModelResult> score_round(const CompetitionConfig& competition, uint64_t seed,
                                          const std::vector<ModelLosses>& runs);

struct EngineEvaluatorOptions {
  std::string device = "auto";     // auto, cpu, cuda, cuda:N
  std::string precision = "fp32";  // native forwards on CUDA: fp32 or tf32
  bool isolate = true;             // worker processes; false only for trusted models
  int parallel_workers = 2;
  double timeout_seconds = 120.0;     // per model
  double step_timeout_seconds = 0.0;  // all models of all tasks of a step; 0 = none
  long long memory_limit_bytes = 0;   // per worker; 0 = none
  long long memory_budget_bytes = 0;  // 0 = 90% of the device's free memory
  int64_t real_dataset_horizon = 64;  // target length for a real dataset's windows
  // Where a run's working folder (crucible-round.XXXXXX: the task files the
  // workers read) is made; removed when the run ends. The validator uses
  // <state-dir>/rounds so a killed run's folder is found at the next start.
  std::string work_dir = "/tmp";
};

// Removes every working folder a run left in `work_dir` (a run killed before
// it could remove its own); returns how many. Call before any run starts.
size_t remove_round_folders(const std::string& work_dir);

class EngineRoundEvaluator : public RoundEvaluator {
 public:
  // Throws std::invalid_argument for an unusable device or precision.
  explicit EngineRoundEvaluator(EngineEvaluatorOptions options);

  std::vector<ModelLosses> run(const CompetitionConfig& competition, uint64_t seed,
                               const std::vector<RoundModel>& models) override;
  std::vector<RoundModelResult> score(const CompetitionConfig& competition, uint64_t seed,
                                      const std::vector<ModelLosses>& runs) override;
  long long weight_bytes_read() const override;

  ~EngineRoundEvaluator() override;

 private:
  EngineEvaluatorOptions options_;
  // Native models' inspections and resident weights, kept across runs. Its
  // budget is half the memory budget (options_, or 90% of the device's free
  // memory at the first run).
  std::unique_ptr<NativeModelCache> native_cache_;
};

}  // namespace crucible
