#include "crucible/validator/validator_metrics.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <utility>

namespace crucible {
namespace {

// A sample value as Prometheus parses it: shortest round-trip decimal, or
// NaN / +Inf / -Inf.
std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char text[64];
  const std::to_chars_result result = std::to_chars(text, text + sizeof text, value);
  return std::string(text, result.ptr);
}

// A label value escaped per the exposition format: \ " and newline.
std::string escape_label_value(const std::string& value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '"') {
      escaped += "\\\"";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

void write_family(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n";
  out += std::string("# TYPE ") + name + " " + type + "\n";
}

void write_sample(std::string& out, const char* name, const std::string& labels,
                  const std::string& value) {
  out += name;
  out += labels;
  out += " " + value + "\n";
}

std::string label(const char* name, const std::string& value) {
  return std::string("{") + name + "=\"" + escape_label_value(value) + "\"}";
}

}  // namespace

void ValidatorMetrics::record_step(int64_t step, Block block, double seconds, uint64_t evaluated) {
  std::lock_guard<std::mutex> lock(mutex_);
  step_ = step;
  block_ = block;
  last_step_seconds_ = seconds;
  models_evaluated_total_ += evaluated;
}

void ValidatorMetrics::add_failure(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string key = reason.empty() ? kUnknownReason : reason;
  if (!failures_by_reason_.count(key) && failures_by_reason_.size() >= kMaxFailureReasons) {
    key = kOverflowReason;
  }
  ++failures_by_reason_[key];
}

void ValidatorMetrics::set_queue_sizes(size_t pending, size_t active) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_queue_size_ = pending;
  active_queue_size_ = active;
}

void ValidatorMetrics::set_weights(Block block, std::vector<double> weights) {
  std::lock_guard<std::mutex> lock(mutex_);
  weights_block_ = block;
  weights_ = std::move(weights);
}

void ValidatorMetrics::set_started(bool started) {
  std::lock_guard<std::mutex> lock(mutex_);
  started_ = started;
}

void ValidatorMetrics::set_healthy(bool healthy) {
  std::lock_guard<std::mutex> lock(mutex_);
  healthy_ = healthy;
}

bool ValidatorMetrics::healthy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return healthy_;
}

std::string ValidatorMetrics::prometheus_text() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  write_family(out, "crucible_started", "gauge", "1 once the validator loop is running.");
  write_sample(out, "crucible_started", "", started_ ? "1" : "0");
  write_family(out, "crucible_healthy", "gauge", "1 while the validator reports itself healthy.");
  write_sample(out, "crucible_healthy", "", healthy_ ? "1" : "0");
  write_family(out, "crucible_step", "gauge", "The last completed validator step.");
  write_sample(out, "crucible_step", "", std::to_string(step_));
  write_family(out, "crucible_block", "gauge", "The chain block of the last completed step.");
  write_sample(out, "crucible_block", "", std::to_string(block_));
  write_family(out, "crucible_step_seconds", "gauge",
               "Duration of the last completed step in seconds.");
  write_sample(out, "crucible_step_seconds", "", format_value(last_step_seconds_));
  write_family(out, "crucible_models_evaluated_total", "counter",
               "Models evaluated since the validator started.");
  write_sample(out, "crucible_models_evaluated_total", "", std::to_string(models_evaluated_total_));
  write_family(out, "crucible_model_failures_total", "counter",
               "Model downloads and evaluations that failed, by reason.");
  for (const auto& [reason, count] : failures_by_reason_) {
    write_sample(out, "crucible_model_failures_total", label("reason", reason),
                 std::to_string(count));
  }
  write_family(out, "crucible_queue_size", "gauge",
               "Models waiting for evaluation (pending) and being evaluated (active).");
  write_sample(out, "crucible_queue_size", label("queue", "pending"),
               std::to_string(pending_queue_size_));
  write_sample(out, "crucible_queue_size", label("queue", "active"),
               std::to_string(active_queue_size_));
  write_family(out, "crucible_weights_block", "gauge",
               "The block at which the last weights were computed.");
  if (weights_block_) {
    write_sample(out, "crucible_weights_block", "", std::to_string(*weights_block_));
  }
  return out;
}

std::string ValidatorMetrics::weights_json() const {
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json weights = nlohmann::json::array();
  for (const double weight : weights_) weights.push_back(std::isfinite(weight) ? weight : 0.0);
  nlohmann::json document;
  document["block"] = weights_block_ ? nlohmann::json(*weights_block_) : nlohmann::json(nullptr);
  document["weights"] = std::move(weights);
  return document.dump();
}

}  // namespace crucible
