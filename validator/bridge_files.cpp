#include "crucible/validator/bridge_files.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "crucible/common/files.h"
#include "crucible/validator/sha256.h"

namespace crucible {
namespace {

using nlohmann::json;

// `object[key]` when it is a number (an integer for Block), else nullopt.
std::optional<double> number(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}
std::optional<Block> integer(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<Block>();
}
std::string text(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}
const json& section(const json& object, const char* key) {
  static const json kEmpty = json::object();
  const auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

}  // namespace

std::optional<BridgeStatus> read_bridge_status(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return std::nullopt;
  const json document = json::parse(read_file(path), nullptr, false);
  if (!document.is_object() || !number(document, "time")) {
    throw std::runtime_error(path + ": not a bridge status (a JSON object with a number \"time\")");
  }
  BridgeStatus status;
  status.time = *number(document, "time");
  const json& sync = section(document, "sync");
  status.last_sync_ok_time = number(sync, "last_ok_time");
  status.last_sync_ok_block = integer(sync, "last_ok_block");
  status.last_sync_error = text(sync, "last_error");
  status.sync_failures = integer(sync, "consecutive_failures").value_or(0);
  const json& weights = section(document, "weights");
  status.weights_enabled = weights.value("enabled", false) == true;
  status.submission_failures = integer(weights, "consecutive_failures").value_or(0);
  return status;
}

std::vector<SubmissionRecord> read_last_submissions(const std::string& path, size_t max_bytes) {
  std::vector<SubmissionRecord> records;
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) return records;
    throw std::runtime_error(path + ": cannot read");
  }
  file.seekg(0, std::ios::end);
  const std::streamoff size = file.tellg();
  const std::streamoff start = size > static_cast<std::streamoff>(max_bytes)
                                   ? size - static_cast<std::streamoff>(max_bytes)
                                   : 0;
  file.seekg(start);
  std::string tail(static_cast<size_t>(size - start), '\0');
  file.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  if (!file) throw std::runtime_error(path + ": cannot read");
  // From the first whole line (after a newline, unless at the file's start)
  // to the last newline: a torn first or last line is left out.
  size_t begin = start == 0 ? 0 : tail.find('\n');
  const size_t end = tail.rfind('\n');
  if (begin == std::string::npos || end == std::string::npos) return records;
  if (start != 0) ++begin;
  while (begin < end) {
    const size_t newline = tail.find('\n', begin);
    const json record = json::parse(tail.substr(begin, newline - begin), nullptr, false);
    begin = newline + 1;
    if (!record.is_object()) continue;
    SubmissionRecord parsed;
    parsed.key = text(record, "key");
    parsed.status = text(record, "status");
    parsed.message = text(record, "message");
    parsed.block = integer(record, "block");
    parsed.time = number(record, "time").value_or(0);
    records.push_back(std::move(parsed));
  }
  return records;
}

std::string weights_line_key(const std::string& line) { return "sha256:" + sha256_hex(line); }

}  // namespace crucible
