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
#include "crucible/common/files.h"
#include "crucible/engine/device.h"
#include "crucible/engine/model_runner.h"
#include "crucible/engine/model_scoring.h"
#include "crucible/engine/native_model.h"
#include "crucible/engine/quantile_levels.h"
#include "crucible/engine/synthetic_gp_torch.h"
#include "crucible/engine/worker_pool.h"
#include "crucible/validator/rewards.h"
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

// The models in `order` (best first) with what the table, result.json and
// the report show of each.
std::vector<EvalReportModel> ranked_models(const RoundResult& round, const ModelScores& scores,
                                           const std::vector<double>& weights,
                                           const std::vector<size_t>& order) {
  const at::Tensor losses = round.losses.cpu();
  std::vector<EvalReportModel> ranked;
  for (size_t i : order) {
    const ModelRun& r = round.runs[i];
    EvalReportModel m;
    m.uid = r.uid;
    m.name = fs::path(r.path).filename().string();
    m.format = r.format;
    m.status = r.status;
    m.reason = r.reason;
    const at::Tensor row = losses[static_cast<int64_t>(i)];
    m.losses.assign(row.data_ptr<double>(), row.data_ptr<double>() + row.numel());
    m.mean_loss =
        r.status == "ok" ? row.nanmean().item<double>() : std::numeric_limits<double>::infinity();
    m.win_rate = scores.win_rate[i];
    m.composite = scores.composite[i];
    m.weight = weights[i];
    m.seconds = r.seconds;
    ranked.push_back(m);
  }
  return ranked;
}

// Writes --report: the ranked models (report.models, in `order`) with the
// fan models' forecasts of the report's series, taken from the round's device.
void write_eval_report(const EvalOptions& o, const TaskData& task, EvalReport report,
                       const RoundResult& round, const std::vector<size_t>& order) {
  const at::Tensor series = at::tensor(report.series, at::kLong).to(round.forecasts.device());
  const at::Tensor forecasts = round.forecasts.index_select(1, series).cpu().contiguous();
  for (size_t k : fan_models(report)) {
    const at::Tensor mine = forecasts[static_cast<int64_t>(order[k])];
    report.models[k].forecasts.assign(mine.data_ptr<float>(),
                                      mine.data_ptr<float>() + mine.numel());
  }
  const ChartLibrary chart = find_chart_library();
  write_file_atomically(o.report, eval_report_html(chart, eval_report_document(report, task)));
  std::printf("report: %s (%zu series%s)\n", o.report.c_str(), report.series.size(),
              chart.script.empty() ? (", as tables: " + chart.missing_reason).c_str()
                                   : ", charts by Chart.js");
}

// The candidates in the folder, sorted: every *.pt file (TorchScript) and
// every subfolder holding a config.json (native); uid = the first number in
// the name, else the position.
std::vector<CandidateModel> list_models(const std::string& dir) {
  std::vector<std::string> paths;
  std::error_code error;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, error)) {
    if ((e.path().extension() == ".pt" && !e.is_directory()) ||
        is_native_model_folder(e.path().string())) {
      paths.push_back(e.path().string());
    }
  }
  if (error) throw CliError(dir + ": cannot list the folder: " + error.message());
  if (paths.empty()) {
    throw CliError(dir + ": no models in the folder (*.pt files or folders with a config.json)");
  }
  std::sort(paths.begin(), paths.end());
  std::vector<CandidateModel> models;
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string name = fs::path(paths[i]).filename().string();
    const size_t digit = name.find_first_of("0123456789");
    const int64_t uid =
        digit == std::string::npos ? static_cast<int64_t>(i) : std::stoll(name.substr(digit, 9));
    models.push_back({uid, paths[i]});
  }
  return models;
}

