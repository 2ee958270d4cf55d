// `crucible eval`: what a validator would score for a folder of models on one
// task — a ranked table and result.json. A miner runs exactly this.
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "cli_error.h"
#include "cli_options.h"
#include "commands.h"
#include "competition_rules.h"
#include "crucible/common/files.h"
#include "crucible/common/model_files.h"
#include "crucible/engine/data/synthetic_gp_torch.h"
#include "crucible/engine/device.h"
#include "crucible/engine/models/native/native_model.h"
#include "crucible/engine/models/torchscript/worker_pool.h"
#include "crucible/engine/round/model_runner.h"
#include "crucible/engine/scoring/model_scoring.h"
#include "crucible/engine/scoring/quantile_levels.h"
#include "crucible/engine/scoring/series_losses.h"
#include "crucible/validator/engine_round_evaluator.h"
#include "crucible/validator/rewards.h"
#include "eval_output.h"
#include "eval_report.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

struct EvalOptions {
  std::string models_dir, data_dir, quantiles, out, report;
  std::vector<int64_t> report_series;  // --report-series
  std::vector<int64_t> report_uids;    // --report-uids
  std::string device = "auto";
  std::string precision = "fp32";
  std::string isolation = "process";
  SyntheticGpOptions task;
  double timeout = 120.0;
  int jobs = 2;
  long long memory_limit_mib = 0;
  long long memory_budget_mib = 0;
  const CLI::Option* series_option = nullptr;  // to tell whether --series / --length were given
  const CLI::Option* length_option = nullptr;
  CompetitionRulesOptions rules;  // --schedule, --competition, --block, the limits
  int64_t mine = -1;              // --mine: the uid the report draws first; -1: none
  const CLI::Option* mine_option = nullptr;
};

// Throws CliError naming the files of any uid that two candidates share.
void check_distinct_uids(const std::vector<CandidateModel>& models) {
  std::map<int64_t, std::string> first;
  for (const CandidateModel& m : models) {
    const auto [found, added] = first.emplace(m.uid, m.path);
    if (!added) {
      throw CliError("uid " + std::to_string(m.uid) + " is shared by " + found->second + " and " +
                     m.path + " (uid = the first number in the name)");
    }
  }
}

void check_output_folder(const std::string& flag, const std::string& path) {
  const fs::path folder = fs::absolute(path).parent_path();
  std::error_code error;
  if (!fs::is_directory(folder, error)) {
    throw CliError(flag + ": " + folder.string() + ": no such folder");
  }
}

// --report-uids: at most kMaxFanModels uids, each of a model in the folder, once.
void check_report_uids(const std::vector<int64_t>& uids,
                       const std::vector<CandidateModel>& models) {
  if (uids.size() > kMaxFanModels) {
    throw CliError("--report-uids: at most " + std::to_string(kMaxFanModels) + " uids, got " +
                   std::to_string(uids.size()));
  }
  for (size_t i = 0; i < uids.size(); ++i) {
    if (std::find(uids.begin(), uids.begin() + i, uids[i]) != uids.begin() + i) {
      throw CliError("--report-uids: " + std::to_string(uids[i]) + " is named twice");
    }
    const bool found = std::any_of(models.begin(), models.end(),
                                   [&](const CandidateModel& m) { return m.uid == uids[i]; });
    if (!found) {
      throw CliError("--report-uids: no model in the folder has uid " + std::to_string(uids[i]));
    }
  }
}

// Checks that need no model to run: the output folders, a memory limit a
// worker can start under, --series / --length only for a synthetic task,
// --report-series only with --report.
void check_options(const EvalOptions& o) {
  check_output_folder("--out", o.out);
  if (!o.report.empty()) check_output_folder("--report", o.report);
  if (o.report.empty() && !o.report_series.empty()) {
    throw CliError("--report-series: chooses the series of --report's charts; add --report FILE");
  }
  if (o.report.empty() && !o.report_uids.empty()) {
    throw CliError("--report-uids: chooses the models of --report's charts; add --report FILE");
  }
  check_worker_memory_limit(o.memory_limit_mib);
  if (o.memory_budget_mib < 0) throw CliError("--gpu-memory-budget: expected MiB >= 0");
  if (!o.data_dir.empty() && (o.series_option->count() > 0 || o.length_option->count() > 0)) {
    throw CliError(
        "--series and --length shape the synthetic task; with --data the task folder "
        "sets them (drop them, or drop --data)");
  }
}

