// Per-competition exponential moving averages of the uids' step scores, the
// uid <-> hotkey map, and the competition weight vectors (docs/scoring.md s.5).
// Not thread-safe: ValidatorState serialises access.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crucible/validator/types.h"

namespace crucible {

struct EmaParams {
  double alpha = 0.2;       // weight of a new score once an EMA exists
  double alpha_init = 0.2;  // weight of the first score against the baseline
  double baseline = 0.0;
};

struct RawScore {
  double score = 0.0;
  Block block = 0;
};

// A uid's result in a task window (the blocks that share a round seed): its
// score once the window's other models are taken into account, and what the
// keep rule needs. A uid is scored once per window (docs/scoring.md).
struct WindowScore {
  double score = 0.0;
  double mean_loss = 0.0;  // +inf for a failed evaluation
  double win_rate = 0.0;
};

class CompetitionEmaTracker {
 public:
  // The first update sets ema = (1 - alpha_init) * baseline + alpha_init * score,
  // later ones ema = alpha * score + (1 - alpha) * ema. Also records the raw
  // score with its block and uid -> hotkey. A non-finite score counts as 0.
  void update(CompetitionId competition, Uid uid, const std::string& hotkey, double score,
              Block block, const EmaParams& params);

  std::optional<double> ema(CompetitionId competition, Uid uid) const;
  std::optional<RawScore> raw_score(CompetitionId competition, Uid uid) const;
  std::optional<std::string> hotkey(Uid uid) const;

  // EMA of uids 0..num_neurons-1 in a competition; NaN where there is none.
  std::vector<double> emas(CompetitionId competition, size_t num_neurons) const;

  void set_weights(CompetitionId competition, std::vector<double> weights);
  // The competition's weight vector (empty when never set).
  std::vector<double> weights(CompetitionId competition) const;

  // The uid's model changed: its EMA and its window scores are dropped in
  // every competition (so it is scored again in the current window); raw
  // scores and its hotkey stay.
  void reset_uid(Uid uid);

  // For each uid with a recorded hotkey that differs from hotkeys[uid] (the
  // metagraph now), or that is beyond hotkeys.size(): the EMA is dropped in
  // every competition and the hotkey forgotten. Returns those uids.
  std::vector<Uid> reset_changed_hotkeys(const std::vector<std::string>& hotkeys);

  // Drops every competition not in `active`.
  void retain_competitions(const std::set<CompetitionId>& active);

  // A new neuron count: weight vectors are zero-padded or cut to it and uids
  // at or beyond it are forgotten; history of the others is kept.
  void resize(size_t num_neurons);

  std::set<CompetitionId> competitions() const;

  // The window (its first block) the competition's window scores belong to;
  // nullopt before the first. start_window with another window clears the
  // window scores (the EMAs stay).
  std::optional<Block> window(CompetitionId competition) const;
  void start_window(CompetitionId competition, Block window);
  // The uids scored in the current window, with their latest window score.
  std::map<Uid, WindowScore> window_scores(CompetitionId competition) const;
  void set_window_score(CompetitionId competition, Uid uid, const WindowScore& score);

  // While a reason is held, the validator sets no weights: its EMAs were
  // restored from an older step or started fresh, and no full window has
  // been scored since. Empty when weights may be set.
  const std::string& weights_held() const { return weights_held_; }
  void hold_weights(std::string reason) { weights_held_ = std::move(reason); }

  // Versionless JSON document; from_json throws std::runtime_error on a
  // malformed one.
  nlohmann::json to_json() const;
  static CompetitionEmaTracker from_json(const nlohmann::json& document);

  bool operator==(const CompetitionEmaTracker& other) const;

 private:
  struct UidScores {
    std::optional<double> ema;
    std::optional<RawScore> raw;
  };
  struct Competition {
    std::map<Uid, UidScores> uids;
    std::vector<double> weights;
    std::optional<Block> window;
    std::map<Uid, WindowScore> window_scores;
  };

  std::map<CompetitionId, Competition> competitions_;
  std::map<Uid, std::string> hotkeys_;
  std::string weights_held_;
};

}  // namespace crucible
