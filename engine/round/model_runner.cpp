#include "crucible/engine/round/model_runner.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "crucible/common/files.h"
#include "crucible/common/model_files.h"
#include "crucible/common/npy.h"
#include "crucible/engine/data/tensor_npy.h"
#include "crucible/engine/device.h"
#include "crucible/engine/models/native/native_model.h"
#include "crucible/engine/models/native/native_model_cache.h"
#include "crucible/engine/models/native/native_runner.h"
#include "crucible/engine/models/torchscript/model_forecaster.h"
#include "crucible/engine/models/torchscript/worker_pool.h"
#include "crucible/engine/scoring/series_losses.h"

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

// A worker's reply: "ok <load> <forward>[ <note>]" (the note becomes the
// reason), or "<status>: <reason>".
void read_reply(const std::string& reply, ModelRun& run) {
  if (reply.rfind("ok ", 0) == 0) {
    run.status = "ok";
    int end = 0, takes_lengths = 0;
    std::sscanf(reply.c_str() + 3, "%lf %lf %d%n", &run.load_seconds, &run.forward_seconds,
                &takes_lengths, &end);
    run.takes_lengths = takes_lengths == 1;
    const size_t note = reply.find_first_not_of(' ', 3 + end);
    if (end > 0 && note != std::string::npos) run.reason = reply.substr(note);
    return;
  }
  for (const char* status : {"refused", "bad-output", "failed"}) {
    const std::string prefix = std::string(status) + ": ";
    if (reply.rfind(prefix, 0) == 0) {
      run.status = status;
      run.reason = reply.substr(prefix.size());
      return;
    }
  }
  run.status = "failed";
  run.reason = "unexpected worker reply: " + reply.substr(0, 200);
}

// A worker that ended without replying: the one stderr line of `crucible
// worker` ("crucible worker: <why>") when it exited, else the signal.
void read_death(const JobOutcome& out, ModelRun& run) {
  if (out.signal != 0) {
    run.status = "crashed";
    run.reason = "the worker was killed by signal " + std::to_string(out.signal);
    return;
  }
  const std::string prefix = "crucible worker: ";
  const std::string text =
      out.last_error.rfind(prefix, 0) == 0 ? out.last_error.substr(prefix.size()) : out.last_error;
  run.status = "failed";
  run.reason = text.empty() ? "the worker exited (code " + std::to_string(out.exit_code) +
                                  ") without a reply"
                            : text;
}