void run_eval(const EvalOptions& o) {
  RunnerOptions runner;
  runner.isolate = o.isolation == "process";
  runner.parallel_workers = std::max(1, o.jobs);
  runner.timeout_seconds = o.timeout;
  check_options(o);
  runner.memory_limit_bytes = o.memory_limit_mib << 20;
  runner.quantiles =
      o.quantiles.empty()
          ? default_quantile_levels()
          : with_context("--quantiles", [&] { return parse_quantile_levels(o.quantiles); });
  const c10::Device device = with_context("--device", [&] { return parse_device(o.device); });
  runner.device = device.str();
  runner.native_precision =
      with_context("--precision", [&] { return parse_native_precision(o.precision, device); });
  runner.memory_budget_bytes = o.memory_budget_mib << 20;
  const std::vector<CandidateModel> models = list_models(o.models_dir);
  check_distinct_uids(models);
  check_report_uids(o.report_uids, models);

  const TemporaryFolder temp("crucible-eval");
  std::string task_dir = o.data_dir;
  TaskData task;
  if (o.data_dir.empty()) {
    task = generate_synthetic_gp(o.task, device);
    task_dir = temp.path() + "/task";
    write_task_directory(task, task_dir);
  } else {
    task = read_task_directory(o.data_dir);
  }
  const std::vector<int64_t> series =
      o.report.empty() ? std::vector<int64_t>{} : report_series(task, o.report_series, o.task.seed);
  const RoundResult round = run_round(models, task, task_dir, runner);

  std::vector<int64_t> uids;
  for (const ModelRun& r : round.runs) uids.push_back(r.uid);
  ScoringOptions scoring;
  scoring.seed = o.task.seed;
  const ModelScores scores = score_models(round.losses, uids, scoring);
  const std::vector<double> weights = competition_weights(scores.composite, RewardConfig{});
  std::vector<size_t> order(round.runs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return scores.composite[a] > scores.composite[b]; });
  EvalReport report;
  report.seed = o.task.seed;
  report.data = o.data_dir.empty() ? "synthetic" : o.data_dir;
  report.quantiles = runner.quantiles;
  report.series = series;
  report.fan_uids = o.report_uids;
  report.models = ranked_models(round, scores, weights, order);

  // "seed_text": the seed as a string for readers whose numbers are doubles.
  nlohmann::ordered_json result = {{"seed", o.task.seed},
                                   {"seed_text", std::to_string(o.task.seed)},
                                   {"task",
                                    {{"series", task.num_series},
                                     {"input_width", task.input_width},
                                     {"horizon", task.target_width},
                                     {"quantiles", runner.quantiles},
                                     {"data", report.data}}},
                                   {"models", nlohmann::json::array()}};
  std::printf("%6s %-28s %-10s %12s %9s %9s %8s %8s\n", "uid", "model", "status", "mean loss",
              "win rate", "composite", "weight*", "seconds");
  for (size_t k = 0; k < order.size(); ++k) {
    const ModelRun& r = round.runs[order[k]];
    const EvalReportModel& m = report.models[k];
    std::printf("%6lld %-28s %-10s %12.6g %9.4f %9.4f %8.4f %8.2f%s%s\n",
                static_cast<long long>(m.uid), m.name.c_str(), m.status.c_str(), m.mean_loss,
                m.win_rate, m.composite, m.weight, m.seconds, m.reason.empty() ? "" : "  ",
                m.reason.c_str());
    nlohmann::ordered_json entry = {{"uid", r.uid}, {"file", r.path}, {"format", r.format}};
    if (r.format == "native") entry["group"] = r.group;
    entry.update(nlohmann::ordered_json{{"status", m.status},
                                        {"reason", m.reason},
                                        {"mean_loss", m.mean_loss},
                                        {"losses", m.losses},
                                        {"win_rate", m.win_rate},
                                        {"composite", m.composite},
                                        {"weight", m.weight},
                                        {"seconds",
                                         {{"load", r.load_seconds},
                                          {"forward", r.forward_seconds},
                                          {"loss", round.loss_seconds},
                                          {"total", r.seconds}}}});
    result["models"].push_back(entry);
  }
  print_padding_hint(task, round.runs);
  std::printf(
      "* weight: the softmax of this round's composites alone (what these models would "
      "share if this round were all); a validator's weights come from its EMA over rounds\n");
  write_file_atomically(o.out, result.dump(1) + "\n");
  if (!o.report.empty()) {
    write_eval_report(o, task, std::move(report), round, order);
  }
  check_not_all_failed_alike(round.runs);
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
                  "folder of models: TorchScript *.pt files and native folders "
                  "(config.json + model.safetensors)")
      ->required();
  o->length_option = cmd->add_option("--length", o->task.length, "series length L (synthetic task)")
                         ->capture_default_str();
  o->series_option = cmd->add_option("--series", o->task.num_series, "series S (synthetic task)")
                         ->capture_default_str();
  add_seed_option(cmd, o->task.seed, "round seed")->required();
  cmd->add_option("--quantiles", o->quantiles, "quantile levels (default 0.1,...,0.9)");
  cmd->add_option("--data", o->data_dir, "a task folder from crucible synth instead");
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
  return [o] { run_eval(*o); };
}

}  // namespace crucible
