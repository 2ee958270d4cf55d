// What the validator knows about each hotkey's model: the current
// commitment, and a bounded history of its evaluations per competition.
// Not thread-safe: ValidatorState serialises access.
#pragma once

#include <nlohmann/json.hpp>

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crucible/validator/types.h"

namespace crucible {

struct ModelMetadata {
  std::string commitment;    // the chain commitment string (ModelId)
  Block block = 0;           // block of the commitment
  std::string content_hash;  // empty until downloaded and hashed
  // Why the model could not be fetched ("<reason>: <detail>", the reason a
  // ModelFetchError code or "missing-commitment", "bad-commitment",
  // "inactive-competition"); empty when it is installed.
  std::string failure;

  bool operator==(const ModelMetadata& other) const {
    return commitment == other.commitment && block == other.block &&
           content_hash == other.content_hash && failure == other.failure;
  }
};

struct EvaluationRecord {
  Block block = 0;            // when the evaluation ran
  double mean_loss = 0.0;     // +inf for a failed evaluation
  Block winning_block = 0;    // the step's winning model: its commitment block
  double winning_loss = 0.0;  // and its mean loss

  bool operator==(const EvaluationRecord& other) const;
};

class ModelTracker {
 public:
  explicit ModelTracker(size_t max_history = 32) : max_history_(max_history) {}

  // Sets the hotkey's current model. Returns true when it is new or differs
  // from the one recorded (the caller then resets the uid's EMA).
  bool set_model(const std::string& hotkey, const ModelMetadata& model);
  std::optional<ModelMetadata> model(const std::string& hotkey) const;

  // Appends to the hotkey's history in a competition, dropping the oldest
  // beyond max_history.
  void record_evaluation(const std::string& hotkey, CompetitionId competition,
                         const EvaluationRecord& record);
  // Oldest first; empty when none.
  std::vector<EvaluationRecord> history(const std::string& hotkey, CompetitionId competition) const;
  // The block of the hotkey's latest evaluation in any competition.
  std::optional<Block> last_evaluated_block(const std::string& hotkey) const;

  // Forgets every hotkey not in `present` (it left the metagraph).
  void retain_hotkeys(const std::set<std::string>& present);

  size_t max_history() const { return max_history_; }

  // JSON document; from_json throws std::runtime_error on a malformed one.
  nlohmann::json to_json() const;
  static ModelTracker from_json(const nlohmann::json& document, size_t max_history = 32);

  bool operator==(const ModelTracker& other) const { return to_json() == other.to_json(); }

 private:
  struct HotkeyRecord {
    std::optional<ModelMetadata> model;
    std::map<CompetitionId, std::deque<EvaluationRecord>> history;
  };

  size_t max_history_;
  std::map<std::string, HotkeyRecord> hotkeys_;
};

}  // namespace crucible
