#include "eval_report.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <map>
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
  const bool described = static_cast<size_t>(j) < report.descriptions.size();
  const size_t kind = report.kinds.kind_of.at(static_cast<size_t>(j));
  return {{"index", j},
          {"description", described ? report.descriptions[j] : ""},
          {"kind", report.kinds.names.at(kind)},
          {"context_length", length},
          {"context", context},
          {"target", truth},
          {"forecasts", forecasts}};
}

// The page's own rules: the --mine row, the notes and explanations, the
// loss-by-kind table's cells and the fan charts' captions.
constexpr const char* kEvalReportStyle = R"css(
tr.mine td { background: #fdeaea; font-weight: 600; }
tr.mine td:first-child { box-shadow: inset 5px 0 #d62728; }
p.note { background: #fff7e0; border-left: 5px solid #e0a800; padding: 6px 10px; max-width: 1100px; }
p.explain { color: #444; max-width: 1100px; margin: -12px 0 20px; }
td.heat { min-width: 90px; }
td.heat small { color: #555; }
p.caption { color: #555; font-size: 12px; margin: 6px 0 0; overflow-wrap: anywhere; }
)css";

// The palette of the models other than --mine's: Tableau 10 without its red
// (kMineColour) and grey (the context's line), then navy, dark olive, light
// orange and purple: with kMineColour, every pair at least 27 apart in
// CIELAB (Delta E 1976).
const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
                                "#17becf", "#bcbd22", "#000080", "#637939", "#ffbb78", "#aa00aa"};
constexpr const char* kUnscoredColour = "#9e9e9e";

// The kernel families of a synthetic series' description: each term is
// written VARIANCE*Family(...), so the names between a '*' and a '('.
std::vector<std::string> kernel_families(const std::string& description) {
  std::vector<std::string> names;
  for (size_t star = description.find('*'); star != std::string::npos;
       star = description.find('*', star + 1)) {
    size_t end = star + 1;
    while (end < description.size() && std::isalpha(static_cast<unsigned char>(description[end]))) {
      ++end;
    }
    if (end > star + 1 && end < description.size() && description[end] == '(') {
      names.push_back(description.substr(star + 1, end - star - 1));
    }
  }
  return names;
}

// "NAME[start:cut]+H" (real_datasets.cpp's window) -> NAME, else "".
std::string window_series_name(const std::string& description) {
  const size_t open = description.rfind('[');
  if (open == std::string::npos || open == 0) return "";
  const std::string rest = description.substr(open);
  size_t at = 1;
  auto digits = [&] {
    const size_t from = at;
    while (at < rest.size() && std::isdigit(static_cast<unsigned char>(rest[at]))) ++at;
    return at > from;
  };
  const bool window = digits() && at < rest.size() && rest[at++] == ':' && digits() &&
                      rest.compare(at, 2, "]+") == 0 && (at += 2, digits()) && at == rest.size();
  return window ? description.substr(0, open) : "";
}

}  // namespace

nlohmann::ordered_json json_numbers(const std::vector<double>& values) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (double v : values) list.push_back(json_number(v));
  return list;
}

nlohmann::ordered_json kinds_json(const SeriesKinds& kinds) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (size_t k = 0; k < kinds.names.size(); ++k) {
    list.push_back({{"kind", kinds.names[k]}, {"series", kinds.series[k]}});
  }
  return list;
}

nlohmann::ordered_json scores_json(const EvalScores& scores) {
  return {{"mean_loss", json_number(scores.mean_loss)},
          {"win_rate", json_number(scores.win_rate)},
          {"composite", json_number(scores.composite)},
          {"ci_lo", json_number(scores.ci_lo)},
          {"ci_hi", json_number(scores.ci_hi)},
          {"gap", json_number(scores.gap)},
          {"sep", json_number(scores.sep)}};
}

nlohmann::ordered_json task_scores_json(const std::vector<EvalTaskScores>& tasks) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const EvalTaskScores& t : tasks) {
    nlohmann::ordered_json entry = {{"name", t.name}, {"weight", t.weight}};
    entry.update(scores_json(t.scores));
    list.push_back(entry);
  }
  return list;
}

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