// Runs the models on a pool of worker processes, largest first; fills
// status, timings and forecasts. The workers inspect each model: no
// untrusted archive is opened in this process.
void run_isolated(const std::string& task_dir, const RunnerOptions& options,
                  std::vector<ModelRun>& runs, std::vector<at::Tensor>& forecasts,
                  const std::string& out_dir) {
  std::vector<long long> footprints;
  for (const ModelRun& run : runs) {
    std::error_code error;
    const std::uintmax_t bytes = std::filesystem::file_size(run.path, error);
    footprints.push_back(estimated_footprint_bytes(error ? 0 : static_cast<int64_t>(bytes)));
  }
  std::vector<size_t> order;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].path.find_first_of("\t\n\r") == std::string::npos) {
      order.push_back(i);
    } else {
      runs[i].status = "refused";
      runs[i].reason = "the file name holds a tab or a line break";
    }
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return footprints[a] > footprints[b]; });
  std::vector<WorkerJob> jobs;
  for (size_t i : order) {
    jobs.push_back(
        {runs[i].path + "\t" + out_dir + "/" + std::to_string(i) + ".npy", footprints[i]});
  }
  const std::string self =
      options.worker_executable.empty() ? current_executable() : options.worker_executable;
  // The CPU's threads are shared among the workers, so they do not oversubscribe it.
  const int threads = std::max<int>(1, static_cast<int>(std::thread::hardware_concurrency()) /
                                           std::max(1, options.parallel_workers));
  const std::vector<std::string> command = {self,
                                            "worker",
                                            "--task",
                                            task_dir,
                                            "--quantiles",
                                            join_levels(options.quantiles),
                                            "--device",
                                            options.device,
                                            "--threads",
                                            std::to_string(threads),
                                            "--max-file-bytes",
                                            std::to_string(options.limits.max_file_bytes),
                                            "--max-parameters",
                                            std::to_string(options.limits.max_parameters)};
  WorkerPoolOptions pool;
  pool.max_workers = options.parallel_workers;
  pool.timeout_seconds = options.timeout_seconds;
  pool.total_timeout_seconds = options.total_timeout_seconds;
  pool.memory_limit_bytes = options.memory_limit_bytes;
  pool.memory_budget_bytes = options.memory_budget_bytes;
  pool.work_dir = options.work_dir;
  const std::vector<JobOutcome> outcomes = run_jobs(command, jobs, pool);
  for (size_t k = 0; k < order.size(); ++k) {
    ModelRun& run = runs[order[k]];
    const JobOutcome& out = outcomes[k];
    run.seconds = out.seconds;
    const std::string file = out_dir + "/" + std::to_string(order[k]) + ".npy";
    if (out.status == JobOutcome::Status::kTimedOut) {
      run.status = "timeout";
      run.reason = out.last_error.empty()
                       ? "no result within " + std::to_string(options.timeout_seconds) + " s"
                       : out.last_error;
    } else if (out.status == JobOutcome::Status::kDied) {
      read_death(out, run);
    } else {
      read_reply(out.reply, run);
      if (run.status == "ok") forecasts[order[k]] = tensor_from_npy(read_npy(file));
    }
    std::remove(file.c_str());
  }
}

