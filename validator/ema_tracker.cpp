#include "crucible/validator/ema_tracker.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "crucible/common/json_number.h"

namespace crucible {
namespace {

// JSON keys of the document.
constexpr const char* kCompetitions = "competitions";
constexpr const char* kId = "id";
constexpr const char* kUids = "uids";
constexpr const char* kUid = "uid";
constexpr const char* kEma = "ema";
constexpr const char* kRawScore = "raw_score";
constexpr const char* kRawBlock = "raw_block";
constexpr const char* kWeights = "weights";
constexpr const char* kHotkeys = "hotkeys";
constexpr const char* kHotkey = "hotkey";
constexpr const char* kWindow = "window";
constexpr const char* kWindowScores = "window_scores";
constexpr const char* kScore = "score";
constexpr const char* kMeanLoss = "mean_loss";
constexpr const char* kWinRate = "win_rate";
constexpr const char* kWeightsHeld = "weights_held";

}  // namespace

void CompetitionEmaTracker::update(CompetitionId competition, Uid uid, const std::string& hotkey,
                                   double score, Block block, const EmaParams& params) {
  if (!std::isfinite(score)) score = 0.0;
  UidScores& entry = competitions_[competition].uids[uid];
  entry.ema = entry.ema ? params.alpha * score + (1.0 - params.alpha) * *entry.ema
                        : (1.0 - params.alpha_init) * params.baseline + params.alpha_init * score;
  entry.raw = RawScore{score, block};
  hotkeys_[uid] = hotkey;
}

std::optional<double> CompetitionEmaTracker::ema(CompetitionId competition, Uid uid) const {
  const auto c = competitions_.find(competition);
  if (c == competitions_.end()) return std::nullopt;
  const auto u = c->second.uids.find(uid);
  return u == c->second.uids.end() ? std::nullopt : u->second.ema;
}

std::optional<RawScore> CompetitionEmaTracker::raw_score(CompetitionId competition, Uid uid) const {
  const auto c = competitions_.find(competition);
  if (c == competitions_.end()) return std::nullopt;
  const auto u = c->second.uids.find(uid);
  return u == c->second.uids.end() ? std::nullopt : u->second.raw;
}

std::optional<std::string> CompetitionEmaTracker::hotkey(Uid uid) const {
  const auto h = hotkeys_.find(uid);
  return h == hotkeys_.end() ? std::nullopt : std::optional<std::string>(h->second);
}

std::vector<double> CompetitionEmaTracker::emas(CompetitionId competition,
                                                size_t num_neurons) const {
  std::vector<double> values(num_neurons, std::numeric_limits<double>::quiet_NaN());
  const auto c = competitions_.find(competition);
  if (c == competitions_.end()) return values;
  for (const auto& [uid, scores] : c->second.uids) {
    if (uid >= 0 && static_cast<size_t>(uid) < num_neurons && scores.ema) {
      values[static_cast<size_t>(uid)] = *scores.ema;
    }
  }
  return values;
}

void CompetitionEmaTracker::set_weights(CompetitionId competition, std::vector<double> weights) {
  competitions_[competition].weights = std::move(weights);
}

std::vector<double> CompetitionEmaTracker::weights(CompetitionId competition) const {
  const auto c = competitions_.find(competition);
  return c == competitions_.end() ? std::vector<double>{} : c->second.weights;
}

void CompetitionEmaTracker::reset_uid(Uid uid) {
  for (auto& [id, competition] : competitions_) {
    const auto u = competition.uids.find(uid);
    if (u != competition.uids.end()) u->second.ema.reset();
    competition.window_scores.erase(uid);
  }
}

std::vector<Uid> CompetitionEmaTracker::reset_changed_hotkeys(
    const std::vector<std::string>& hotkeys) {
  std::vector<Uid> changed;
  for (const auto& [uid, hotkey] : hotkeys_) {
    const bool registered = uid >= 0 && static_cast<size_t>(uid) < hotkeys.size();
    if (!registered || hotkeys[static_cast<size_t>(uid)] != hotkey) changed.push_back(uid);
  }
  for (Uid uid : changed) {
    reset_uid(uid);
    hotkeys_.erase(uid);
  }
  return changed;
}

void CompetitionEmaTracker::retain_competitions(const std::set<CompetitionId>& active) {
  for (auto c = competitions_.begin(); c != competitions_.end();) {
    c = active.count(c->first) ? std::next(c) : competitions_.erase(c);
  }
}

void CompetitionEmaTracker::resize(size_t num_neurons) {
  const auto beyond = [num_neurons](Uid uid) {
    return uid < 0 || static_cast<size_t>(uid) >= num_neurons;
  };
  for (auto& [id, competition] : competitions_) {
    if (!competition.weights.empty()) competition.weights.resize(num_neurons, 0.0);
    for (auto u = competition.uids.begin(); u != competition.uids.end();) {
      u = beyond(u->first) ? competition.uids.erase(u) : std::next(u);
    }
    for (auto w = competition.window_scores.begin(); w != competition.window_scores.end();) {
      w = beyond(w->first) ? competition.window_scores.erase(w) : std::next(w);
    }
  }
  for (auto h = hotkeys_.begin(); h != hotkeys_.end();) {
    h = beyond(h->first) ? hotkeys_.erase(h) : std::next(h);
  }
}

std::set<CompetitionId> CompetitionEmaTracker::competitions() const {
  std::set<CompetitionId> ids;
  for (const auto& [id, competition] : competitions_) ids.insert(id);
  return ids;
}

std::optional<Block> CompetitionEmaTracker::window(CompetitionId competition) const {
  const auto c = competitions_.find(competition);
  return c == competitions_.end() ? std::nullopt : c->second.window;
}

void CompetitionEmaTracker::start_window(CompetitionId competition, Block window) {
  Competition& c = competitions_[competition];
  if (c.window == window) return;
  c.window = window;
  c.window_scores.clear();
}

std::map<Uid, WindowScore> CompetitionEmaTracker::window_scores(CompetitionId competition) const {
  const auto c = competitions_.find(competition);
  return c == competitions_.end() ? std::map<Uid, WindowScore>{} : c->second.window_scores;
}

void CompetitionEmaTracker::set_window_score(CompetitionId competition, Uid uid,
                                             const WindowScore& score) {
  competitions_[competition].window_scores[uid] = score;
}

nlohmann::json CompetitionEmaTracker::to_json() const {
  nlohmann::json competitions = nlohmann::json::array();
  for (const auto& [id, competition] : competitions_) {
    nlohmann::json uids = nlohmann::json::array();
    for (const auto& [uid, scores] : competition.uids) {
      nlohmann::json entry = {{kUid, uid}};
      if (scores.ema) entry[kEma] = *scores.ema;
      if (scores.raw) {
        entry[kRawScore] = scores.raw->score;
        entry[kRawBlock] = scores.raw->block;
      }
      uids.push_back(std::move(entry));
    }
    nlohmann::json entry = {{kId, id}, {kUids, std::move(uids)}, {kWeights, competition.weights}};
    if (competition.window) {
      nlohmann::json scores = nlohmann::json::array();
      for (const auto& [uid, score] : competition.window_scores) {
        scores.push_back({{kUid, uid},
                          {kScore, score.score},
                          {kMeanLoss, loss_to_json(score.mean_loss)},
                          {kWinRate, score.win_rate}});
      }
      entry[kWindow] = *competition.window;
      entry[kWindowScores] = std::move(scores);
    }
    competitions.push_back(std::move(entry));
  }
  nlohmann::json hotkeys = nlohmann::json::array();
  for (const auto& [uid, hotkey] : hotkeys_) hotkeys.push_back({{kUid, uid}, {kHotkey, hotkey}});
  nlohmann::json document = {{kCompetitions, std::move(competitions)},
                             {kHotkeys, std::move(hotkeys)}};
  if (!weights_held_.empty()) document[kWeightsHeld] = weights_held_;
  return document;
}

CompetitionEmaTracker CompetitionEmaTracker::from_json(const nlohmann::json& document) {
  CompetitionEmaTracker tracker;
  try {
    for (const nlohmann::json& c : document.at(kCompetitions)) {
      Competition& competition = tracker.competitions_[c.at(kId).get<CompetitionId>()];
      competition.weights = c.at(kWeights).get<std::vector<double>>();
      for (const nlohmann::json& u : c.at(kUids)) {
        UidScores& scores = competition.uids[u.at(kUid).get<Uid>()];
        if (u.contains(kEma)) scores.ema = u.at(kEma).get<double>();
        if (u.contains(kRawScore)) {
          scores.raw = RawScore{u.at(kRawScore).get<double>(), u.at(kRawBlock).get<Block>()};
        }
      }
      if (c.contains(kWindow)) {
        competition.window = c.at(kWindow).get<Block>();
        for (const nlohmann::json& w : c.at(kWindowScores)) {
          competition.window_scores[w.at(kUid).get<Uid>()] =
              WindowScore{w.at(kScore).get<double>(), loss_from_json(w.at(kMeanLoss)),
                          w.at(kWinRate).get<double>()};
        }
      }
    }
    tracker.weights_held_ = document.value(kWeightsHeld, std::string());
    for (const nlohmann::json& h : document.at(kHotkeys)) {
      tracker.hotkeys_[h.at(kUid).get<Uid>()] = h.at(kHotkey).get<std::string>();
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("malformed EMA document: ") + e.what());
  }
  return tracker;
}

bool CompetitionEmaTracker::operator==(const CompetitionEmaTracker& other) const {
  return to_json() == other.to_json();
}

}  // namespace crucible