std::string series_kind(const std::string& description) {
  if (description.empty()) return "unknown";
  const std::vector<std::string> families = kernel_families(description);
  if (families.empty()) {
    const std::string name = window_series_name(description);
    return name.empty() ? description : name;
  }
  auto has = [&](std::initializer_list<const char*> wanted) {
    return std::any_of(families.begin(), families.end(), [&](const std::string& f) {
      return std::find(wanted.begin(), wanted.end(), f) != wanted.end();
    });
  };
  std::string kind;
  auto add = [&](const char* trait) { kind += (kind.empty() ? "" : " + ") + std::string(trait); };
  if (has({"Periodic", "LocallyPeriodic", "Spectral"})) add("periodic");
  if (has({"DotProduct", "Polynomial", "ArcCosine"})) add("trend");
  if (has({"ChangePoint"})) add("change point");
  return kind.empty() ? "stationary" : kind;
}

SeriesKinds series_kinds(const std::vector<std::string>& descriptions, int64_t num_series) {
  std::vector<std::string> kind(static_cast<size_t>(num_series), "unknown");
  std::map<std::string, int64_t> counts;
  for (size_t j = 0; j < kind.size(); ++j) {
    if (j < descriptions.size()) kind[j] = series_kind(descriptions[j]);
    ++counts[kind[j]];
  }
  std::vector<std::pair<std::string, int64_t>> ranked(counts.begin(), counts.end());
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (ranked.size() > kMaxSeriesKinds) {
    int64_t pooled = 0;
    for (size_t k = kMaxSeriesKinds - 1; k < ranked.size(); ++k) pooled += ranked[k].second;
    ranked.resize(kMaxSeriesKinds - 1);
    ranked.emplace_back("other", pooled);
  }
  SeriesKinds kinds;
  std::map<std::string, size_t> index;
  for (const auto& [name, count] : ranked) {
    index[name] = kinds.names.size();
    kinds.names.push_back(name);
    kinds.series.push_back(count);
  }
  for (const std::string& k : kind) {
    const auto found = index.find(k);
    kinds.kind_of.push_back(found != index.end() ? found->second : kinds.names.size() - 1);
  }
  return kinds;
}

std::vector<size_t> drawn_models(const EvalReport& report, size_t limit) {
  std::vector<size_t> drawn;
  for (size_t i = 0; i < report.models.size(); ++i) {
    if (report.models[i].uid == report.mine && report.models[i].status == "ok") drawn.push_back(i);
  }
  for (size_t i = 0; i < report.models.size() && drawn.size() < limit; ++i) {
    const EvalReportModel& m = report.models[i];
    if (m.status == "ok" && m.uid != report.mine) drawn.push_back(i);
  }
  return drawn;
}

std::vector<size_t> fan_models(const EvalReport& report) {
  const std::vector<int64_t>& chosen = report.fan_uids;
  if (chosen.empty()) return drawn_models(report, kMaxFanModels);
  std::vector<size_t> drawn;
  for (size_t i : drawn_models(report, report.models.size())) {
    if (std::find(chosen.begin(), chosen.end(), report.models[i].uid) != chosen.end()) {
      drawn.push_back(i);
    }
  }
  return drawn;
}

std::vector<std::string> eval_table_notes(size_t model_count) {
  if (model_count != 1) return {};
  return {
      "note: one model ran, so there is nothing to compare it with: its win rate (the share "
      "of the other models it beats, per series) is 0, so its composite (win rate x sep) and "
      "weight* are 0 too; its mean loss still stands. Add baselines (crucible models "
      "make-baselines --out DIR) to the folder to compare"};
}

