#include "eval_report.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <random>
#include <set>
#include <string>

#include "cli_error.h"
#include "crucible/common/json_number.h"
#include "page_assets.h"

namespace crucible {
namespace {

// The finite losses, sorted.
std::vector<double> sorted_finite(const std::vector<double>& losses) {
  std::vector<double> finite;
  for (double loss : losses) {
    if (std::isfinite(loss)) finite.push_back(loss);
  }
  std::sort(finite.begin(), finite.end());
  return finite;
}

// The percentiles 0, 1, ..., 100 of `sorted` values, interpolated linearly
// between order statistics (numpy.percentile's default); empty for none.
std::vector<double> percentiles(const std::vector<double>& sorted) {
  std::vector<double> result;
  if (sorted.empty()) return result;
  for (int p = 0; p <= 100; ++p) {
    const double position = p / 100.0 * static_cast<double>(sorted.size() - 1);
    const size_t below = static_cast<size_t>(std::floor(position));
    const size_t above = std::min(below + 1, sorted.size() - 1);
    const double fraction = position - static_cast<double>(below);
    result.push_back(sorted[below] + (sorted[above] - sorted[below]) * fraction);
  }
  return result;
}

// A float for JSON in its shortest decimal form ("0.06069261", not the 17
// digits of its double), which reads back as the same float: it halves the
// size of a page's series.
nlohmann::ordered_json float_or_null(float value) {
  if (!std::isfinite(value)) return nlohmann::ordered_json();
  char text[32];
  const std::to_chars_result written = std::to_chars(text, text + sizeof text, value);
  return std::strtod(std::string(text, written.ptr).c_str(), nullptr);
}

// Series report.series[k], with the forecasts of the models `drawn` (fan_models).
nlohmann::ordered_json series_document(const EvalReport& report, const TaskData& task, size_t k,
                                       const std::vector<size_t>& drawn) {
  const int64_t j = report.series[k];
  const int64_t length = task.input_lengths[j];
  const int64_t horizon = task.target_lengths[j];
  const int64_t shown = std::min(
      length, std::clamp(kContextShownPerHorizon * horizon, kMinContextShown, kMaxContextShown));
  const float* input = task.inputs.data() + j * task.input_width;
  const float* target = task.targets.data() + j * task.target_width;
  nlohmann::ordered_json forecasts = nlohmann::ordered_json::object();
  const size_t levels = report.quantiles.size();
  for (size_t m : drawn) {
    const EvalReportModel& model = report.models[m];
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (int64_t t = 0; t < horizon; ++t) {
      const float* row =
          model.forecasts.data() +
          (static_cast<int64_t>(k) * task.target_width + t) * static_cast<int64_t>(levels);
      nlohmann::ordered_json values = nlohmann::ordered_json::array();
      for (size_t q = 0; q < levels; ++q) values.push_back(float_or_null(row[q]));
      rows.push_back(values);
    }
    forecasts[std::to_string(model.uid)] = rows;
  }
  nlohmann::ordered_json context = nlohmann::ordered_json::array();
  for (int64_t t = length - shown; t < length; ++t) context.push_back(float_or_null(input[t]));
  nlohmann::ordered_json truth = nlohmann::ordered_json::array();
  for (int64_t t = 0; t < horizon; ++t) truth.push_back(float_or_null(target[t]));
  const bool described = static_cast<size_t>(j) < task.descriptions.size();
  return {{"index", j},
          {"description", described ? task.descriptions[j] : ""},
          {"context_length", length},
          {"context", context},
          {"target", truth},
          {"forecasts", forecasts}};
}

}  // namespace

std::vector<int64_t> report_series(const TaskData& task, const std::vector<int64_t>& chosen,
                                   uint64_t seed) {
  if (!chosen.empty()) {
    if (chosen.size() > kMaxReportSeries) {
      throw CliError("--report-series: at most " + std::to_string(kMaxReportSeries) +
                     " series, got " + std::to_string(chosen.size()));
    }
    std::set<int64_t> seen;
    for (int64_t j : chosen) {
      if (j < 0 || j >= task.num_series) {
        throw CliError("--report-series: " + std::to_string(j) + " is not a series of the task (" +
                       std::to_string(task.num_series) + " series, 0 to " +
                       std::to_string(task.num_series - 1) + ")");
      }
      if (!seen.insert(j).second) {
        throw CliError("--report-series: " + std::to_string(j) + " is named twice");
      }
    }
    return chosen;
  }
  // A partial Fisher-Yates shuffle of the series with a target, driven by
  // mt19937_64 (its output is fixed by the standard, so every machine picks
  // the same series for a seed).
  std::vector<int64_t> candidates;
  for (int64_t j = 0; j < task.num_series; ++j) {
    if (task.target_lengths[j] > 0) candidates.push_back(j);
  }
  std::mt19937_64 random(seed);
  const size_t count = std::min(kDefaultReportSeries, candidates.size());
  for (size_t i = 0; i < count; ++i) {
    const size_t other = i + static_cast<size_t>(random() % (candidates.size() - i));
    std::swap(candidates[i], candidates[other]);
  }
  candidates.resize(count);
  std::sort(candidates.begin(), candidates.end());
  return candidates;
}

std::vector<size_t> fan_models(const EvalReport& report) {
  const std::vector<int64_t>& chosen = report.fan_uids;
  std::vector<size_t> drawn;
  for (size_t i = 0; i < report.models.size() && drawn.size() < kMaxFanModels; ++i) {
    const EvalReportModel& m = report.models[i];
    const bool named =
        chosen.empty() || std::find(chosen.begin(), chosen.end(), m.uid) != chosen.end();
    if (named && m.status == "ok") drawn.push_back(i);
  }
  return drawn;
}

nlohmann::ordered_json eval_report_document(const EvalReport& report, const TaskData& task) {
  nlohmann::ordered_json models = nlohmann::ordered_json::array();
  for (size_t i = 0; i < report.models.size(); ++i) {
    const EvalReportModel& m = report.models[i];
    const std::vector<double> finite = sorted_finite(m.losses);
    models.push_back({{"rank", i + 1},
                      {"uid", m.uid},
                      {"name", m.name},
                      {"format", m.format},
                      {"status", m.status},
                      {"reason", m.reason},
                      {"mean_loss", json_number(m.mean_loss)},
                      {"win_rate", m.win_rate},
                      {"composite", m.composite},
                      {"weight", m.weight},
                      {"seconds", m.seconds},
                      {"finite_series", finite.size()},
                      {"loss_percentiles", percentiles(finite)}});
  }
  nlohmann::ordered_json fan_uids = nlohmann::ordered_json::array();
  const std::vector<size_t> drawn = fan_models(report);
  for (size_t m : drawn) fan_uids.push_back(report.models[m].uid);
  // Named by --report-uids but not scored: no forecast to draw.
  nlohmann::ordered_json fan_unscored = nlohmann::ordered_json::array();
  for (const EvalReportModel& m : report.models) {
    const bool named =
        std::find(report.fan_uids.begin(), report.fan_uids.end(), m.uid) != report.fan_uids.end();
    if (named && m.status != "ok") fan_unscored.push_back(m.uid);
  }
  nlohmann::ordered_json series = nlohmann::ordered_json::array();
  for (size_t k = 0; k < report.series.size(); ++k) {
    series.push_back(series_document(report, task, k, drawn));
  }
  return {{"seed", report.seed},
          {"seed_text", std::to_string(report.seed)},
          {"data", report.data},
          {"metric", "CRPS"},
          {"series_count", task.num_series},
          {"horizon", task.target_width},
          {"quantiles", report.quantiles},
          {"models", models},
          {"fan_chosen", !report.fan_uids.empty()},
          {"fan_uids", fan_uids},
          {"fan_unscored", fan_unscored},
          {"series", series}};
}

std::string eval_report_html(const ChartLibrary& chart, const nlohmann::ordered_json& document) {
  ChartPage page;
  page.title = "crucible eval";
  page.detail = "seed " + std::to_string(document["seed"].get<uint64_t>()) + ", data " +
                document["data"].get<std::string>() + ", " +
                std::to_string(document["series_count"].get<int64_t>()) + " series";
  page.attributes = {{"data-mode", "eval"}};
  page.charts = {{"loss_spread", "Per-series loss by model"},
                 {"loss_cdf", "Share of series under a loss"}};
  for (size_t k = 0; k < document["series"].size(); ++k) {
    page.charts.push_back(
        {"fan-" + std::to_string(k),
         "Series " + document["series"][k]["index"].dump() + ": forecasts against the truth"});
  }
  page.data_id = "crucible-eval";
  page.data = document;
  page.script = kEvalReportScript;
  return chart_page_html(chart, page);
}

}  // namespace crucible
