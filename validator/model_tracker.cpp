#include "crucible/validator/model_tracker.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "crucible/common/json_number.h"

namespace crucible {
namespace {

// JSON keys of the document.
constexpr const char* kHotkeys = "hotkeys";
constexpr const char* kHotkey = "hotkey";
constexpr const char* kModel = "model";
constexpr const char* kCommitment = "commitment";
constexpr const char* kBlock = "block";
constexpr const char* kContentHash = "content_hash";
constexpr const char* kFailure = "failure";
constexpr const char* kHistory = "history";
constexpr const char* kCompetition = "competition";
constexpr const char* kRecords = "records";
constexpr const char* kMeanLoss = "mean_loss";
constexpr const char* kWinningBlock = "winning_block";
constexpr const char* kWinningLoss = "winning_loss";

bool same_loss(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

}  // namespace

bool EvaluationRecord::operator==(const EvaluationRecord& other) const {
  return block == other.block && same_loss(mean_loss, other.mean_loss) &&
         winning_block == other.winning_block && same_loss(winning_loss, other.winning_loss);
}

bool ModelTracker::set_model(const std::string& hotkey, const ModelMetadata& model) {
  HotkeyRecord& record = hotkeys_[hotkey];
  const bool changed = !record.model || !(*record.model == model);
  record.model = model;
  return changed;
}

std::optional<ModelMetadata> ModelTracker::model(const std::string& hotkey) const {
  const auto h = hotkeys_.find(hotkey);
  return h == hotkeys_.end() ? std::nullopt : h->second.model;
}

void ModelTracker::record_evaluation(const std::string& hotkey, CompetitionId competition,
                                     const EvaluationRecord& record) {
  std::deque<EvaluationRecord>& history = hotkeys_[hotkey].history[competition];
  history.push_back(record);
  while (history.size() > max_history_) history.pop_front();
}

std::vector<EvaluationRecord> ModelTracker::history(const std::string& hotkey,
                                                    CompetitionId competition) const {
  const auto h = hotkeys_.find(hotkey);
  if (h == hotkeys_.end()) return {};
  const auto c = h->second.history.find(competition);
  if (c == h->second.history.end()) return {};
  return {c->second.begin(), c->second.end()};
}

std::optional<Block> ModelTracker::last_evaluated_block(const std::string& hotkey) const {
  const auto h = hotkeys_.find(hotkey);
  if (h == hotkeys_.end()) return std::nullopt;
  std::optional<Block> latest;
  for (const auto& [competition, records] : h->second.history) {
    for (const EvaluationRecord& r : records) {
      if (!latest || r.block > *latest) latest = r.block;
    }
  }
  return latest;
}

void ModelTracker::retain_hotkeys(const std::set<std::string>& present) {
  for (auto h = hotkeys_.begin(); h != hotkeys_.end();) {
    h = present.count(h->first) ? std::next(h) : hotkeys_.erase(h);
  }
}

nlohmann::json ModelTracker::to_json() const {
  nlohmann::json hotkeys = nlohmann::json::array();
  for (const auto& [hotkey, record] : hotkeys_) {
    nlohmann::json entry = {{kHotkey, hotkey}};
    if (record.model) {
      entry[kModel] = {{kCommitment, record.model->commitment},
                       {kBlock, record.model->block},
                       {kContentHash, record.model->content_hash}};
      if (!record.model->failure.empty()) entry[kModel][kFailure] = record.model->failure;
    }
    nlohmann::json history = nlohmann::json::array();
    for (const auto& [competition, records] : record.history) {
      nlohmann::json list = nlohmann::json::array();
      for (const EvaluationRecord& r : records) {
        list.push_back({{kBlock, r.block},
                        {kMeanLoss, loss_to_json(r.mean_loss)},
                        {kWinningBlock, r.winning_block},
                        {kWinningLoss, loss_to_json(r.winning_loss)}});
      }
      history.push_back({{kCompetition, competition}, {kRecords, std::move(list)}});
    }
    entry[kHistory] = std::move(history);
    hotkeys.push_back(std::move(entry));
  }
  return {{kHotkeys, std::move(hotkeys)}};
}

ModelTracker ModelTracker::from_json(const nlohmann::json& document, size_t max_history) {
  ModelTracker tracker(max_history);
  try {
    for (const nlohmann::json& entry : document.at(kHotkeys)) {
      HotkeyRecord& record = tracker.hotkeys_[entry.at(kHotkey).get<std::string>()];
      if (entry.contains(kModel)) {
        const nlohmann::json& m = entry.at(kModel);
        record.model =
            ModelMetadata{m.at(kCommitment).get<std::string>(), m.at(kBlock).get<Block>(),
                          m.at(kContentHash).get<std::string>(), m.value(kFailure, std::string())};
      }
      for (const nlohmann::json& h : entry.at(kHistory)) {
        std::deque<EvaluationRecord>& records =
            record.history[h.at(kCompetition).get<CompetitionId>()];
        for (const nlohmann::json& r : h.at(kRecords)) {
          records.push_back(EvaluationRecord{
              r.at(kBlock).get<Block>(), loss_from_json(r.at(kMeanLoss)),
              r.at(kWinningBlock).get<Block>(), loss_from_json(r.at(kWinningLoss))});
        }
        while (records.size() > max_history) records.pop_front();
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("malformed model tracker document: ") + e.what());
  }
  return tracker;
}

}  // namespace crucible
