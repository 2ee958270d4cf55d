#include "crucible/validator/engine_round_evaluator.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <stdexcept>

#include "crucible/common/files.h"
#include "crucible/engine/data/real_datasets.h"
#include "crucible/engine/data/synthetic_gp_torch.h"
#include "crucible/engine/device.h"
#include "crucible/engine/models/native/native_model_cache.h"
#include "crucible/engine/round/model_runner.h"
#include "crucible/engine/scoring/model_scoring.h"
#include "crucible/engine/scoring/quantile_levels.h"
#include "crucible/engine/scoring/series_losses.h"

namespace crucible {
namespace {

constexpr const char* kRoundFolderPrefix = "crucible-round";

}  // namespace

uint64_t task_seed(uint64_t round_seed, size_t index) {
  return round_seed ^ (0x9E3779B97F4A7C15ULL * index);
}

TaskData build_round_task(const TaskConfig& config, uint64_t seed, int64_t real_horizon,
                          const c10::Device& device) {
  if (config.dataset == "synthetic") {
    SyntheticGpOptions gp;
    gp.seed = seed;
    gp.num_series = config.series;
    gp.length = config.length;
    gp.samples_per_kernel = config.samples_per_kernel;
    gp.group_targets = config.group_targets;
    gp.past_covariates = config.past_covariates;
    gp.known_covariates = config.known_covariates;
    return generate_synthetic_gp(gp, device);
  }
  WindowOptions windows;
  windows.seed = seed;
  windows.num_windows = config.series;
  windows.horizon = std::min<int64_t>(real_horizon, config.length - 1);
  windows.max_context = config.length - windows.horizon;
  windows.min_context = std::min<int64_t>(windows.min_context, windows.max_context);
  return make_windows(load_dataset(config.dataset), windows).task;
}

void add_task_run(ModelLosses& model, const ModelRun& run, std::vector<double> losses) {
  model.seconds += run.seconds;
  if (model.status == "ok" && run.status != "ok") {
    model.status = run.status;
    model.reason = run.reason;
  }
  model.task_losses.push_back(std::move(losses));
}

EngineRoundEvaluator::EngineRoundEvaluator(EngineEvaluatorOptions options)
    : options_(std::move(options)) {
  parse_native_precision(options_.precision, parse_device(options_.device));
}

EngineRoundEvaluator::~EngineRoundEvaluator() = default;

long long EngineRoundEvaluator::weight_bytes_read() const {
  return native_cache_ != nullptr ? native_cache_->bytes_read() : 0;
}

std::vector<ModelLosses> EngineRoundEvaluator::run(const CompetitionConfig& competition,
                                                   uint64_t seed,
                                                   const std::vector<RoundModel>& models) {
  std::vector<ModelLosses> runs(models.size());
  if (models.empty()) return runs;
  std::vector<CandidateModel> candidates;
  for (size_t i = 0; i < models.size(); ++i) {
    runs[i].uid = models[i].uid;
    runs[i].status = "ok";
    candidates.push_back({models[i].uid, models[i].model_path});
  }
  const c10::Device device = parse_device(options_.device);
  if (native_cache_ == nullptr) {
    const long long budget = options_.memory_budget_bytes > 0 ? options_.memory_budget_bytes
                                                              : default_memory_budget_bytes(device);
    native_cache_ = std::make_unique<NativeModelCache>(budget / 2);
  }
  RunnerOptions runner;
  runner.native_cache = native_cache_.get();
  runner.isolate = options_.isolate;
  runner.parallel_workers = options_.parallel_workers;
  runner.timeout_seconds = options_.timeout_seconds;
  runner.memory_limit_bytes = options_.memory_limit_bytes;
  runner.memory_budget_bytes = options_.memory_budget_bytes;
  runner.device = device.str();
  runner.native_precision = parse_native_precision(options_.precision, device);
  runner.limits.max_file_bytes = competition.max_file_bytes;
  runner.limits.max_parameters = competition.max_parameters;

  const TemporaryFolder folder(kRoundFolderPrefix, options_.work_dir);
  runner.work_dir = folder.path();
  const auto start = std::chrono::steady_clock::now();
  for (size_t t = 0; t < competition.tasks.size(); ++t) {
    const TaskConfig& config = competition.tasks[t];
    const TaskData data =
        build_round_task(config, task_seed(seed, t), options_.real_dataset_horizon, device);
    const std::string task_dir = folder.path() + "/task" + std::to_string(t);
    write_task_directory(data, task_dir);
    runner.quantiles = config.quantiles.empty() ? default_quantile_levels() : config.quantiles;
    runner.metric = parse_loss_metric(config.metric);
    if (options_.step_timeout_seconds > 0) {
      const double spent =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      runner.total_timeout_seconds = std::max(0.001, options_.step_timeout_seconds - spent);
    }
    const RoundResult round = run_round(candidates, data, task_dir, runner);
    const at::Tensor losses = round.losses.to(at::kCPU, at::kDouble).contiguous();
    for (size_t i = 0; i < models.size(); ++i) {
      const double* row = losses.data_ptr<double>() + static_cast<int64_t>(i) * losses.size(1);
      add_task_run(runs[i], round.runs[i], std::vector<double>(row, row + losses.size(1)));
    }
  }
  return runs;
}

std::vector<RoundModelResult> EngineRoundEvaluator::score(const CompetitionConfig& competition,
                                                          uint64_t seed,
                                                          const std::vector<ModelLosses>& runs) {
  return score_round(competition, seed, runs);
}

std::vector<RoundModelResult> score_round(const CompetitionConfig& competition, uint64_t seed,
                                          const std::vector<ModelLosses>& runs) {
  std::vector<RoundModelResult> results(runs.size());
  if (runs.empty()) return results;
  std::vector<int64_t> uids;
  for (size_t i = 0; i < runs.size(); ++i) {
    results[i].uid = runs[i].uid;
    results[i].status = runs[i].status;
    results[i].reason = runs[i].reason;
    results[i].seconds = runs[i].seconds;
    uids.push_back(runs[i].uid);
  }
  double total_weight = 0.0;
  for (const TaskConfig& task : competition.tasks) total_weight += task.weight;
  for (size_t t = 0; t < competition.tasks.size(); ++t) {
    const int64_t series = static_cast<int64_t>(runs[0].task_losses.at(t).size());
    at::Tensor losses = at::empty({static_cast<int64_t>(runs.size()), series}, at::kDouble);
    for (size_t i = 0; i < runs.size(); ++i) {
      const std::vector<double>& row = runs[i].task_losses.at(t);
      if (static_cast<int64_t>(row.size()) != series) {
        throw std::invalid_argument("score: uid " + std::to_string(runs[i].uid) + " has " +
                                    std::to_string(row.size()) + " losses on task " +
                                    std::to_string(t) + ", others " + std::to_string(series));
      }
      std::copy(row.begin(), row.end(),
                losses.data_ptr<double>() + static_cast<int64_t>(i) * series);
    }
    ScoringOptions scoring;
    scoring.seed = task_seed(seed, t);
    const ModelScores scores = score_models(losses, uids, scoring);
    const double w = competition.tasks[t].weight / total_weight;
    for (size_t i = 0; i < runs.size(); ++i) {
      RoundModelResult& r = results[i];
      r.mean_loss += w * losses[static_cast<int64_t>(i)].nanmean().item<double>();
      r.win_rate += w * scores.win_rate[i];
      r.composite += w * scores.composite[i];
    }
  }
  for (RoundModelResult& r : results) {
    if (r.status != "ok") r.mean_loss = std::numeric_limits<double>::infinity();
  }
  return results;
}

size_t remove_round_folders(const std::string& work_dir) {
  return remove_temporary_folders(kRoundFolderPrefix, work_dir);
}

}  // namespace crucible
