// The validator's mutable state: per competition, the uids being evaluated
// (active) and those waiting (pending); the model tracker and the EMA
// tracker. Every method is thread-safe: the model manager queues uids, the
// step moves and replaces them, the weight setter and the saver read.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "crucible/validator/ema_tracker.h"
#include "crucible/validator/model_tracker.h"
#include "crucible/validator/types.h"

namespace crucible {

// A consistent copy of the whole state, taken under the lock (for saving).
struct ValidatorStateSnapshot {
  nlohmann::json queues;
  nlohmann::json ema;
  nlohmann::json models;
};

class ValidatorState {
 public:
  explicit ValidatorState(size_t max_history = 32) : models_(max_history) {}

  // Queues a uid for evaluation; no-op when it is already pending.
  void add_pending(CompetitionId competition, Uid uid);

  // Moves every pending uid to active and returns the active uids (sorted):
  // the models this step evaluates.
  std::vector<Uid> take_pending(CompetitionId competition);

  // After a step: the active uids become `kept`.
  void replace_active(CompetitionId competition, const std::vector<Uid>& kept);

  // Removes `uid` from every queue, active and pending; true when it was queued.
  bool unqueue(Uid uid);

  // Drops the queues and EMA of every competition not in `active`.
  void retain_competitions(const std::set<CompetitionId>& active);

  // The queue: active and pending uids together (sorted); moves nothing.
  std::vector<Uid> queued(CompetitionId competition) const;
  std::vector<Uid> active(CompetitionId competition) const;
  std::vector<Uid> pending(CompetitionId competition) const;
  size_t active_count() const;   // over all competitions
  size_t pending_count() const;  // over all competitions

  // Runs fn(ModelTracker&, CompetitionEmaTracker&) under the lock and returns
  // its result. Keep fn short: no I/O.
  template <typename Fn>
  auto with_trackers(Fn&& fn) {
    std::lock_guard<std::mutex> lock(mutex_);
    return fn(models_, ema_);
  }

  ValidatorStateSnapshot snapshot() const;

  // Replaces the parts whose document is given (null ones are left as they
  // are). Throws std::runtime_error on a malformed document, changing nothing.
  void restore(const nlohmann::json& queues, const nlohmann::json& ema,
               const nlohmann::json& models);

 private:
  struct Queues {
    std::set<Uid> active;
    std::set<Uid> pending;
  };

  static nlohmann::json queues_to_json(const std::map<CompetitionId, Queues>& queues);
  static std::map<CompetitionId, Queues> queues_from_json(const nlohmann::json& document);

  mutable std::mutex mutex_;
  std::map<CompetitionId, Queues> queues_;
  ModelTracker models_;
  CompetitionEmaTracker ema_;
};

}  // namespace crucible