std::vector<std::string> model_colours(const EvalReport& report) {
  std::vector<std::string> colours;
  size_t next = 0;
  for (const EvalReportModel& m : report.models) {
    if (m.status != "ok") {
      colours.emplace_back(kUnscoredColour);
    } else if (m.uid == report.mine) {
      colours.emplace_back(kMineColour);
    } else {
      colours.emplace_back(kPalette[next++ % std::size(kPalette)]);
    }
  }
  return colours;
}

nlohmann::ordered_json eval_report_document(const EvalReport& report, const TaskData& task) {
  nlohmann::ordered_json models = nlohmann::ordered_json::array();
  const std::vector<std::string> colours = model_colours(report);
  for (size_t i = 0; i < report.models.size(); ++i) {
    const EvalReportModel& m = report.models[i];
    const std::vector<double> finite = sorted_finite(m.losses);
    nlohmann::ordered_json model = {{"rank", i + 1},        {"uid", m.uid},
                                    {"name", m.name},       {"mine", m.uid == report.mine},
                                    {"colour", colours[i]}, {"format", m.format},
                                    {"status", m.status},   {"reason", m.reason}};
    model.update(scores_json(m.scores));
    model.update(nlohmann::ordered_json{{"weight", m.weight},
                                        {"seconds", m.seconds},
                                        {"finite_series", finite.size()},
                                        {"loss_percentiles", percentiles(finite)},
                                        {"loss_by_step", json_numbers(m.loss_by_step)},
                                        {"loss_by_kind", json_numbers(m.loss_by_kind)}});
    if (!m.tasks.empty()) model["tasks"] = task_scores_json(m.tasks);
    models.push_back(model);
  }
  const std::vector<size_t> drawn = fan_models(report);
  nlohmann::ordered_json fan_uids = nlohmann::ordered_json::array();
  for (size_t m : drawn) fan_uids.push_back(report.models[m].uid);
  nlohmann::ordered_json step_uids = nlohmann::ordered_json::array();
  for (size_t m : drawn_models(report, kMaxStepModels)) step_uids.push_back(report.models[m].uid);
  // Named by --report-uids (or --mine) but not scored: no forecast to draw.
  nlohmann::ordered_json fan_unscored = nlohmann::ordered_json::array();
  for (const EvalReportModel& m : report.models) {
    const bool named =
        std::find(report.fan_uids.begin(), report.fan_uids.end(), m.uid) != report.fan_uids.end();
    if ((named || m.uid == report.mine) && m.status != "ok") fan_unscored.push_back(m.uid);
  }
  nlohmann::ordered_json series = nlohmann::ordered_json::array();
  for (size_t k = 0; k < report.series.size(); ++k) {
    series.push_back(series_document(report, task, k, drawn));
  }
  std::string metric = report.metric;
  for (char& c : metric) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return {{"seed", report.seed},
          {"seed_text", std::to_string(report.seed)},
          {"data", report.data},
          {"task", report.task_name},
          {"task_count", report.task_count},
          {"metric", metric},
          {"series_count", task.num_series},
          {"horizon", task.target_width},
          {"quantiles", report.quantiles},
          {"mine", report.mine >= 0 ? nlohmann::ordered_json(report.mine) : nullptr},
          {"notes", report.notes},
          {"models", models},
          {"kinds", kinds_json(report.kinds)},
          {"step_series", report.step_series},
          {"step_uids", step_uids},
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
                 {"loss_cdf", "Share of series under a loss"},
                 {"loss_by_step", "Loss by horizon step"}};
  for (size_t k = 0; k < document["series"].size(); ++k) {
    page.charts.push_back(
        {"fan-" + std::to_string(k),
         "Series " + document["series"][k]["index"].dump() + ": forecasts against the truth"});
  }
  page.data_id = "crucible-eval";
  page.data = document;
  page.style = kEvalReportStyle;
  page.script = kEvalReportScript;
  return chart_page_html(chart, page);
}

}  // namespace crucible