// A round in which every model failed the same way (two or more models,
// "failed" or "crashed", one reason) points at the machine, not the models.
void check_not_all_failed_alike(const std::vector<ModelRun>& runs) {
  if (runs.size() < 2) return;
  for (const ModelRun& r : runs) {
    if ((r.status != "failed" && r.status != "crashed") || r.reason != runs.front().reason) return;
  }
  throw CliError("every model failed the same way (" + runs.front().status + ": " +
                 runs.front().reason + "); result.json was written");
}

// uid = the first number in `name` (at most 9 digits), else `fallback`.
int64_t uid_from_name(const std::string& name, int64_t fallback) {
  const size_t digit = name.find_first_of("0123456789");
  return digit == std::string::npos ? fallback : std::stoll(name.substr(digit, 9));
}

// True for what a validator could be asked to run: a folder with model.pt,
// or a folder with config.json (native, or refused with the reason).
bool is_model_folder(const std::string& path) {
  return is_native_model_folder(path) || model_layout(path) == ModelLayout::kTorchScript;
}

// The candidates: `dir` itself when it is one model's folder, else what it
// holds, sorted: every *.pt file and every model folder (a folder with
// model.pt, or with config.json); uid = the first number in the name, else
// the position.
std::vector<CandidateModel> list_models(const std::string& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) throw CliError("--models: " + dir + ": not a folder");
  if (is_model_folder(dir)) {
    const std::string name = fs::path(dir).lexically_normal().filename().string();
    return {{uid_from_name(
                 name.empty() ? fs::absolute(dir).parent_path().filename().string() : name, 0),
             dir}};
  }
  std::vector<std::string> paths;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, error)) {
    if ((e.path().extension() == ".pt" && !e.is_directory()) ||
        is_model_folder(e.path().string())) {
      paths.push_back(e.path().string());
    }
  }
  if (error) throw CliError(dir + ": cannot list the folder: " + error.message());
  if (paths.empty()) {
    throw CliError(dir +
                   ": no models in the folder (*.pt files, or folders with model.pt or "
                   "config.json), and it is not a model folder itself");
  }
  std::sort(paths.begin(), paths.end());
  std::vector<CandidateModel> models;
  for (size_t i = 0; i < paths.size(); ++i) {
    models.push_back(
        {uid_from_name(fs::path(paths[i]).filename().string(), static_cast<int64_t>(i)), paths[i]});
  }
  return models;
}

// The competition eval plays: the schedule's, or one task from the flags.
CompetitionRules eval_rules(const EvalOptions& o) {
  CompetitionRules rules = chosen_rules(o.rules);
  if (!o.rules.schedule.empty()) return rules;
  TaskConfig task;
  task.name = o.data_dir.empty() ? "synthetic-gp" : "task-folder";
  task.dataset = o.data_dir.empty() ? "synthetic" : o.data_dir;
  task.series = o.task.num_series;
  task.length = o.task.length;
  task.samples_per_kernel = o.task.samples_per_kernel;
  task.quantiles =
      o.quantiles.empty()
          ? default_quantile_levels()
          : with_context("--quantiles", [&] { return parse_quantile_levels(o.quantiles); });
  rules.competition.tasks = {task};
  rules.description += "; one task";
  return rules;
}

// Task t of `competition` as a validator builds it (or --data's folder).
EvalTaskRun plan_task(const EvalOptions& o, const CompetitionConfig& competition, size_t t,
                      const c10::Device& device) {
  const TaskConfig& config = competition.tasks[t];
  double total_weight = 0.0;
  for (const TaskConfig& task : competition.tasks) total_weight += task.weight;
  EvalTaskRun run;
  run.name = config.name;
  run.weight = config.weight / total_weight;
  run.metric = config.metric;
  run.seed = task_seed(o.task.seed, t);
  run.quantiles = config.quantiles.empty() ? default_quantile_levels() : config.quantiles;
  if (o.rules.schedule.empty() && !o.data_dir.empty()) {
    run.data = o.data_dir;
    run.task = read_task_directory(o.data_dir);
    run.task.descriptions = task_descriptions(run);  // kept for the scored rows' kinds
  } else {
    run.data = config.dataset;
    run.task =
        build_round_task(config, run.seed, EngineEvaluatorOptions{}.real_dataset_horizon, device);
  }
  return run;
}