// Inspects and runs each model in this process (trusted models only).
void run_in_process(const TaskData& task, const RunnerOptions& options, std::vector<ModelRun>& runs,
                    std::vector<at::Tensor>& forecasts) {
  const c10::Device device = parse_device(options.device);
  for (size_t i = 0; i < runs.size(); ++i) {
    const ModelInspection inspection = inspect_model(runs[i].path, options.limits);
    if (!inspection.accepted) {
      runs[i].status = "refused";
      runs[i].reason = inspection.reason;
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    try {
      const ForecastRun out =
          run_model_forecasts(runs[i].path, inspection, task, options.quantiles, device);
      forecasts[i] = out.values;
      runs[i].load_seconds = out.load_seconds;
      runs[i].forward_seconds = out.forward_seconds;
      runs[i].status = "ok";
      runs[i].reason = out.note;
      runs[i].takes_lengths = inspection.takes_lengths;
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

// Why a folder candidate holds no TorchScript model the limits allow, or "".
std::string torchscript_folder_reason(const std::string& folder, const ModelLimits& limits) {
  const std::string layout = model_layout_reason(folder);
  if (!layout.empty()) return layout;
  try {
    return repository_size_reason(total_bytes(list_repository_files(folder)),
                                  limits.max_file_bytes);
  } catch (const RepositoryFilesError& e) {
    return e.what();
  }
}

}  // namespace

long long estimated_footprint_bytes(int64_t file_bytes) {
  constexpr long long kWorkingBytes = 64LL << 20;  // activations of a batch, allocator slack
  return 3 * static_cast<long long>(file_bytes) + kWorkingBytes;
}

RoundResult run_round(const std::vector<CandidateModel>& models, const TaskData& task,
                      const std::string& task_dir, const RunnerOptions& options) {
  const auto round_start = std::chrono::steady_clock::now();
  const c10::Device device = parse_device(options.device);
  RoundResult result;
  std::vector<size_t> native, torchscript;
  for (const CandidateModel& model : models) {
    ModelRun run;
    run.uid = model.uid;
    run.path = model.path;
    if (is_native_model_folder(model.path)) {
      native.push_back(result.runs.size());
    } else if (std::filesystem::is_directory(model.path)) {
      // A TorchScript repository folder: every file counts against the
      // size limit, as a validator counts it before the download.
      run.status = "refused";
      run.reason = torchscript_folder_reason(model.path, options.limits);
      if (run.reason.empty()) {
        run.status = "failed";
        run.path = model.path + "/model.pt";
        torchscript.push_back(result.runs.size());
      }
    } else {
      torchscript.push_back(result.runs.size());
    }
    result.runs.push_back(run);
  }
  const int64_t series = task.num_series, horizon = task.target_width;
  at::Tensor forecasts = at::zeros({static_cast<int64_t>(models.size()), series, horizon,
                                    static_cast<int64_t>(options.quantiles.size())},
                                   at::TensorOptions().dtype(at::kFloat).device(device));
  // Both kinds share the memory budget when both are present. Resident
  // native weights already hold part of an explicit budget (free memory
  // counts them as used).
  const long long resident =
      options.native_cache != nullptr ? options.native_cache->resident_bytes() : 0;
  const long long budget = options.memory_budget_bytes > 0
                               ? std::max(1LL, options.memory_budget_bytes - resident)
                               : default_memory_budget_bytes(device);
  const bool both = !native.empty() && !torchscript.empty();
  RunnerOptions script_options = options;
  script_options.memory_budget_bytes = both ? budget / 2 : budget;
  NativeRunOptions native_options;
  native_options.limits = options.limits;
  native_options.quantiles = options.quantiles;
  native_options.timeout_seconds = options.timeout_seconds;
  native_options.memory_budget_bytes = both ? budget / 2 : budget;
  native_options.cache = options.native_cache;
  native_options.precision = options.native_precision;
  if (options.total_timeout_seconds > 0) {
    native_options.deadline =
        round_start + std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::duration<double>(options.total_timeout_seconds));
  }

  // Native models run in this process while the workers run the TorchScript ones.
  std::thread native_thread(
      [&] { run_native_models(native, task, native_options, result.runs, forecasts); });
  std::vector<at::Tensor> script_forecasts(models.size());
  if (!torchscript.empty()) {
    std::vector<ModelRun> script_runs;
    for (size_t i : torchscript) script_runs.push_back(result.runs[i]);
    std::vector<at::Tensor> outputs(script_runs.size());
    if (options.isolate) {
      // Not the task's folder, which the workers only read.
      const TemporaryFolder outputs_dir("crucible-forecasts", options.work_dir);
      run_isolated(task_dir, script_options, script_runs, outputs, outputs_dir.path());
    } else {
      run_in_process(task, script_options, script_runs, outputs);
    }
    for (size_t k = 0; k < torchscript.size(); ++k) {
      result.runs[torchscript[k]] = script_runs[k];
      script_forecasts[torchscript[k]] = outputs[k];
    }
  }
  native_thread.join();
  for (size_t i : torchscript) {
    if (result.runs[i].status == "ok")
      forecasts[static_cast<int64_t>(i)].copy_(script_forecasts[i]);
  }

  // One loss pass over every forecast, on the round's device; failed models get +inf rows.
  const auto start = std::chrono::steady_clock::now();
  const auto on_device = at::TensorOptions().device(device);
  const at::Tensor targets = task_tensor(task.targets, series, horizon).to(device);
  const at::Tensor lengths = at::tensor(task.target_lengths, at::kLong).to(device);
  result.losses = series_losses(options.metric, targets, forecasts, lengths, options.quantiles);
  if (has_groups(task)) {  // covariate rows are forecast but not scored
    result.losses =
        result.losses.index_select(1, at::tensor(scored_rows(task), at::kLong).to(device));
  }
  result.forecasts = forecasts;
  std::vector<int64_t> failed_rows;
  for (size_t i = 0; i < models.size(); ++i) {
    if (result.runs[i].status != "ok") failed_rows.push_back(static_cast<int64_t>(i));
  }
  if (!failed_rows.empty()) {
    result.losses.index_fill_(0, at::tensor(failed_rows, on_device.dtype(at::kLong)),
                              std::numeric_limits<double>::infinity());
  }
  result.loss_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace crucible
