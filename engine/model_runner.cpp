#include "crucible/engine/model_runner.h"

#include <ATen/ATen.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "crucible/common/npy.h"
#include "crucible/engine/device.h"
#include "crucible/engine/model_forecaster.h"
#include "crucible/engine/series_losses.h"
#include "crucible/engine/tensor_npy.h"
#include "crucible/engine/worker_pool.h"

namespace crucible {
namespace {

std::string join_levels(const std::vector<double>& levels) {
  std::ostringstream text;
  text.precision(17);
  for (size_t i = 0; i < levels.size(); ++i) text << (i ? "," : "") << levels[i];
  return text.str();
}

at::Tensor task_tensor(const std::vector<float>& values, int64_t rows, int64_t cols) {
  return at::from_blob(const_cast<float*>(values.data()), {rows, cols}, at::kFloat).clone();
}

// "crucible worker: bad-output: returned ..." -> status "bad-output", reason "returned ...".
void read_worker_error(const std::string& line, ModelRun& run) {
  std::string text = line.substr(line.rfind("crucible worker: ", 0) == 0 ? 17 : 0);
  for (const char* status : {"refused", "bad-output", "failed"}) {
    const std::string prefix = std::string(status) + ": ";
    if (text.rfind(prefix, 0) == 0) {
      run.status = status;
      run.reason = text.substr(prefix.size());
      return;
    }
  }
  run.status = "failed";
  run.reason = text.empty() ? "the worker exited without a message" : text;
}

// Runs the accepted models in worker processes; fills status and forecasts.
void run_isolated(const std::vector<size_t>& accepted, const std::string& task_dir,
                  const RunnerOptions& options, std::vector<ModelRun>& runs,
                  std::vector<at::Tensor>& forecasts, const std::string& out_dir) {
  std::vector<std::vector<std::string>> commands;
  const std::string self =
      options.worker_executable.empty() ? current_executable() : options.worker_executable;
  for (size_t i : accepted) {
    commands.push_back({self, "worker", "--model", runs[i].path, "--task", task_dir, "--quantiles",
                        join_levels(options.quantiles), "--device", options.device,
                        "--max-file-bytes", std::to_string(options.limits.max_file_bytes),
                        "--max-parameters", std::to_string(options.limits.max_parameters), "--out",
                        out_dir + "/" + std::to_string(i) + ".npy"});
  }
  WorkerPoolOptions pool;
  pool.max_parallel = options.parallel_workers;
  pool.timeout_seconds = options.timeout_seconds;
  pool.memory_limit_bytes = options.memory_limit_bytes;
  const std::vector<WorkerOutcome> outcomes = run_workers(commands, pool);
  for (size_t k = 0; k < accepted.size(); ++k) {
    ModelRun& run = runs[accepted[k]];
    const WorkerOutcome& out = outcomes[k];
    run.seconds = out.seconds;
    if (out.timed_out) {
      run.status = "timeout";
      run.reason = "no result within " + std::to_string(options.timeout_seconds) + " s";
    } else if (out.signal != 0) {
      run.status = "crashed";
      run.reason = "the worker was killed by signal " + std::to_string(out.signal);
    } else if (out.exit_code != 0) {
      read_worker_error(out.last_error, run);
    } else {
      const std::string file = out_dir + "/" + std::to_string(accepted[k]) + ".npy";
      forecasts[accepted[k]] = tensor_from_npy(read_npy(file));
      std::remove(file.c_str());
      run.status = "ok";
    }
  }
}

void run_in_process(const std::vector<size_t>& accepted,
                    const std::vector<ModelInspection>& inspections, const TaskData& task,
                    const RunnerOptions& options, std::vector<ModelRun>& runs,
                    std::vector<at::Tensor>& forecasts) {
  const c10::Device device = parse_device(options.device);
  for (size_t i : accepted) {
    const auto start = std::chrono::steady_clock::now();
    try {
      forecasts[i] =
          run_model_forecasts(runs[i].path, inspections[i], task, options.quantiles, device);
      runs[i].status = "ok";
    } catch (const BadModelOutput& e) {
      runs[i].status = "bad-output";
      runs[i].reason = e.what();
    } catch (const std::exception& e) {
      runs[i].status = "failed";
      runs[i].reason = std::string(e.what()).substr(0, std::string(e.what()).find('\n'));
    }
    runs[i].seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
}

}  // namespace

RoundResult run_round(const std::vector<CandidateModel>& models, const TaskData& task,
                      const std::string& task_dir, const RunnerOptions& options) {
  RoundResult result;
  std::vector<size_t> accepted;
  std::vector<ModelInspection> inspections;
  for (size_t i = 0; i < models.size(); ++i) {
    ModelRun run;
    run.uid = models[i].uid;
    run.path = models[i].path;
    inspections.push_back(inspect_model(run.path, options.limits));
    const ModelInspection& inspection = inspections.back();
    if (inspection.accepted) {
      accepted.push_back(i);
    } else {
      run.status = "refused";
      run.reason = inspection.reason;
    }
    result.runs.push_back(run);
  }

  std::vector<at::Tensor> forecasts(models.size());
  if (options.isolate) {
    char pattern[] =
        "/tmp/crucible-forecasts.XXXXXX";  // the workers' outputs, not the task's folder
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("cannot create a temporary folder");
    run_isolated(accepted, task_dir, options, result.runs, forecasts, pattern);
    ::rmdir(pattern);
  } else {
    run_in_process(accepted, inspections, task, options, result.runs, forecasts);
  }

  // One loss pass over every model that produced forecasts.
  const auto start = std::chrono::steady_clock::now();
  const int64_t series = task.num_series;
  result.losses = at::full({static_cast<int64_t>(models.size()), series},
                           std::numeric_limits<double>::infinity(), at::kDouble);
  std::vector<int64_t> ok_rows;
  std::vector<at::Tensor> ok_forecasts;
  for (size_t i = 0; i < models.size(); ++i) {
    if (result.runs[i].status == "ok") {
      ok_rows.push_back(static_cast<int64_t>(i));
      ok_forecasts.push_back(forecasts[i]);
    }
  }
  if (!ok_rows.empty()) {
    const at::Tensor targets = task_tensor(task.targets, series, task.target_width);
    const at::Tensor lengths = at::tensor(task.target_lengths, at::kLong);
    const at::Tensor losses = series_losses(LossMetric::kCrps, targets, at::stack(ok_forecasts),
                                            lengths, options.quantiles);
    result.losses.index_copy_(0, at::tensor(ok_rows, at::kLong), losses);
  }
  result.loss_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace crucible
