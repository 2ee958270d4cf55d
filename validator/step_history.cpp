#include "crucible/validator/step_history.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <system_error>

namespace crucible {
namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kReadBlockBytes = 64 * 1024;

// Collects the lines of a file given from its end backwards, piece by piece.
class BackwardLines {
 public:
  explicit BackwardLines(size_t max_records) : max_records_(max_records) {}

  bool full() const { return newest_first_.size() >= max_records_; }

  // Bytes that come just before those given so far, inside one line.
  void prepend(const char* data, size_t size) {
    if (too_long_ || size == 0) return;
    line_bytes_ += size;
    if (line_bytes_ > kMaxStepLineBytes) {
      too_long_ = true;
      pieces_.clear();
      return;
    }
    pieces_.emplace_back(data, size);
  }

  // The line given so far starts here: judge it and start the next (earlier) one.
  void end_line() {
    const bool partial = last_segment_;
    last_segment_ = false;
    std::string line;
    line.reserve(line_bytes_);
    for (auto piece = pieces_.rbegin(); piece != pieces_.rend(); ++piece) line += *piece;
    if (too_long_ || (!blank(line) && (partial || !add_record(line)))) ++skipped_lines_;
    pieces_.clear();
    line_bytes_ = 0;
    too_long_ = false;
  }

  StepRecords take() {
    StepRecords result;
    result.records.assign(std::make_move_iterator(newest_first_.rbegin()),
                          std::make_move_iterator(newest_first_.rend()));
    result.skipped_lines = skipped_lines_;
    return result;
  }

 private:
  static bool blank(const std::string& line) {
    return line.find_first_not_of(" \t\r") == std::string::npos;
  }

  bool add_record(const std::string& line) {
    Json record = Json::parse(line, nullptr, false);
    if (!record.is_object() || !record.contains("step") || !record["step"].is_number_integer()) {
      return false;
    }
    newest_first_.push_back(std::move(record));
    return true;
  }

  const size_t max_records_;
  std::vector<Json> newest_first_;
  size_t skipped_lines_ = 0;
  std::vector<std::string> pieces_;  // of the current line, last piece first
  size_t line_bytes_ = 0;
  bool too_long_ = false;
  bool last_segment_ = true;  // the bytes after the file's last newline
};

// `object[key]` when it is a number, else null.
Json number_or_null(const Json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_number() ? *found : Json(nullptr);
}

// The record's "models" entries that are objects with an integer "uid".
std::vector<const Json*> models_of(const Json& record) {
  std::vector<const Json*> models;
  const auto found = record.find("models");
  if (found == record.end() || !found->is_array()) return models;
  for (const Json& model : *found) {
    const auto uid = model.is_object() ? model.find("uid") : model.end();
    if (uid != model.end() && uid->is_number_integer()) models.push_back(&model);
  }
  return models;
}

int64_t uid_of(const Json& model) { return model["uid"].get<int64_t>(); }

std::string string_or_empty(const Json& model, const char* key) {
  const auto found = model.find(key);
  return found != model.end() && found->is_string() ? found->get<std::string>() : "";
}

// The number of steps asked for by the query, or nullopt when "steps" is not
// a whole number.
std::optional<size_t> requested_steps(const std::string& query) {
  size_t steps = kDefaultHistorySteps;
  size_t start = 0;
  while (start <= query.size()) {
    const size_t end = std::min(query.find('&', start), query.size());
    const std::string parameter = query.substr(start, end - start);
    start = end + 1;
    if (parameter != "steps" && parameter.rfind("steps=", 0) != 0) continue;
    const std::string value = parameter.size() > 6 ? parameter.substr(6) : "";
    if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    steps = 0;
    for (char digit : value) {
      steps = std::min(steps * 10 + static_cast<size_t>(digit - '0'), kMaxHistorySteps);
    }
    steps = std::max<size_t>(steps, 1);
  }
  return steps;
}

}  // namespace

void rotate_step_log(const std::string& path) {
  namespace fs = std::filesystem;
  for (int k = kRotatedStepLogs; k >= 1; --k) {
    const std::string from = k == 1 ? path : path + "." + std::to_string(k - 1);
    std::error_code error;
    if (!fs::exists(from, error)) continue;
    fs::rename(from, path + "." + std::to_string(k), error);
    if (error) throw std::runtime_error(from + ": cannot rotate: " + error.message());
  }
}

namespace {

// read_last_step_records() of one file.
StepRecords read_last_step_records_of_file(const std::string& path, size_t max_steps) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    std::error_code error;
    if (!std::filesystem::exists(path, error) && !error) return {};
    throw std::runtime_error(path + ": cannot read");
  }
  BackwardLines lines(max_steps);
  std::streamoff position = in.tellg();
  std::vector<char> block(kReadBlockBytes);
  while (position > 0 && !lines.full()) {
    const size_t size = static_cast<size_t>(std::min<std::streamoff>(position, kReadBlockBytes));
    position -= static_cast<std::streamoff>(size);
    in.seekg(position);
    if (!in.read(block.data(), static_cast<std::streamsize>(size))) {
      throw std::runtime_error(path + ": cannot read");
    }
    size_t unassigned = size;  // block[0, unassigned) is not in a line yet
    for (size_t i = size; i-- > 0 && !lines.full();) {
      if (block[i] != '\n') continue;
      lines.prepend(block.data() + i + 1, unassigned - i - 1);
      lines.end_line();
      unassigned = i;
    }
    if (!lines.full()) lines.prepend(block.data(), unassigned);
  }
  if (position == 0 && !lines.full()) lines.end_line();  // the file's first line
  return lines.take();
}

}  // namespace

