// Evaluates a round's candidate models on one task. Two formats:
// - TorchScript files (`*.pt`), inspected and run by a pool of long-lived
//   worker processes (`crucible worker`, a timeout per model, a memory limit
//   per worker, a memory budget across the models in flight, admitted
//   largest-first; the coordinator never opens an untrusted archive), or
//   in-process for trusted benchmarks;
// - native folders (config.json + model.safetensors), inspected and run in
//   this process, stacked by config (native_runner.h), at the same time.
// Every forecast lands in one [U, S, H, Q] tensor on the round's device, and
// one loss pass runs there. A model that is refused, throws, crashes, hangs
// or returns a bad output fails alone, with +inf losses.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "crucible/cuda/loss_math.h"
#include "crucible/engine/data/task_data.h"
#include "crucible/engine/device.h"
#include "crucible/engine/models/torchscript/model_inspector.h"

namespace crucible {

class NativeModelCache;

struct CandidateModel {
  int64_t uid = 0;
  std::string path;
};

struct ModelRun {
  int64_t uid = 0;
  std::string path;                    // a TorchScript file or a native model folder
  std::string format = "torchscript";  // or "native"
  int group = -1;                      // native: the stacked group (same config) it ran in
  std::string status = "failed";       // ok, refused, failed, timeout, crashed, bad-output
  std::string reason;  // one line: why, when not ok; a note on an ok run (non-finite values)
  // The model receives each series' input length (a 4-argument forecast, or
  // native); else it sees right-padded inputs without knowing where data ends.
  bool takes_lengths = false;
  // TorchScript: wall time from handing the model to a worker to its reply,
  // and the worker's own load and forecast times. Native: the model's share
  // of its stacked chunk's times.
  double seconds = 0.0;
  double load_seconds = 0.0;
  double forward_seconds = 0.0;
};

struct RunnerOptions {
  bool isolate = true;            // false: run in this process (trusted models only)
  std::string worker_executable;  // the `crucible` binary; empty = this executable
  int parallel_workers = 1;
  double timeout_seconds = 120.0;      // per model
  double total_timeout_seconds = 0.0;  // all models of the round (isolated only); 0 = none
  long long memory_limit_bytes = 0;    // per worker process; 0 = none
  long long memory_budget_bytes = 0;   // over the models in flight; 0 = 90% of free memory
  ModelLimits limits;
  std::string device = "cpu";
  NativePrecision native_precision = NativePrecision::kFp32;  // native forwards on CUDA
  std::vector<double> quantiles;                              // sorted levels
  LossMetric metric = LossMetric::kCrps;
  // Where the workers' forecast and stderr files go (folders made and removed
  // per round).
  std::string work_dir = "/tmp";
  // Native models' inspections and resident weights kept between rounds
  // (native_model_cache.h); null: read again every round. Its resident bytes
  // count against the memory budget.
  NativeModelCache* native_cache = nullptr;
};

struct RoundResult {
  std::vector<ModelRun> runs;  // in the order of the models
  // float64 [U, R] on the round's device, one column per scored row
  // (scored_rows(task): every row of a univariate task, the target rows of a
  // grouped one); +inf rows for failed models.
  at::Tensor losses;
  at::Tensor forecasts;  // float32 [U, S, H, Q] on the round's device; failed models' rows are not
                         // forecasts
  double loss_seconds = 0.0;
};

// The memory a model is expected to need while it runs, for the budget: a
// heuristic from its file size (weights on the device, a copy while loading,
// activations), not a measurement.
long long estimated_footprint_bytes(int64_t file_bytes);

// `task_dir` holds the task's files (write_task_directory) for the workers.
RoundResult run_round(const std::vector<CandidateModel>& models, const TaskData& task,
                      const std::string& task_dir, const RunnerOptions& options);

}  // namespace crucible