void run_eval(const EvalOptions& o) {
  check_options(o);
  EvalOutcome outcome;
  outcome.seed = o.task.seed;
  outcome.mine = o.mine;
  const CompetitionRules rules = eval_rules(o);
  const CompetitionConfig& competition = rules.competition;
  outcome.rules = rules.description;
  outcome.limits.max_file_bytes = competition.max_file_bytes;
  outcome.limits.max_parameters = competition.max_parameters;
  RunnerOptions runner;
  runner.isolate = o.isolation == "process";
  runner.parallel_workers = std::max(1, o.jobs);
  runner.timeout_seconds = o.timeout;
  runner.memory_limit_bytes = o.memory_limit_mib << 20;
  runner.limits = outcome.limits;
  const c10::Device device = with_context("--device", [&] { return parse_device(o.device); });
  runner.device = device.str();
  runner.native_precision =
      with_context("--precision", [&] { return parse_native_precision(o.precision, device); });
  runner.memory_budget_bytes = o.memory_budget_mib << 20;
  const std::vector<CandidateModel> models = list_models(o.models_dir);
  check_distinct_uids(models);
  check_report_uids(o.report_uids, models);
  if (o.mine_option->count() > 0 &&
      std::none_of(models.begin(), models.end(),
                   [&](const CandidateModel& m) { return m.uid == o.mine; })) {
    throw CliError("--mine: no model in " + o.models_dir + " has uid " + std::to_string(o.mine));
  }
  std::vector<int64_t> uids;
  for (const CandidateModel& m : models) uids.push_back(m.uid);

  for (size_t t = 0; t < competition.tasks.size(); ++t) {
    outcome.tasks.push_back(plan_task(o, competition, t, device));
  }
  EvalReportRequest request;
  if (!o.report.empty()) {
    request.path = o.report;
    request.series =
        report_series(scored_view(outcome.tasks.front().task), o.report_series, o.task.seed);
    request.uids = o.report_uids;
    request.mine = o.mine;
  }

  const TemporaryFolder temp("crucible-eval");
  std::vector<ModelLosses> per_model(models.size());
  for (size_t i = 0; i < models.size(); ++i) {
    per_model[i].uid = models[i].uid;
    per_model[i].status = "ok";
  }
  for (size_t t = 0; t < outcome.tasks.size(); ++t) {
    EvalTaskRun& run = outcome.tasks[t];
    const std::string task_dir = temp.path() + "/task" + std::to_string(t);
    write_task_directory(run.task, task_dir);
    runner.quantiles = run.quantiles;
    runner.metric = with_context("metric", [&] { return parse_loss_metric(run.metric); });
    run.round = run_round(models, run.task, task_dir, runner);
    if (has_groups(run.task)) {  // the report and the per-series views show the scored rows
      const std::vector<int64_t> rows = scored_rows(run.task);
      run.round.forecasts = run.round.forecasts.index_select(
          1, at::tensor(rows, at::kLong).to(run.round.forecasts.device()));
      run.task = scored_view(run.task);
    }
    const at::Tensor losses = run.round.losses.to(at::kCPU, at::kDouble).contiguous();
    for (size_t i = 0; i < models.size(); ++i) {
      const double* row = losses.data_ptr<double>() + static_cast<int64_t>(i) * losses.size(1);
      add_task_run(per_model[i], run.round.runs[i], std::vector<double>(row, row + losses.size(1)));
    }
    ScoringOptions scoring;
    scoring.seed = run.seed;
    run.scores = score_models(run.round.losses, uids, scoring);
  }

  const std::vector<RoundModelResult> combined = score_round(competition, o.task.seed, per_model);
  for (size_t i = 0; i < models.size(); ++i) {
    ModelRun run = outcome.tasks.front().round.runs[i];
    for (const EvalTaskRun& t : outcome.tasks) {
      if (run.status == "ok" && t.round.runs[i].status != "ok") run = t.round.runs[i];
    }
    run.seconds = combined[i].seconds;
    outcome.runs.push_back(run);
    outcome.mean_loss.push_back(combined[i].mean_loss);
    outcome.win_rate.push_back(combined[i].win_rate);
    outcome.composite.push_back(combined[i].composite);
  }
  outcome.weight = competition_weights(outcome.composite, RewardConfig{});
  outcome.order.resize(models.size());
  for (size_t i = 0; i < models.size(); ++i) outcome.order[i] = i;
  std::stable_sort(outcome.order.begin(), outcome.order.end(),
                   [&](size_t a, size_t b) { return outcome.composite[a] > outcome.composite[b]; });

  EvalRanking ranking = rank_eval_models(outcome);
  print_eval_table(outcome, ranking);
  write_file_atomically(o.out, eval_result_json(outcome, ranking));
  if (!request.path.empty()) write_eval_report(request, outcome, std::move(ranking));
  check_not_all_failed_alike(outcome.runs);
}

