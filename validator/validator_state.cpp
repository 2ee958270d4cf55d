#include "crucible/validator/validator_state.h"

#include <stdexcept>

namespace crucible {
namespace {

// JSON keys of the queues document.
constexpr const char* kCompetitions = "competitions";
constexpr const char* kId = "id";
constexpr const char* kActive = "active";
constexpr const char* kPending = "pending";

}  // namespace

void ValidatorState::add_pending(CompetitionId competition, Uid uid) {
  std::lock_guard<std::mutex> lock(mutex_);
  queues_[competition].pending.insert(uid);
}

std::vector<Uid> ValidatorState::take_pending(CompetitionId competition) {
  std::lock_guard<std::mutex> lock(mutex_);
  Queues& q = queues_[competition];
  q.active.insert(q.pending.begin(), q.pending.end());
  q.pending.clear();
  return {q.active.begin(), q.active.end()};
}

void ValidatorState::replace_active(CompetitionId competition, const std::vector<Uid>& kept) {
  std::lock_guard<std::mutex> lock(mutex_);
  queues_[competition].active = std::set<Uid>(kept.begin(), kept.end());
}

bool ValidatorState::unqueue(Uid uid) {
  std::lock_guard<std::mutex> lock(mutex_);
  bool queued = false;
  for (auto& [id, q] : queues_) queued |= (q.active.erase(uid) + q.pending.erase(uid)) > 0;
  return queued;
}

void ValidatorState::retain_competitions(const std::set<CompetitionId>& active) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto q = queues_.begin(); q != queues_.end();) {
    q = active.count(q->first) ? std::next(q) : queues_.erase(q);
  }
  ema_.retain_competitions(active);
}

std::vector<Uid> ValidatorState::queued(CompetitionId competition) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto q = queues_.find(competition);
  if (q == queues_.end()) return {};
  std::set<Uid> uids = q->second.active;
  uids.insert(q->second.pending.begin(), q->second.pending.end());
  return {uids.begin(), uids.end()};
}

std::vector<Uid> ValidatorState::active(CompetitionId competition) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto q = queues_.find(competition);
  return q == queues_.end() ? std::vector<Uid>{}
                            : std::vector<Uid>(q->second.active.begin(), q->second.active.end());
}

std::vector<Uid> ValidatorState::pending(CompetitionId competition) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto q = queues_.find(competition);
  return q == queues_.end() ? std::vector<Uid>{}
                            : std::vector<Uid>(q->second.pending.begin(), q->second.pending.end());
}

size_t ValidatorState::active_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t count = 0;
  for (const auto& [id, q] : queues_) count += q.active.size();
  return count;
}

size_t ValidatorState::pending_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t count = 0;
  for (const auto& [id, q] : queues_) count += q.pending.size();
  return count;
}

ValidatorStateSnapshot ValidatorState::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {queues_to_json(queues_), ema_.to_json(), models_.to_json()};
}

void ValidatorState::restore(const nlohmann::json& queues, const nlohmann::json& ema,
                             const nlohmann::json& models) {
  // Parse everything first so a malformed document changes nothing.
  std::lock_guard<std::mutex> lock(mutex_);
  auto new_queues = queues.is_null() ? queues_ : queues_from_json(queues);
  auto new_ema = ema.is_null() ? ema_ : CompetitionEmaTracker::from_json(ema);
  auto new_models =
      models.is_null() ? models_ : ModelTracker::from_json(models, models_.max_history());
  queues_ = std::move(new_queues);
  ema_ = std::move(new_ema);
  models_ = std::move(new_models);
}

nlohmann::json ValidatorState::queues_to_json(const std::map<CompetitionId, Queues>& queues) {
  nlohmann::json competitions = nlohmann::json::array();
  for (const auto& [id, q] : queues) {
    competitions.push_back({{kId, id}, {kActive, q.active}, {kPending, q.pending}});
  }
  return {{kCompetitions, std::move(competitions)}};
}

std::map<CompetitionId, ValidatorState::Queues> ValidatorState::queues_from_json(
    const nlohmann::json& document) {
  std::map<CompetitionId, Queues> queues;
  try {
    for (const nlohmann::json& c : document.at(kCompetitions)) {
      Queues& q = queues[c.at(kId).get<CompetitionId>()];
      q.active = c.at(kActive).get<std::set<Uid>>();
      q.pending = c.at(kPending).get<std::set<Uid>>();
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("malformed queues document: ") + e.what());
  }
  return queues;
}

}  // namespace crucible
