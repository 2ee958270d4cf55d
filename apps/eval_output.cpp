#include "eval_output.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "crucible/common/files.h"
#include "crucible/common/json_number.h"
#include "crucible/cuda/loss_math.h"
#include "crucible/engine/scoring/quantile_levels.h"
#include "crucible/engine/scoring/series_losses.h"
#include "eval_report.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Per group g of `group_of` (series -> group), the mean of the non-NaN values
// of `losses` in it: +inf when one is +inf (a failed model), NaN when none.
std::vector<double> group_means(const double* losses, size_t count,
                                const std::vector<size_t>& group_of, size_t groups) {
  std::vector<double> sums(groups, 0.0);
  std::vector<int64_t> counts(groups, 0);
  for (size_t j = 0; j < count; ++j) {
    if (std::isnan(losses[j])) continue;
    sums[group_of[j]] += losses[j];
    ++counts[group_of[j]];
  }
  std::vector<double> means(groups, kNaN);
  for (size_t g = 0; g < groups; ++g) {
    if (counts[g] > 0) means[g] = sums[g] / static_cast<double>(counts[g]);
  }
  return means;
}

// Per horizon step, how many series have a target that long.
std::vector<int64_t> step_series(const TaskData& task) {
  std::vector<int64_t> counts(static_cast<size_t>(task.target_width), 0);
  for (int64_t n : task.target_lengths) {
    for (int64_t t = 0; t < n; ++t) ++counts[static_cast<size_t>(t)];
  }
  return counts;
}

// Adds each series' step losses (loss_math.h's step_loss: the engine's
// sanitising and arithmetic) into sums[t], for t below its target length.
// `forecasts` [S, H, Q] float32 of one model.
template <LossMetric kMetric>
void add_step_losses(const StepLossParams& params, const float* forecasts, const TaskData& task,
                     std::vector<double>& sums) {
  const int64_t h = task.target_width, q = params.num_quantiles;
  double scratch[kMaxQuantiles];
  for (int64_t j = 0; j < task.num_series; ++j) {
    for (int64_t t = 0; t < task.target_lengths[j]; ++t) {
      sums[static_cast<size_t>(t)] +=
          step_loss<kMetric>(params, forecasts + (j * h + t) * q, task.targets[j * h + t], scratch);
    }
  }
}

// The mean step loss per horizon step of model `i` of task `t` (docs/models.md:
// the report's loss by horizon step): NaN where no series reaches the step,
// everywhere when the model was not scored. For WQL a step's value is the
// numerator, 2 x the mean pinball loss, before the division by sum |y|.
std::vector<double> loss_by_step(const EvalTaskRun& t, size_t i) {
  const TaskData& task = t.task;
  std::vector<double> means(static_cast<size_t>(task.target_width), kNaN);
  const at::Tensor& all = t.round.forecasts;
  if (t.round.runs[i].status != "ok" || !all.defined() || all.dim() != 4 ||
      all.size(1) != task.num_series || all.size(2) != task.target_width ||
      all.size(3) > kMaxQuantiles) {
    return means;
  }
  const at::Tensor forecasts =
      all[static_cast<int64_t>(i)].to(at::kCPU, at::kFloat).contiguous();  // [S, H, Q]
  StepLossParams params{};
  params.metric = parse_loss_metric(t.metric);
  params.num_quantiles = static_cast<int32_t>(forecasts.size(2));
  params.median_index = median_level_index(t.quantiles);
  params.levels = t.quantiles.data();
  std::vector<double> sums(means.size(), 0.0);
  const float* values = forecasts.data_ptr<float>();
  switch (params.metric) {
    case LossMetric::kCrps:
      add_step_losses<LossMetric::kCrps>(params, values, task, sums);
      break;
    case LossMetric::kPinball:
      add_step_losses<LossMetric::kPinball>(params, values, task, sums);
      break;
    case LossMetric::kWql:
      add_step_losses<LossMetric::kWql>(params, values, task, sums);
      break;
    case LossMetric::kMae:
      add_step_losses<LossMetric::kMae>(params, values, task, sums);
      break;
    case LossMetric::kMse:
      add_step_losses<LossMetric::kMse>(params, values, task, sums);
      break;
  }
  const std::vector<int64_t> counts = step_series(task);
  for (size_t step = 0; step < means.size(); ++step) {
    if (counts[step] > 0) means[step] = sums[step] / static_cast<double>(counts[step]);
  }
  return means;
}

// Model i's scores on task t, whose losses `losses` holds on the CPU.
EvalTaskScores task_scores(const EvalTaskRun& t, const at::Tensor& losses, size_t i) {
  const at::Tensor row = losses[static_cast<int64_t>(i)];
  EvalTaskScores s;
  s.name = t.name;
  s.weight = t.weight;
  s.scores.mean_loss = group_means(row.data_ptr<double>(), static_cast<size_t>(row.numel()),
                                   std::vector<size_t>(static_cast<size_t>(row.numel()), 0), 1)[0];
  s.scores.win_rate = t.scores.win_rate[i];
  s.scores.composite = t.scores.composite[i];
  s.scores.ci_lo = t.scores.ci_lo[i];
  s.scores.ci_hi = t.scores.ci_hi[i];
  s.scores.gap = t.scores.agg_gap[i];
  s.scores.sep = t.scores.sep_score[i];
  return s;
}