StepRecords read_last_step_records(const std::string& path, size_t max_steps) {
  StepRecords all;
  for (int k = 0; k <= kRotatedStepLogs && all.records.size() < max_steps; ++k) {
    StepRecords older = read_last_step_records_of_file(
        k == 0 ? path : path + "." + std::to_string(k), max_steps - all.records.size());
    older.records.insert(older.records.end(), std::make_move_iterator(all.records.begin()),
                         std::make_move_iterator(all.records.end()));
    all.records = std::move(older.records);
    all.skipped_lines += older.skipped_lines;
  }
  return all;
}

Json step_history_document(const StepRecords& records) {
  std::map<int64_t, std::string> hotkeys;  // by uid: the last one seen
  std::set<std::string> failure_statuses;
  for (const Json& record : records.records) {
    for (const Json* model : models_of(record)) {
      std::string& hotkey = hotkeys[uid_of(*model)];
      const std::string seen_hotkey = string_or_empty(*model, "hotkey");
      if (!seen_hotkey.empty()) hotkey = seen_hotkey;
      const std::string status = string_or_empty(*model, "status");
      if (!status.empty() && status != "ok" && status != "waiting") {
        failure_statuses.insert(status);
      }
    }
  }

  static constexpr const char* kSeriesFields[] = {"ema", "weight", "mean_loss", "composite"};
  static constexpr const char* kStepFields[] = {"time",    "block",   "competition_id",
                                                "seconds", "pending", "active"};
  static constexpr const char* kStepArrays[] = {"times",   "blocks",  "competition_ids",
                                                "seconds", "pending", "active"};
  Json document = {{"steps", Json::array()}};
  for (const char* name : kStepArrays) document[name] = Json::array();
  Json uids = Json::array();
  std::map<int64_t, Json> series;
  for (const auto& [uid, hotkey] : hotkeys) {
    uids.push_back(uid);
    series[uid] = {{"hotkey", hotkey}};
    for (const char* field : kSeriesFields) series[uid][field] = Json::array();
  }
  std::map<std::string, Json> failures;
  for (const std::string& status : failure_statuses) failures[status] = Json::array();

  for (const Json& record : records.records) {
    document["steps"].push_back(record["step"]);
    for (size_t k = 0; k < std::size(kStepFields); ++k) {
      document[kStepArrays[k]].push_back(number_or_null(record, kStepFields[k]));
    }
    std::map<int64_t, const Json*> by_uid;
    std::map<std::string, int64_t> failed;
    for (const Json* model : models_of(record)) {
      by_uid[uid_of(*model)] = model;
      ++failed[string_or_empty(*model, "status")];
    }
    for (auto& [uid, values] : series) {
      const auto model = by_uid.find(uid);
      for (const char* field : kSeriesFields) {
        values[field].push_back(model == by_uid.end() ? Json(nullptr)
                                                      : number_or_null(*model->second, field));
      }
    }
    for (auto& [status, counts] : failures) counts.push_back(failed[status]);
  }

  document["uids"] = std::move(uids);
  document["series"] = Json::object();
  for (auto& [uid, values] : series) document["series"][std::to_string(uid)] = std::move(values);
  document["failures"] = Json::object();
  for (auto& [status, counts] : failures) document["failures"][status] = std::move(counts);
  document["current_weights"] = Json::array();
  document["miners"] = Json::array();
  if (!records.records.empty()) {
    const Json& last = records.records.back();
    const auto weights = last.find("subnet_weights");
    if (weights != last.end() && weights->is_array()) document["current_weights"] = *weights;
    for (const Json* model : models_of(last)) {
      Json miner = {{"uid", uid_of(*model)}};
      for (const char* field : {"hotkey", "model", "status", "reason"}) {
        miner[field] = string_or_empty(*model, field);
      }
      for (const char* field : {"ema", "weight"}) miner[field] = number_or_null(*model, field);
      document["miners"].push_back(std::move(miner));
    }
  }
  document["skipped_lines"] = records.skipped_lines;
  document["total_steps_in_window"] = records.records.size();
  return document;
}

StatusRoute step_history_route(const std::string& metrics_path) {
  return [metrics_path](const std::string& query) -> StatusResponse {
    const std::optional<size_t> steps = requested_steps(query);
    if (!steps) {
      return {400, "text/plain; charset=utf-8",
              "Bad Request: steps must be a whole number (1.." + std::to_string(kMaxHistorySteps) +
                  " are served)\n"};
    }
    const Json document = step_history_document(read_last_step_records(metrics_path, *steps));
    return {200, "application/json", document.dump(-1, ' ', false, Json::error_handler_t::replace)};
  };
}

}  // namespace crucible
