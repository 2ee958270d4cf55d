#include "crucible/validator/step_report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "crucible/common/json_number.h"
#include "crucible/validator/model_id.h"

namespace crucible {
namespace {

// A failure reason in metrics.jsonl: one line, at most this many bytes.
constexpr size_t kMaxLoggedReasonChars = 300;

std::string shortened(const std::string& text, size_t width) {
  return text.size() <= width ? text : text.substr(0, width - 2) + "..";
}

}  // namespace

std::string model_label(const std::optional<ModelMetadata>& model) {
  if (!model || model->commitment.empty()) return "-";
  try {
    const ModelId id = ModelId::parse(model->commitment);
    return id.repo_id() + "@" + id.commit.substr(0, 8);
  } catch (const ModelIdError&) {
    return "-";
  }
}

StepReportRow miner_row(Uid uid, const std::string& hotkey,
                        const std::optional<ModelMetadata>& model, const std::string& reason) {
  StepReportRow row;
  row.uid = uid;
  row.hotkey = hotkey;
  row.model = model_label(model);
  row.mean_loss = std::numeric_limits<double>::infinity();
  if (!reason.empty()) {
    row.status = "not-installed";
    row.reason = reason;
  } else if (!model) {
    row.status = "unknown";
    row.reason = "the model manager has not looked at this miner yet";
  } else if (!model->failure.empty()) {
    const size_t colon = model->failure.find(": ");
    row.status = model->failure.substr(0, colon);
    row.reason = colon == std::string::npos ? "" : model->failure.substr(colon + 2);
  } else {
    row.status = "waiting";
    row.reason =
        model->content_hash.empty() ? "queued for download" : "installed; not run in this step";
  }
  return row;
}

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
                      {"model", r.model},
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
                                       {"time", json_number(report.time)},
                                       {"block", report.block},
                                       {"window", report.window},
                                       {"competition_id", report.competition_id},
                                       {"seed", report.seed},
                                       {"seed_text", std::to_string(report.seed)},
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
