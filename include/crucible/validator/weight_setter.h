// The background service that keeps the validator's weights on chain: every
// interval it asks a provider for the current weights and submits them with
// Chain::set_weights, each attempt bounded by a timeout, failures retried with
// exponential backoff.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "crucible/validator/chain.h"

namespace crucible {

class WeightSetter {
 public:
  // The weights to set now, or nullopt when there is nothing to set yet
  // (asked again after initial_backoff_seconds, so the first weights go out
  // soon after the first step, not an interval later).
  // Called on the WeightSetter's thread; an exception counts as a failed
  // attempt.
  using Provider = std::function<std::optional<WeightsSubmission>()>;
  // Receives one line per success, failure and timeout.
  using Log = std::function<void(const std::string& line)>;

  struct Options {
    double interval_seconds = 600;         // between successful submissions
    double attempt_timeout_seconds = 120;  // one set_weights call, at most
    // The wait before the first retry; it doubles after each further failure,
    // capped at interval_seconds, and resets after a success.
    double initial_backoff_seconds = 10;
  };
  // Why the weights must not be set now ("" = go on), asked before every
  // attempt (e.g. the chain data is stale, see HealthMonitor). A held
  // attempt is neither made nor counted; it is asked again after
  // initial_backoff_seconds. The first hold and the release are logged.
  using Hold = std::function<std::string()>;

  // Starts the thread; its first attempt is immediate. The chain is shared
  // because an attempt that timed out still runs (see below) and keeps it
  // alive. Throws std::invalid_argument unless every option is > 0 and the
  // chain and provider are set.
  WeightSetter(std::shared_ptr<Chain> chain, Provider provider, Options options, Log log = {},
               Hold hold = {});

  // stop().
  ~WeightSetter();

  WeightSetter(const WeightSetter&) = delete;
  WeightSetter& operator=(const WeightSetter&) = delete;

  // Wakes the thread at once, even while it waits on an attempt, and joins
  // it; idempotent, and a concurrent second call waits for the first. An attempt that timed out or
  // was interrupted cannot be cancelled: it runs on, detached, until set_weights returns, and its
  // result is discarded. While such an attempt is still running no new one
  // starts (each would fail as "still running"), so hung calls never pile up.
  void stop();

  // Attempts started (a provider returning nullopt starts none), succeeded,
  // and failed or timed out (one interrupted by stop() is neither); the
  // one-line error of the latest failure ("" before any). Thread-safe.
  int64_t attempts() const;
  int64_t successes() const;
  int64_t failures() const;
  std::string last_error() const;

 private:
  // What the thread and the attempts it started share; an abandoned attempt
  // holds it past the WeightSetter's life.
  struct Shared;

  void run();
  // Runs set_weights on a helper thread and waits for it at most the
  // timeout; returns "" on success, the one-line error on failure, nullopt
  // when stop() interrupted the wait.
  std::optional<std::string> submit(const WeightsSubmission& submission);
  // Waits `seconds` or until stop(); returns false when stopping.
  bool sleep(double seconds);
  bool stopping() const;
  void log(const std::string& line) const;

  const std::shared_ptr<Chain> chain_;
  const Provider provider_;
  const Options options_;
  const Log log_;
  const Hold hold_;
  const std::shared_ptr<Shared> shared_;
  std::once_flag stop_once_;
  std::thread thread_;
};

}  // namespace crucible
