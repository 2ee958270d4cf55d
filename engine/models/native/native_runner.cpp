#include "crucible/engine/models/native/native_runner.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>

#include "crucible/engine/models/native/native_forecaster.h"
#include "crucible/engine/models/native/native_model.h"
#include "crucible/engine/models/native/native_model_cache.h"
#include "crucible/engine/round/model_runner.h"

namespace crucible {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// One group's shared inputs.
struct GroupContext {
  const NativeConfig* config;
  const TaskData* task;
  const NativeRunOptions* options;
  NativeModelCache* cache;
  std::vector<ModelRun>* runs;
  at::Tensor* forecasts;
};

void fail_all(const std::vector<size_t>& members, std::vector<ModelRun>& runs,
              const std::string& status, const std::string& reason) {
  for (size_t i : members) {
    runs[i].status = status;
    runs[i].reason = reason;
  }
}

// Loads and forecasts `members` as one stack. On a failure, a chunk of
// several models is split in half and each half retried, so the failure ends
// with the model that causes it (or, for memory, with a single model that
// does not fit alone).
void run_chunk(const GroupContext& group, const std::vector<size_t>& members) {
  std::vector<ModelRun>& runs = *group.runs;
  const NativeRunOptions& options = *group.options;
  const auto start = Clock::now();
  if (start > options.deadline) {
    fail_all(members, runs, "timeout", "the step's time ran out before this model started");
    return;
  }
  const auto budget = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.timeout_seconds * members.size()));
  const Clock::time_point deadline = std::min(options.deadline, start + budget);
  std::string error;
  bool out_of_memory = false;
  try {
    if (options.before_chunk) options.before_chunk(members.size());
    // Each model's weights (resident, or read now); a model whose values are
    // refused leaves the chunk alone.
    std::vector<size_t> loaded;
    std::vector<std::shared_ptr<const NativeWeights>> weights;
    for (size_t i : members) {
      try {
        weights.push_back(
            group.cache->weights(runs[i].path, *group.config, group.forecasts->device()));
        loaded.push_back(i);
      } catch (const NativeWeightsRefused& e) {
        fail_all({i}, runs, "refused", e.what());
      }
    }
    if (loaded.empty()) return;
    std::vector<const NativeWeights*> models;
    for (const auto& model : weights) models.push_back(model.get());
    const double load_seconds = seconds_since(start);
    const auto forward_start = Clock::now();
    QuantileForecastRequest request;
    request.horizon = group.task->target_width;
    request.levels = options.quantiles;
    request.needed_steps = group.task->target_lengths;  // steps past a target are not scored
    request.deadline = deadline;
    const NativePrecisionScope precision(options.precision);
    const at::Tensor values = native_forecaster(*group.config)
                                  .predict_quantiles(*group.config, models, *group.task, request);
    models.clear();
    weights.clear();
    std::vector<int64_t> rows(loaded.begin(), loaded.end());
    group.forecasts->index_copy_(0, at::tensor(rows, at::kLong).to(values.device()), values);
    const double forward_seconds = seconds_since(forward_start);
    const double share = 1.0 / static_cast<double>(loaded.size());
    for (size_t i : loaded) {
      runs[i].status = "ok";
      runs[i].reason.clear();
      runs[i].load_seconds = load_seconds * share;
      runs[i].forward_seconds = forward_seconds * share;
      runs[i].seconds = (load_seconds + forward_seconds) * share;
    }
    return;
  } catch (const ForecastDeadlineExceeded&) {
    fail_all(members, runs, "timeout",
             "no forecast within " + std::to_string(options.timeout_seconds) +
                 " s per model (stacked with " + std::to_string(members.size() - 1) + " others)");
    return;
  } catch (const std::exception& e) {
    error = first_line(e.what());
    out_of_memory = is_out_of_memory_error(e);
  }
  if (members.size() > 1) {
    const auto middle = members.begin() + static_cast<std::ptrdiff_t>(members.size() / 2);
    run_chunk(group, std::vector<size_t>(members.begin(), middle));
    run_chunk(group, std::vector<size_t>(middle, members.end()));
    return;
  }
  fail_all(members, runs, "failed", out_of_memory ? "out of memory: " + error : error);
}

}  // namespace

bool is_out_of_memory_error(const std::exception& error) {
  const std::string text = error.what();
  return text.find("out of memory") != std::string::npos ||
         text.find("can't allocate memory") != std::string::npos ||
         dynamic_cast<const std::bad_alloc*>(&error) != nullptr;
}

void run_native_models(const std::vector<size_t>& indices, const TaskData& task,
                       const NativeRunOptions& options, std::vector<ModelRun>& runs,
                       at::Tensor& forecasts) {
  NativeModelCache one_run_cache;  // keeps nothing: for callers without a cache of their own
  NativeModelCache& cache = options.cache != nullptr ? *options.cache : one_run_cache;
  cache.begin_round();
  // Inspect every folder (the header; the values are checked as they load);
  // group the accepted ones by config, in order of appearance.
  std::map<std::string, size_t> group_of_key;
  std::vector<std::vector<size_t>> groups;
  std::vector<std::shared_ptr<const NativeConfig>> configs;
  for (size_t i : indices) {
    runs[i].format = "native";
    runs[i].takes_lengths = true;  // each series' context is exactly its input
    const NativeModelInspection inspection = cache.inspect(runs[i].path, options.limits);
    if (!inspection.accepted) {
      runs[i].status = "refused";
      runs[i].reason = inspection.reason;
      continue;
    }
    const auto [found, added] = group_of_key.emplace(inspection.config->key(), groups.size());
    if (added) {
      groups.emplace_back();
      configs.push_back(inspection.config);
    }
    groups[found->second].push_back(i);
    runs[i].group = static_cast<int>(found->second);
  }

  for (size_t g = 0; g < groups.size(); ++g) {
    const GroupContext group{configs[g].get(), &task, &options, &cache, &runs, &forecasts};
    const long long per_model =
        native_forecaster(*configs[g]).bytes_per_model(*configs[g], task.num_series);
    const size_t chunk = options.memory_budget_bytes > 0
                             ? static_cast<size_t>(std::max<long long>(
                                   1, options.memory_budget_bytes / std::max(1LL, per_model)))
                             : groups[g].size();
    for (size_t first = 0; first < groups[g].size(); first += chunk) {
      const size_t last = std::min(groups[g].size(), first + chunk);
      run_chunk(group, std::vector<size_t>(groups[g].begin() + first, groups[g].begin() + last));
    }
  }
}

}  // namespace crucible
