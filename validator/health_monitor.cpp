#include "crucible/validator/health_monitor.h"

#include <chrono>
#include <cmath>
#include <stdexcept>

namespace crucible {
namespace {

double steady_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

HealthMonitor::HealthMonitor(std::shared_ptr<Chain> chain, ValidatorMetrics& metrics,
                             HealthMonitorOptions options, Log log)
    : chain_(std::move(chain)),
      metrics_(metrics),
      options_(std::move(options)),
      log_(log ? std::move(log) : [](LogLevel, const std::string&) {}) {
  if (!(options_.stale_after_seconds >= 0) || !std::isfinite(options_.stale_after_seconds)) {
    throw std::invalid_argument("health monitor: the stale threshold must be a number >= 0");
  }
  if (!(options_.check_interval_seconds > 0) || !(options_.warn_every_seconds > 0)) {
    throw std::invalid_argument("health monitor: the intervals must be > 0");
  }
  check();
}

HealthMonitor::~HealthMonitor() { stop(); }

void HealthMonitor::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void HealthMonitor::stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HealthMonitor::run() {
  std::unique_lock<std::mutex> lock(stop_mutex_);
  const auto interval = std::chrono::duration<double>(options_.check_interval_seconds);
  while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    check();
    lock.lock();
  }
}

std::string HealthMonitor::check() {
  const ChainFreshness freshness = chain_->freshness();
  const std::optional<WeightsDelivery> delivery = chain_->weights_delivery();

  std::lock_guard<std::mutex> lock(check_mutex_);
  metrics_.set_chain_freshness(freshness, options_.stale_after_seconds);
  metrics_.set_bridge_status(freshness.bridge);
  metrics_.set_weights_delivery(delivery);
  const bool stale =
      options_.stale_after_seconds > 0 && freshness.age_seconds > options_.stale_after_seconds;
  const std::string reason = stale ? "chain stale: " + freshness.cause + " (stale after " +
                                         std::to_string(std::lround(options_.stale_after_seconds)) +
                                         " s)"
                                   : "";
  metrics_.set_problem("chain", reason);
  const double now = steady_seconds();
  if (stale && (!stale_ || now - last_warned_ >= options_.warn_every_seconds)) {
    log_(LogLevel::kWarn, reason + "; weights are not set until it is fresh again");
    last_warned_ = now;
  } else if (!stale && stale_) {
    log_(LogLevel::kInfo, "chain fresh again (data " +
                              std::to_string(std::lround(freshness.age_seconds)) +
                              " s old); weights are set again");
  }
  stale_ = stale;
  return reason;
}

}  // namespace crucible