// An entry of a comma-separated list of `what` (0, 1, ...): CLI11 alone
// would read "" as 0 and take a negative number.
CLI::Validator whole_numbers(const std::string& what) {
  return CLI::Validator(
      [what](std::string& text) {
        const bool digits = !text.empty() && text.size() < 10 &&
                            text.find_first_not_of("0123456789") == std::string::npos;
        return digits ? std::string() : "expected " + what + " 0, 1, ..., got \"" + text + "\"";
      },
      "LIST");
}

}  // namespace

CommandRun add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a folder of models on a task: table + JSON");
  cmd->add_option("--models", o->models_dir,
                  "one model's folder, or a folder of models: TorchScript *.pt files and "
                  "model folders (native: config.json + model.safetensors or shards; "
                  "TorchScript: model.pt)")
      ->required();
  o->length_option = cmd->add_option("--length", o->task.length, "series length L (synthetic task)")
                         ->capture_default_str();
  o->series_option = cmd->add_option("--series", o->task.num_series, "series S (synthetic task)")
                         ->capture_default_str();
  add_seed_option(cmd, o->task.seed, "round seed")->required();
  add_competition_rules_options(cmd, o->rules);
  o->rules.set_by_schedule.insert(
      o->rules.set_by_schedule.end(),
      {o->length_option, o->series_option,
       cmd->add_option("--quantiles", o->quantiles, "quantile levels (default 0.1,...,0.9)"),
       cmd->add_option("--data", o->data_dir, "a task folder from crucible synth instead")});
  cmd->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--precision", o->precision,
                  "native models' matrix products on CUDA: fp32 (what validators run) or tf32 "
                  "(faster, not bit-equal)")
      ->check(CLI::IsMember({"fp32", "tf32"}))
      ->capture_default_str();
  cmd->add_option("--timeout-per-model", o->timeout, "seconds")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--isolation", o->isolation, "process or none (trusted models only)")
      ->check(CLI::IsMember({"process", "none"}))
      ->capture_default_str();
  cmd->add_option("--jobs", o->jobs, "worker processes at once")->capture_default_str();
  cmd->add_option("--memory-limit-mib", o->memory_limit_mib, "per worker; 0 = none")
      ->capture_default_str();
  cmd->add_option("--gpu-memory-budget", o->memory_budget_mib,
                  "MiB for the models in flight on the device (host memory on a CPU); "
                  "0 = 90% of the free memory")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "result.json")->required();
  cmd->add_option("--report", o->report,
                  "also write this HTML page: ranking, loss distributions, forecast charts");
  cmd->add_option("--report-series", o->report_series,
                  "the series the report's forecast charts show, e.g. 0,5,7 (default: 3 picked "
                  "by --seed)")
      ->delimiter(',')
      ->check(whole_numbers("series numbers"));
  cmd->add_option("--report-uids", o->report_uids,
                  "the models the report's forecast charts show, e.g. 3,12 (default: the 6 "
                  "best-ranked)")
      ->delimiter(',')
      ->check(whole_numbers("uids"));
  o->mine_option =
      cmd->add_option("--mine", o->mine, "your model's uid: the report draws it first and marks it")
          ->check(CLI::NonNegativeNumber);
  return [o] { run_eval(*o); };
}

}  // namespace crucible