// One line when the task pads its inputs and some model could not know
// where each series ends (a 3-argument forecast).
void print_padding_hint(const TaskData& task, const std::vector<ModelRun>& runs) {
  int64_t padded = 0;
  for (int64_t length : task.input_lengths) padded += length < task.input_width ? 1 : 0;
  std::string uids;
  int count = 0;
  for (const ModelRun& r : runs) {
    if (r.status != "ok" || r.takes_lengths) continue;
    uids += (count++ ? ", " : "") + std::to_string(r.uid);
  }
  if (padded == 0 || count == 0) return;
  std::printf(
      "hint: %lld of %lld series are right-padded with 0 to %lld steps, and %s %s not "
      "take forecast's 4th `lengths` argument, so %s cannot tell padding from data "
      "(docs/models.md)\n",
      static_cast<long long>(padded), static_cast<long long>(task.num_series),
      static_cast<long long>(task.input_width), ((count > 1 ? "uids " : "uid ") + uids).c_str(),
      count > 1 ? "do" : "does", count > 1 ? "they" : "it");
}

nlohmann::ordered_json task_json(const EvalTaskRun& t) {
  return {{"name", t.name},
          {"weight", t.weight},
          {"metric", t.metric},
          {"seed_text", std::to_string(t.seed)},
          {"series", t.task.num_series},
          {"input_width", t.task.input_width},
          {"horizon", t.task.target_width},
          {"quantiles", t.quantiles},
          {"data", t.data}};
}

}  // namespace

std::vector<std::string> task_descriptions(const EvalTaskRun& t) {
  const std::vector<std::string>& own = t.task.descriptions;
  if (std::any_of(own.begin(), own.end(), [](const std::string& d) { return !d.empty(); })) {
    return own;
  }
  std::error_code error;
  const fs::path file = fs::path(t.data) / "kernels.json";
  if (t.data.empty() || !fs::is_regular_file(file, error)) return {};
  std::string text;
  try {
    text = read_file(file.string());
  } catch (const std::runtime_error&) {
    return {};
  }
  const nlohmann::json list = nlohmann::json::parse(text, nullptr, false);
  if (!list.is_array() || static_cast<int64_t>(list.size()) != t.task.num_series) return {};
  std::vector<std::string> descriptions;
  for (const nlohmann::json& d : list)
    descriptions.push_back(d.is_string() ? d.get<std::string>() : "");
  return descriptions;
}

EvalRanking rank_eval_models(const EvalOutcome& outcome) {
  const EvalTaskRun& first = outcome.tasks.front();
  EvalRanking ranking;
  ranking.descriptions = task_descriptions(first);
  ranking.kinds = series_kinds(ranking.descriptions, first.task.num_series);
  std::vector<at::Tensor> losses;  // per task, on the CPU
  for (const EvalTaskRun& t : outcome.tasks) {
    losses.push_back(t.round.losses.to(at::kCPU, at::kDouble).contiguous());
  }
  for (size_t i : outcome.order) {
    const ModelRun& r = outcome.runs[i];
    EvalReportModel m;
    m.uid = r.uid;
    m.name = fs::path(r.path).filename().string();
    m.format = r.format;
    m.status = r.status;
    m.reason = r.reason;
    const at::Tensor row = losses.front()[static_cast<int64_t>(i)];
    m.losses.assign(row.data_ptr<double>(), row.data_ptr<double>() + row.numel());
    m.scores = task_scores(first, losses.front(), i).scores;
    m.scores.mean_loss = outcome.mean_loss[i];
    m.scores.win_rate = outcome.win_rate[i];
    m.scores.composite = outcome.composite[i];
    m.weight = outcome.weight[i];
    m.seconds = r.seconds;
    if (outcome.tasks.size() > 1) {
      for (size_t t = 0; t < outcome.tasks.size(); ++t) {
        m.tasks.push_back(task_scores(outcome.tasks[t], losses[t], i));
      }
    }
    m.loss_by_step = loss_by_step(first, i);
    m.loss_by_kind = group_means(m.losses.data(), m.losses.size(), ranking.kinds.kind_of,
                                 ranking.kinds.names.size());
    ranking.models.push_back(m);
  }
  return ranking;
}

