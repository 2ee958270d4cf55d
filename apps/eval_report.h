// `crucible eval --report eval.html`: one self-contained page of an
// evaluation, for a miner to see where a model is wrong. It holds the ranked
// table, each model's per-series loss distribution, and, for a few series,
// fan charts of each model's quantile bands against the context and the true
// target. Built from plain values (eval_command.cpp takes them out of the
// round's tensors), drawn by apps/pages/eval_report.js.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chart_page.h"
#include "crucible/engine/task_data.h"

namespace crucible {

// Series picked by seed when --report-series is not given.
constexpr size_t kDefaultReportSeries = 3;
// The most series one report draws (--report-series longer is refused).
constexpr size_t kMaxReportSeries = 12;
// Fan charts draw the best-ranked scored models (or those --report-uids
// names), at most this many.
constexpr size_t kMaxFanModels = 6;
// A fan chart shows the last 3 x horizon points of the context, at least 64
// (when the context has them) and at most 512, so the forecast stays wide.
constexpr int64_t kContextShownPerHorizon = 3;
constexpr int64_t kMinContextShown = 64;
constexpr int64_t kMaxContextShown = 512;

// The series a report draws: `chosen` (--report-series) checked against the
// task (distinct, 0 to num_series - 1, at most kMaxReportSeries; throws
// CliError naming the flag), or when empty kDefaultReportSeries series with
// a target picked by `seed`, in increasing order.
std::vector<int64_t> report_series(const TaskData& task, const std::vector<int64_t>& chosen,
                                   uint64_t seed);

struct EvalReportModel {
  int64_t uid = 0;
  std::string name;  // the model's file or folder name
  std::string format, status, reason;
  double mean_loss = 0, win_rate = 0, composite = 0, weight = 0, seconds = 0;
  std::vector<double> losses;  // per series of the task
  // [series.size(), target_width, quantiles] for the report's series, or
  // empty (a model that was not scored, or is not among the fan models).
  std::vector<float> forecasts;
};

struct EvalReport {
  uint64_t seed = 0;
  std::string data;  // "synthetic" or the task folder
  std::vector<double> quantiles;
  std::vector<EvalReportModel> models;  // ranked, best first
  std::vector<int64_t> series;          // from report_series
  std::vector<int64_t> fan_uids;        // --report-uids; empty = the best-ranked
};

// The models whose forecasts the fan charts draw, as indexes into
// report.models, in rank order: the scored ones (status "ok") of
// report.fan_uids, or when that is empty the first kMaxFanModels scored.
std::vector<size_t> fan_models(const EvalReport& report);

// The page's data (the JSON inlined in it; docs/models.md describes it).
nlohmann::ordered_json eval_report_document(const EvalReport& report, const TaskData& task);

std::string eval_report_html(const ChartLibrary& chart, const nlohmann::ordered_json& document);

}  // namespace crucible
