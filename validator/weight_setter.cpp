// WeightSetter: the loop (provider, submit, wait), the timed attempt on a
// helper thread, and the backoff after failures.
#include "crucible/validator/weight_setter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <stdexcept>
#include <system_error>

namespace crucible {
namespace {

std::chrono::duration<double> seconds(double value) { return std::chrono::duration<double>(value); }

std::string format_seconds(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", value);
  return text;
}

}  // namespace

struct WeightSetter::Shared {
  // The outcome of one set_weights call on a helper thread.
  struct Attempt {
    bool done = false;
    std::string error;  // "" on success
  };

  std::mutex mutex;              // guards everything below
  std::condition_variable wake;  // stop() and finished attempts
  bool stopping = false;
  std::shared_ptr<Attempt> latest_attempt;
  int64_t attempts = 0;
  int64_t successes = 0;
  int64_t failures = 0;
  std::string last_error;
};

WeightSetter::WeightSetter(std::shared_ptr<Chain> chain, Provider provider, Options options,
                           Log log, Hold hold)
    : chain_(std::move(chain)),
      provider_(std::move(provider)),
      options_(options),
      log_(std::move(log)),
      hold_(std::move(hold)),
      shared_(std::make_shared<Shared>()) {
  const auto positive = [](double value) { return std::isfinite(value) && value > 0; };
  if (!chain_) throw std::invalid_argument("WeightSetter: no chain");
  if (!provider_) throw std::invalid_argument("WeightSetter: no provider");
  if (!positive(options_.interval_seconds) || !positive(options_.attempt_timeout_seconds) ||
      !positive(options_.initial_backoff_seconds)) {
    throw std::invalid_argument(
        "WeightSetter: interval_seconds, attempt_timeout_seconds and initial_backoff_seconds "
        "must be finite and > 0");
  }
  thread_ = std::thread([this] { run(); });
}

WeightSetter::~WeightSetter() { stop(); }

void WeightSetter::stop() {
  std::call_once(stop_once_, [this] {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      shared_->stopping = true;
    }
    shared_->wake.notify_all();
    thread_.join();
  });
}

bool WeightSetter::stopping() const {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->stopping;
}

bool WeightSetter::sleep(double duration) {
  std::unique_lock<std::mutex> lock(shared_->mutex);
  return !shared_->wake.wait_for(lock, seconds(duration), [this] { return shared_->stopping; });
}

void WeightSetter::log(const std::string& line) const {
  if (log_) log_("weight setter: " + line);
}

void WeightSetter::run() {
  double backoff = std::min(options_.initial_backoff_seconds, options_.interval_seconds);
  std::string held;  // why the last attempt was held; "" when it was not
  while (!stopping()) {
    const std::string hold = hold_ ? hold_() : "";
    if (!hold.empty()) {
      if (held.empty()) log("weights held: " + hold);
      held = hold;
      if (!sleep(options_.initial_backoff_seconds)) return;
      continue;
    }
    if (!held.empty()) log("weights no longer held");
    held.clear();
    std::optional<WeightsSubmission> submission;
    std::string error;
    try {
      submission = provider_();
    } catch (const std::exception& e) {
      error = std::string("the weights provider failed: ") + e.what();
    }
    if (error.empty() &&
        !submission) {  // nothing to set yet: ask again soon, not an interval later
      if (!sleep(std::min(options_.initial_backoff_seconds, options_.interval_seconds))) return;
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      ++shared_->attempts;
    }
    if (error.empty()) {
      const std::optional<std::string> outcome = submit(*submission);
      if (!outcome) return;  // interrupted by stop(): neither a success nor a failure
      error = *outcome;
    }

    double wait = options_.interval_seconds;
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      if (error.empty()) {
        ++shared_->successes;
      } else {
        ++shared_->failures;
        shared_->last_error = error;
      }
    }
    if (error.empty()) {
      log("set weights for " + std::to_string(submission->uids.size()) + " uids");
      backoff = std::min(options_.initial_backoff_seconds, options_.interval_seconds);
    } else {
      wait = backoff;
      log(error + "; retrying in " + format_seconds(wait));
      backoff = std::min(backoff * 2, options_.interval_seconds);
    }
    if (!sleep(wait)) return;
  }
}

std::optional<std::string> WeightSetter::submit(const WeightsSubmission& submission) {
  const auto attempt = std::make_shared<Shared::Attempt>();
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    if (shared_->latest_attempt && !shared_->latest_attempt->done) {
      return "the previous set_weights call, which timed out, is still running";
    }
    shared_->latest_attempt = attempt;
  }
  // Detached so that a hung call cannot block stop(); it owns what it uses.
  std::thread helper;
  try {
    helper = std::thread([shared = shared_, chain = chain_, submission, attempt] {
      std::string error;
      try {
        chain->set_weights(submission);
      } catch (const std::exception& e) {
        error = e.what();
        if (error.empty()) error = "an exception without a message";
      } catch (...) {
        error = "an exception that is not a std::exception";
      }
      std::lock_guard<std::mutex> lock(shared->mutex);
      attempt->done = true;
      attempt->error = error;
      shared->wake.notify_all();
    });
  } catch (const std::system_error& e) {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    attempt->done = true;
    return std::string("cannot start a thread for set_weights: ") + e.what();
  }
  helper.detach();

  std::unique_lock<std::mutex> lock(shared_->mutex);
  shared_->wake.wait_for(lock, seconds(options_.attempt_timeout_seconds),
                         [&] { return attempt->done || shared_->stopping; });
  if (attempt->done) return attempt->error.empty() ? "" : "set_weights failed: " + attempt->error;
  if (shared_->stopping) return std::nullopt;
  return "set_weights did not return within " + format_seconds(options_.attempt_timeout_seconds) +
         "; left running in the background";
}

int64_t WeightSetter::attempts() const {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->attempts;
}

int64_t WeightSetter::successes() const {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->successes;
}

int64_t WeightSetter::failures() const {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->failures;
}

std::string WeightSetter::last_error() const {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->last_error;
}

}  // namespace crucible
