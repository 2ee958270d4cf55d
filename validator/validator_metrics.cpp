#include "crucible/validator/validator_metrics.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
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

// `value` as JSON, null when unset.
template <typename T>
nlohmann::json or_null(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

double ValidatorMetrics::wall_now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

ValidatorMetrics::ValidatorMetrics(NowSeconds now_seconds) : now_seconds_(std::move(now_seconds)) {}

void ValidatorMetrics::record_step(int64_t step, Block block, double seconds, uint64_t evaluated) {
  const double now = now_seconds_();
  std::lock_guard<std::mutex> lock(mutex_);
  last_step_time_ = now;
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

void ValidatorMetrics::set_problem(const std::string& area, const std::string& problem) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (problem.empty()) {
    problems_.erase(area);
  } else {
    problems_[area] = problem;
  }
}

std::vector<std::string> ValidatorMetrics::problems() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> problems;
  for (const auto& [area, problem] : problems_) problems.push_back(problem);
  return problems;
}

bool ValidatorMetrics::healthy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return problems_.empty();
}

void ValidatorMetrics::set_chain_freshness(const ChainFreshness& freshness,
                                           double stale_after_seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  chain_ = freshness;
  chain_stale_after_seconds_ = stale_after_seconds;
}

void ValidatorMetrics::set_bridge_status(const std::optional<BridgeStatus>& bridge) {
  std::lock_guard<std::mutex> lock(mutex_);
  bridge_ = bridge;
}

void ValidatorMetrics::set_weights_delivery(const std::optional<WeightsDelivery>& delivery) {
  std::lock_guard<std::mutex> lock(mutex_);
  delivery_ = delivery;
}

std::string ValidatorMetrics::prometheus_text() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  write_family(out, "crucible_started", "gauge", "1 once the validator loop is running.");
  write_sample(out, "crucible_started", "", started_ ? "1" : "0");
  write_family(out, "crucible_healthy", "gauge",
               "1 while the validator is healthy (/healthz answers 200).");
  write_sample(out, "crucible_healthy", "", problems_.empty() ? "1" : "0");
  write_family(out, "crucible_step", "gauge", "The last completed validator step.");
  write_sample(out, "crucible_step", "", std::to_string(step_));
  write_family(out, "crucible_block", "gauge", "The chain block of the last completed step.");
  write_sample(out, "crucible_block", "", std::to_string(block_));
  write_family(out, "crucible_last_step_timestamp_seconds", "gauge",
               "Unix time at which the last step completed.");
  if (last_step_time_) {
    write_sample(out, "crucible_last_step_timestamp_seconds", "", format_value(*last_step_time_));
  }
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
  write_chain_and_bridge(out);
  return out;
}

