#include "crucible/validator/step_report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "crucible/common/json_number.h"

namespace crucible {
namespace {

// A failure reason in metrics.jsonl: one line, at most this many bytes.
constexpr size_t kMaxLoggedReasonChars = 300;

std::string shortened(const std::string& text, size_t width) {
  return text.size() <= width ? text : text.substr(0, width - 2) + "..";
}

}  // namespace

std::string format_step_table(const StepReport& report) {
  std::vector<StepReportRow> rows = report.rows;
  std::stable_sort(rows.begin(), rows.end(), [](const StepReportRow& a, const StepReportRow& b) {
    if (a.weight != b.weight) return a.weight > b.weight;
    return a.composite > b.composite;
  });
  char line[512];
  std::string text;
  std::snprintf(line, sizeof line,
                "step %lld  block %lld  window %lld  competition %lld  seed %llu  %.1f s\n",
                static_cast<long long>(report.step), static_cast<long long>(report.block),
                static_cast<long long>(report.window),
                static_cast<long long>(report.competition_id),
                static_cast<unsigned long long>(report.seed), report.seconds);
  text += line;
  std::snprintf(line, sizeof line, "%5s %-12s %-28s %-10s %11s %8s %9s %8s %8s\n", "uid", "hotkey",
                "model", "status", "mean loss", "win rate", "composite", "ema", "weight");
  text += line;
  for (const StepReportRow& r : rows) {
    std::snprintf(line, sizeof line, "%5lld %-12s %-28s %-10s %11.5g %8.4f %9.4f %8.4f %8.4f%s%s\n",
                  static_cast<long long>(r.uid), shortened(r.hotkey, 12).c_str(),
                  shortened(r.model, 28).c_str(), r.status.c_str(), r.mean_loss, r.win_rate,
                  r.composite, r.ema, r.weight, r.reason.empty() ? "" : "  ",
                  shortened(r.reason, 80).c_str());
    text += line;
  }
  return text;
}

std::string step_metrics_line(const StepReport& report) {
  nlohmann::ordered_json models = nlohmann::ordered_json::array();
  for (const StepReportRow& r : report.rows) {
    models.push_back({{"uid", r.uid},
                      {"hotkey", r.hotkey},
                      {"status", r.status},
                      {"reason", shortened(r.reason, kMaxLoggedReasonChars)},
                      {"mean_loss", json_number(r.mean_loss)},
                      {"win_rate", json_number(r.win_rate)},
                      {"composite", json_number(r.composite)},
                      {"ema", json_number(r.ema)},
                      {"weight", json_number(r.weight)}});
  }
  nlohmann::ordered_json weights = nlohmann::ordered_json::array();
  for (double w : report.subnet_weights) weights.push_back(json_number(w));
  const nlohmann::ordered_json line = {{"step", report.step},
                                       {"block", report.block},
                                       {"window", report.window},
                                       {"competition_id", report.competition_id},
                                       {"seed", report.seed},
                                       {"seconds", json_number(report.seconds)},
                                       {"weight_bytes_read", report.weight_bytes_read},
                                       {"pending", report.pending},
                                       {"active", report.active},
                                       {"models", models},
                                       {"subnet_weights", weights}};
  // A reason may hold a model's own bytes: invalid UTF-8 is replaced, not thrown.
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace crucible