void print_eval_table(const EvalOutcome& outcome, const EvalRanking& ranking) {
  std::printf("rules: %s\n", outcome.rules.c_str());
  std::printf("%6s %-28s %-10s %12s %9s %9s %8s %8s\n", "uid", "model", "status", "mean loss",
              "win rate", "composite", "weight*", "seconds");
  for (const EvalReportModel& m : ranking.models) {
    std::printf("%6lld %-28s %-10s %12.6g %9.4f %9.4f %8.4f %8.2f%s%s%s\n",
                static_cast<long long>(m.uid), m.name.c_str(), m.status.c_str(), m.scores.mean_loss,
                m.scores.win_rate, m.scores.composite, m.weight, m.seconds,
                m.uid == outcome.mine ? "  <- mine" : "", m.reason.empty() ? "" : "  ",
                m.reason.c_str());
  }
  for (const EvalTaskRun& t : outcome.tasks) print_padding_hint(t.task, t.round.runs);
  std::printf(
      "* weight: the softmax of this round's composites alone (what these models would "
      "share if this round were all); a validator's weights come from its EMA over rounds\n");
  for (const std::string& note : eval_table_notes(outcome.runs.size())) {
    std::printf("%s\n", note.c_str());
  }
}

std::string eval_result_json(const EvalOutcome& outcome, const EvalRanking& ranking) {
  const EvalTaskRun& first = outcome.tasks.front();
  // "seed_text": the seed as a string for readers whose numbers are doubles.
  nlohmann::ordered_json result = {
      {"seed", outcome.seed},
      {"seed_text", std::to_string(outcome.seed)},
      {"rules", outcome.rules},
      {"limits",
       {{"max_file_bytes", outcome.limits.max_file_bytes},
        {"max_parameters", outcome.limits.max_parameters}}},
      {"task",
       {{"series", first.task.num_series},
        {"input_width", first.task.input_width},
        {"horizon", first.task.target_width},
        {"quantiles", first.quantiles},
        {"data", first.data},
        {"kinds", kinds_json(ranking.kinds)},
        {"step_series", step_series(first.task)}}},
      {"mine", outcome.mine >= 0 ? nlohmann::ordered_json(outcome.mine) : nullptr},
      {"tasks", nlohmann::ordered_json::array()},
      {"models", nlohmann::ordered_json::array()}};
  for (const EvalTaskRun& t : outcome.tasks) result["tasks"].push_back(task_json(t));
  const std::vector<EvalReportModel>& ranked = ranking.models;
  for (size_t k = 0; k < ranked.size(); ++k) {
    const EvalReportModel& m = ranked[k];
    const ModelRun& r = outcome.runs[outcome.order[k]];
    nlohmann::ordered_json entry = {{"uid", r.uid}, {"file", r.path}, {"format", r.format}};
    if (r.format == "native") entry["group"] = r.group;
    entry.update(nlohmann::ordered_json{{"status", r.status}, {"reason", r.reason}});
    entry.update(scores_json(m.scores));
    entry.update(nlohmann::ordered_json{{"weight", m.weight},
                                        {"losses", json_numbers(m.losses)},
                                        {"seconds",
                                         {{"load", r.load_seconds},
                                          {"forward", r.forward_seconds},
                                          {"loss", first.round.loss_seconds},
                                          {"total", r.seconds}}},
                                        {"loss_by_step", json_numbers(m.loss_by_step)},
                                        {"loss_by_kind", json_numbers(m.loss_by_kind)}});
    if (!m.tasks.empty()) entry["tasks"] = task_scores_json(m.tasks);
    result["models"].push_back(entry);
  }
  return result.dump(1) + "\n";
}

void write_eval_report(const EvalReportRequest& request, const EvalOutcome& outcome,
                       EvalRanking ranking) {
  const EvalTaskRun& first = outcome.tasks.front();
  EvalReport report;
  report.seed = outcome.seed;
  report.data = first.data;
  report.task_name = first.name;
  report.task_count = outcome.tasks.size();
  report.metric = first.metric;
  report.quantiles = first.quantiles;
  report.series = request.series;
  report.fan_uids = request.uids;
  report.mine = request.mine;
  report.models = std::move(ranking.models);
  report.descriptions = std::move(ranking.descriptions);
  report.kinds = std::move(ranking.kinds);
  report.step_series = step_series(first.task);
  report.notes = eval_table_notes(outcome.runs.size());
  const at::Tensor series = at::tensor(report.series, at::kLong).to(first.round.forecasts.device());
  const at::Tensor forecasts = first.round.forecasts.index_select(1, series).cpu().contiguous();
  for (size_t k : fan_models(report)) {
    const at::Tensor drawn = forecasts[static_cast<int64_t>(outcome.order[k])];
    report.models[k].forecasts.assign(drawn.data_ptr<float>(),
                                      drawn.data_ptr<float>() + drawn.numel());
  }
  const ChartLibrary chart = find_chart_library();
  write_file_atomically(request.path,
                        eval_report_html(chart, eval_report_document(report, first.task)));
  std::printf("report: %s (%zu series%s)\n", request.path.c_str(), report.series.size(),
              chart.script.empty() ? (", as tables: " + chart.missing_reason).c_str()
                                   : ", charts by Chart.js");
}

}  // namespace crucible