void ValidatorMetrics::write_chain_and_bridge(std::string& out) const {
  write_family(out, "crucible_chain_age_seconds", "gauge",
               "Seconds since the chain data was last known current.");
  write_sample(out, "crucible_chain_age_seconds", "", format_value(chain_.age_seconds));
  write_family(out, "crucible_chain_stale_after_seconds", "gauge",
               "The chain age after which it counts as stale (0: never).");
  write_sample(out, "crucible_chain_stale_after_seconds", "",
               format_value(chain_stale_after_seconds_));
  write_family(out, "crucible_chain_stale", "gauge",
               "1 while the chain data is stale: no weights are set and /healthz is 503.");
  write_sample(out, "crucible_chain_stale", "", chain_stale() ? "1" : "0");
  write_family(out, "crucible_chain_read_error_info", "gauge",
               "1, labelled with the latest chain read error, while there is one.");
  if (!chain_.last_error.empty()) {
    write_sample(out, "crucible_chain_read_error_info", label("error", chain_.last_error), "1");
  }
  if (bridge_) {
    write_family(out, "crucible_bridge_heartbeat_timestamp_seconds", "gauge",
                 "Unix time of the bridge's last report (bridge.json).");
    write_sample(out, "crucible_bridge_heartbeat_timestamp_seconds", "",
                 format_value(bridge_->time));
    write_family(out, "crucible_bridge_last_sync_timestamp_seconds", "gauge",
                 "Unix time of the bridge's last good sync of the chain files.");
    if (bridge_->last_sync_ok_time) {
      write_sample(out, "crucible_bridge_last_sync_timestamp_seconds", "",
                   format_value(*bridge_->last_sync_ok_time));
    }
    write_family(out, "crucible_bridge_sync_failures", "gauge",
                 "The bridge's chain syncs failed in a row.");
    write_sample(out, "crucible_bridge_sync_failures", "", std::to_string(bridge_->sync_failures));
    write_family(out, "crucible_bridge_submission_failures", "gauge",
                 "The bridge's set-weights calls failed in a row.");
    write_sample(out, "crucible_bridge_submission_failures", "",
                 std::to_string(bridge_->submission_failures));
  }
  if (delivery_) {
    write_family(out, "crucible_weights_written_timestamp_seconds", "gauge",
                 "Unix time at which the validator last wrote weights for the chain.");
    write_sample(out, "crucible_weights_written_timestamp_seconds", "",
                 format_value(delivery_->written_time.value_or(0)));
    write_family(out, "crucible_weights_delivered", "gauge",
                 "1 when the bridge reports the weights last written as submitted.");
    write_sample(out, "crucible_weights_delivered", "",
                 delivery_->status == "submitted" ? "1" : "0");
    write_family(out, "crucible_weights_submitted_timestamp_seconds", "gauge",
                 "Unix time of the bridge's last successful set-weights.");
    write_family(out, "crucible_weights_submitted_block", "gauge",
                 "The chain block of the bridge's last successful set-weights.");
    if (delivery_->submitted_time) {
      write_sample(out, "crucible_weights_submitted_timestamp_seconds", "",
                   format_value(*delivery_->submitted_time));
    }
    if (delivery_->submitted_block) {
      write_sample(out, "crucible_weights_submitted_block", "",
                   std::to_string(*delivery_->submitted_block));
    }
  }
}

bool ValidatorMetrics::chain_stale() const {
  return chain_stale_after_seconds_ > 0 && chain_.age_seconds > chain_stale_after_seconds_;
}

std::string ValidatorMetrics::status_json() const {
  const double now = now_seconds_();
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& [area, problem] : problems_) problems.push_back(problem);
  nlohmann::json bridge = nullptr;
  if (bridge_) {
    bridge = {{"time", bridge_->time},
              {"last_sync_ok_time", or_null(bridge_->last_sync_ok_time)},
              {"last_sync_ok_block", or_null(bridge_->last_sync_ok_block)},
              {"last_sync_error", bridge_->last_sync_error},
              {"sync_failures", bridge_->sync_failures},
              {"weights_enabled", bridge_->weights_enabled},
              {"submission_failures", bridge_->submission_failures}};
  }
  const WeightsDelivery delivery = delivery_.value_or(WeightsDelivery{});
  nlohmann::json weights = {
      {"block", or_null(weights_block_)},
      {"written_time", or_null(delivery.written_time)},
      {"written_block", delivery.written_time ? nlohmann::json(delivery.written_block) : nullptr},
      {"status", delivery_ ? nlohmann::json(delivery.status) : nullptr},
      {"message", delivery.message},
      {"submitted_time", or_null(delivery.submitted_time)},
      {"submitted_block", or_null(delivery.submitted_block)}};
  const nlohmann::json document = {{"time", now},
                                   {"healthy", problems_.empty()},
                                   {"problems", problems},
                                   {"started", started_},
                                   {"step", step_},
                                   {"block", block_},
                                   {"last_step_time", or_null(last_step_time_)},
                                   {"step_seconds", last_step_seconds_},
                                   {"pending", pending_queue_size_},
                                   {"active", active_queue_size_},
                                   {"chain",
                                    {{"age_seconds", chain_.age_seconds},
                                     {"stale_after_seconds", chain_stale_after_seconds_},
                                     {"stale", chain_stale()},
                                     {"cause", chain_.cause},
                                     {"last_error", chain_.last_error}}},
                                   {"bridge", bridge},
                                   {"weights", weights}};
  return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
