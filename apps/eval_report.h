// `crucible eval --report eval.html`: one self-contained page of an
// evaluation, for a miner to see where a model is weak. It holds the ranked
// table (with the bootstrap interval, gap and separation behind each
// composite), each model's per-series loss distribution, its loss by horizon
// step and by series kind, and, for a few series, fan charts of the models'
// quantile bands against the context and the true target. Built from plain
// values (eval_output.cpp takes them out of the round's tensors), drawn by
// apps/pages/eval_report.js.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chart_page.h"
#include "crucible/engine/data/task_data.h"

namespace crucible {

// Series picked by seed when --report-series is not given.
constexpr size_t kDefaultReportSeries = 3;
// The most series one report draws (--report-series longer is refused).
constexpr size_t kMaxReportSeries = 12;
// Fan charts draw the best-ranked scored models (--mine's first, or those
// --report-uids names), at most this many.
constexpr size_t kMaxFanModels = 6;
// The loss-by-step chart draws this many scored models at most (--mine's
// first, then the best-ranked); as many as the palette has distinct colours.
constexpr size_t kMaxStepModels = 12;
// Series kinds beyond this many (a real dataset with many series names) are
// pooled as "other".
constexpr size_t kMaxSeriesKinds = 12;
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

// The kind of a series, from its description (TaskData::descriptions): for a
// synthetic series (its GP kernel, e.g. "(0.5*Periodic(...) + 1.2*RBF(...))")
// the traits its kernel's families give, joined by " + " in this order:
// "periodic" (Periodic, LocallyPeriodic, Spectral), "trend" (DotProduct,
// Polynomial, ArcCosine), "change point" (ChangePoint), or "stationary" when
// it has none of them (RBF, RationalQuadratic, Matern, WhiteNoise, Constant
// only); for a window of a real dataset ("NAME[start:cut]+H") its series
// name NAME; "unknown" for an empty description; else the description.
std::string series_kind(const std::string& description);

// The kinds of a task's series, most series first (then by name), at most
// kMaxSeriesKinds: beyond kMaxSeriesKinds - 1 kinds, the rarer ones are
// pooled as "other", last. `kind_of[j]` is series j's index into `names`.
struct SeriesKinds {
  std::vector<std::string> names;
  std::vector<int64_t> series;  // per kind: how many series
  std::vector<size_t> kind_of;  // per series
};
SeriesKinds series_kinds(const std::vector<std::string>& descriptions, int64_t num_series);

// A model's scores (docs/scoring.md section 4): its mean loss, win rate and
// composite, and the parts of the composite: the bootstrap interval of the
// mean loss, the aggregate gap and the separation.
struct EvalScores {
  double mean_loss = 0, win_rate = 0, composite = 0;
  double ci_lo = 0, ci_hi = 0, gap = 0, sep = 0;
};

// One task's scores of a model.
struct EvalTaskScores {
  std::string name;
  double weight = 1.0;  // the task's share of the combined scores
  EvalScores scores;
};

struct EvalReportModel {
  int64_t uid = 0;
  std::string name;  // the model's file or folder name
  std::string format, status, reason;
  // The task-weighted mean loss, win rate and composite; the first task's
  // interval, gap and separation.
  EvalScores scores;
  double weight = 0, seconds = 0;
  std::vector<EvalTaskScores> tasks;  // per task, when there are several
  std::vector<double> losses;         // per series of the (first) task
  // Per horizon step t: the mean over the series whose target reaches t of
  // the step's loss (NaN where none does, or the model was not scored).
  std::vector<double> loss_by_step;
  // Per kind of SeriesKinds: the mean of its series' non-NaN losses.
  std::vector<double> loss_by_kind;
  // [series.size(), target_width, quantiles] for the report's series, or
  // empty (a model that was not scored, or is not among the fan models).
  std::vector<float> forecasts;
};

struct EvalReport {
  uint64_t seed = 0;
  std::string data;       // "synthetic" or the task folder
  std::string task_name;  // the (first) task's, which the page shows
  size_t task_count = 1;  // the competition's tasks
  std::string metric = "crps";
  std::vector<double> quantiles;
  std::vector<EvalReportModel> models;    // ranked, best first
  std::vector<int64_t> series;            // from report_series
  std::vector<int64_t> fan_uids;          // --report-uids; empty = the best-ranked
  int64_t mine = -1;                      // --mine; -1: none
  std::vector<std::string> descriptions;  // per series of the task, or empty
  SeriesKinds kinds;
  std::vector<int64_t> step_series;  // per horizon step: the series whose target reaches it
  std::vector<std::string> notes;    // eval_table_notes
};

// Scored models (status "ok") as indexes into report.models, at most `limit`:
// report.mine's first when it was scored, then the others in rank order.
std::vector<size_t> drawn_models(const EvalReport& report, size_t limit);

// The models whose forecasts the fan charts draw, as indexes into
// report.models: the scored ones of report.fan_uids (report.mine's first,
// then in rank order), or when that is empty drawn_models(kMaxFanModels).
std::vector<size_t> fan_models(const EvalReport& report);

// The notes under the ranked table (console and page): with one model, why
// its win rate, composite and weight are 0.
std::vector<std::string> eval_table_notes(size_t model_count);

// The colours of the ranked models (#rrggbb): report.mine's is kMineColour,
// the other scored models take a palette of 12 in rank order, so the first
// 12 are distinct (then it repeats); unscored models are grey.
constexpr const char* kMineColour = "#d62728";
std::vector<std::string> model_colours(const EvalReport& report);

// Doubles as JSON numbers, null for NaN and infinities (JSON has neither).
nlohmann::ordered_json json_numbers(const std::vector<double>& values);
// [{"kind", "series"}], one per kind.
nlohmann::ordered_json kinds_json(const SeriesKinds& kinds);
// {"mean_loss", "win_rate", "composite", "ci_lo", "ci_hi", "gap", "sep"}.
nlohmann::ordered_json scores_json(const EvalScores& scores);
// [{"name", "weight", "mean_loss", "win_rate", "composite", "ci_lo", "ci_hi",
// "gap", "sep"}], one per task.
nlohmann::ordered_json task_scores_json(const std::vector<EvalTaskScores>& tasks);

// The page's data (the JSON inlined in it; docs/models.md describes it).
nlohmann::ordered_json eval_report_document(const EvalReport& report, const TaskData& task);

std::string eval_report_html(const ChartLibrary& chart, const nlohmann::ordered_json& document);

}  // namespace crucible
