// What `crucible eval` ran, and its three outputs: the ranked table on the
// console, result.json and the --report page. eval_command.cpp runs the
// tasks and fills an EvalOutcome; this file only presents it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crucible/engine/data/task_data.h"
#include "crucible/engine/models/torchscript/model_inspector.h"
#include "crucible/engine/round/model_runner.h"
#include "crucible/engine/scoring/model_scoring.h"
#include "eval_report.h"

namespace crucible {

// One task of the evaluation, as a validator runs it: its data, every
// model's run and forecasts, and the scores of this task alone.
struct EvalTaskRun {
  std::string name = "synthetic-gp";
  double weight = 1.0;  // its share of each model's combined scores; the shares sum to 1
  std::string metric = "crps";
  uint64_t seed = 0;  // the task's own seed (task 0: the round seed)
  std::string data;   // "synthetic", a task folder or a dataset file
  std::vector<double> quantiles;
  TaskData task;      // host copy, with each series' description when known; after its
                      // round, the scored rows only (scored_view), as round.forecasts
  RoundResult round;  // runs in the order of the candidates
  ModelScores scores;
};

struct EvalOutcome {
  uint64_t seed = 0;
  std::string rules;  // where the limits and tasks came from, for the reader
  ModelLimits limits;
  std::vector<EvalTaskRun> tasks;  // at least one
  // Per model, in the candidates' order: the run (the first task's, or the
  // first failing one's) and the task-weighted scores a validator combines.
  std::vector<ModelRun> runs;
  std::vector<double> mean_loss, win_rate, composite, weight;
  std::vector<size_t> order;  // indexes of `runs`, best composite first
  int64_t mine = -1;          // --mine: the table marks this uid's row; -1: none
};

struct EvalReportRequest {
  std::string path;             // --report; empty: no page
  std::vector<int64_t> series;  // the series drawn (report_series)
  std::vector<int64_t> uids;    // --report-uids
  int64_t mine = -1;            // --mine; -1: none
};

// Each series' description: the task's own, or for a task folder (--data)
// the kernels.json that `crucible synth` wrote beside its arrays (an absent
// or unreadable one: none, and the kinds are "unknown").
std::vector<std::string> task_descriptions(const EvalTaskRun& t);

// What the table, result.json and the report show of each model, best first,
// computed once: the per-task scores, and on the first task the per-series
// losses, the loss by horizon step (every model's forecasts are read) and by
// series kind (a --data folder's kernels.json is read).
struct EvalRanking {
  std::vector<std::string> descriptions;  // the first task's series
  SeriesKinds kinds;
  std::vector<EvalReportModel> models;  // in outcome.order
};
EvalRanking rank_eval_models(const EvalOutcome& outcome);

// The ranked table and the notes under it, on stdout.
void print_eval_table(const EvalOutcome& outcome, const EvalRanking& ranking);

// result.json's document: the task, and per model its run, scores (with the
// first task's ci_lo, ci_hi, gap and sep, and per task with several), its
// loss by horizon step and by series kind (eval_report.h) on the first task.
std::string eval_result_json(const EvalOutcome& outcome, const EvalRanking& ranking);

// Writes the --report page for the first task.
void write_eval_report(const EvalReportRequest& request, const EvalOutcome& outcome,
                       EvalRanking ranking);

}  // namespace crucible
