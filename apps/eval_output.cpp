#include "eval_output.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "crucible/common/files.h"
#include "eval_report.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

// The models in outcome.order (best first) with what the table, result.json
// and the report show of each; the per-series losses are the first task's.
std::vector<EvalReportModel> ranked_models(const EvalOutcome& outcome) {
  const at::Tensor losses = outcome.tasks.front().round.losses.cpu();
  std::vector<EvalReportModel> ranked;
  for (size_t i : outcome.order) {
    const ModelRun& r = outcome.runs[i];
    EvalReportModel m;
    m.uid = r.uid;
    m.name = fs::path(r.path).filename().string();
    m.format = r.format;
    m.status = r.status;
    m.reason = r.reason;
    const at::Tensor row = losses[static_cast<int64_t>(i)];
    m.losses.assign(row.data_ptr<double>(), row.data_ptr<double>() + row.numel());
    m.mean_loss = outcome.mean_loss[i];
    m.win_rate = outcome.win_rate[i];
    m.composite = outcome.composite[i];
    m.weight = outcome.weight[i];
    m.seconds = r.seconds;
    ranked.push_back(m);
  }
  return ranked;
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

void print_eval_table(const EvalOutcome& outcome) {
  std::printf("rules: %s\n", outcome.rules.c_str());
  std::printf("%6s %-28s %-10s %12s %9s %9s %8s %8s\n", "uid", "model", "status", "mean loss",
              "win rate", "composite", "weight*", "seconds");
  for (const EvalReportModel& m : ranked_models(outcome)) {
    std::printf("%6lld %-28s %-10s %12.6g %9.4f %9.4f %8.4f %8.2f%s%s\n",
                static_cast<long long>(m.uid), m.name.c_str(), m.status.c_str(), m.mean_loss,
                m.win_rate, m.composite, m.weight, m.seconds, m.reason.empty() ? "" : "  ",
                m.reason.c_str());
  }
  for (const EvalTaskRun& t : outcome.tasks) print_padding_hint(t.task, t.round.runs);
  std::printf(
      "* weight: the softmax of this round's composites alone (what these models would "
      "share if this round were all); a validator's weights come from its EMA over rounds\n");
}

std::string eval_result_json(const EvalOutcome& outcome) {
  const EvalTaskRun& first = outcome.tasks.front();
  // "seed_text": the seed as a string for readers whose numbers are doubles.
  nlohmann::ordered_json result = {{"seed", outcome.seed},
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
                                     {"data", first.data}}},
                                   {"tasks", nlohmann::ordered_json::array()},
                                   {"models", nlohmann::ordered_json::array()}};
  for (const EvalTaskRun& t : outcome.tasks) result["tasks"].push_back(task_json(t));
  for (size_t i : outcome.order) {
    const ModelRun& r = outcome.runs[i];
    nlohmann::ordered_json entry = {{"uid", r.uid}, {"file", r.path}, {"format", r.format}};
    if (r.format == "native") entry["group"] = r.group;
    const at::Tensor losses = first.round.losses.cpu()[static_cast<int64_t>(i)];
    entry.update(nlohmann::ordered_json{
        {"status", r.status},
        {"reason", r.reason},
        {"mean_loss", outcome.mean_loss[i]},
        {"losses", std::vector<double>(losses.data_ptr<double>(),
                                       losses.data_ptr<double>() + losses.numel())},
        {"win_rate", outcome.win_rate[i]},
        {"composite", outcome.composite[i]},
        {"weight", outcome.weight[i]},
        {"seconds",
         {{"load", r.load_seconds},
          {"forward", r.forward_seconds},
          {"loss", first.round.loss_seconds},
          {"total", r.seconds}}}});
    result["models"].push_back(entry);
  }
  return result.dump(1) + "\n";
}

void write_eval_report(const EvalReportRequest& request, const EvalOutcome& outcome) {
  const EvalTaskRun& first = outcome.tasks.front();
  EvalReport report;
  report.seed = outcome.seed;
  report.data = first.data;
  report.quantiles = first.quantiles;
  report.series = request.series;
  report.fan_uids = request.uids;
  report.models = ranked_models(outcome);
  const at::Tensor series = at::tensor(report.series, at::kLong).to(first.round.forecasts.device());
  const at::Tensor forecasts = first.round.forecasts.index_select(1, series).cpu().contiguous();
  for (size_t k : fan_models(report)) {
    const at::Tensor mine = forecasts[static_cast<int64_t>(outcome.order[k])];
    report.models[k].forecasts.assign(mine.data_ptr<float>(),
                                      mine.data_ptr<float>() + mine.numel());
  }
  const ChartLibrary chart = find_chart_library();
  write_file_atomically(request.path,
                        eval_report_html(chart, eval_report_document(report, first.task)));
  std::printf("report: %s (%zu series%s)\n", request.path.c_str(), report.series.size(),
              chart.script.empty() ? (", as tables: " + chart.missing_reason).c_str()
                                   : ", charts by Chart.js");
}

}  // namespace crucible
