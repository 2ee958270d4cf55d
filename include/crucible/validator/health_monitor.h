// Watches what the validator depends on outside itself, in the background:
// the chain's freshness and the bridge's report (Chain::freshness()) and whether the weights
// reached the chain (Chain::weights_delivery()). Each check updates ValidatorMetrics; a chain older
// than the threshold is a health problem ("chain", so /healthz is 503) and a warning in the log,
// and the weight setter holds the weights while stale_reason() says why (see WeightSetter's Hold).
// Fresh again, all of this clears and the log says so.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "crucible/validator/chain.h"
#include "crucible/validator/log.h"
#include "crucible/validator/validator_metrics.h"

namespace crucible {

struct HealthMonitorOptions {
  // The chain counts as stale once its data is older than this (seconds);
  // 0 never.
  double stale_after_seconds = 300;
  // Seconds between background checks.
  double check_interval_seconds = 1;
  // While stale, the warning is repeated this often (seconds).
  double warn_every_seconds = 60;
};

class HealthMonitor {
 public:
  // Checks once at once (so the metrics are filled before anything reads
  // them); the background thread starts with start(). The chain and the
  // metrics must outlive the monitor. Throws std::invalid_argument for a
  // negative threshold or an interval that is not > 0.
  HealthMonitor(std::shared_ptr<Chain> chain, ValidatorMetrics& metrics,
                HealthMonitorOptions options, Log log = {});
  ~HealthMonitor();

  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  void start();
  // Joins the thread; idempotent.
  void stop();

  // Checks now (thread-safe) and returns why the chain is stale, "" when it
  // is fresh.
  std::string check();

 private:
  void run();

  const std::shared_ptr<Chain> chain_;
  ValidatorMetrics& metrics_;
  const HealthMonitorOptions options_;
  const Log log_;

  std::mutex check_mutex_;  // one check at a time; guards the two below
  bool stale_ = false;
  double last_warned_ = 0;  // steady seconds of the last stale warning

  std::mutex stop_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace crucible
