// LocalChain: reading and checking metagraph.json and commitments.json
// (every rejection names the file and the JSON path), the block clock, and
// the append-only weights log.
#include "crucible/validator/local_chain.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "crucible/common/files.h"

namespace crucible {
namespace {

using nlohmann::json;

constexpr const char* kMetagraphFile = "metagraph.json";
constexpr const char* kCommitmentsFile = "commitments.json";
constexpr const char* kWeightsFile = "weights.jsonl";

[[noreturn]] void fail(const std::string& path, const std::string& json_path,
                       const std::string& reason) {
  throw ChainError(path + ": " + json_path + ": " + reason);
}

// A value as a message shows it: scalars in JSON notation, others by type.
std::string describe(const json& value) {
  if (value.is_primitive() && !value.is_string()) return value.dump();
  return value.type_name();
}

// A string in JSON notation: quoted and escaped, so it stays on one line.
std::string json_quoted(const std::string& text) {
  return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

json parse_json(const std::string& text, const std::string& path) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw ChainError(path + ": invalid JSON: " + e.what());
  }
}

// Reads typed fields of one JSON object, failing with "<path>: <json path>.<key>: ...".
class FieldReader {
 public:
  FieldReader(const json& node, std::string json_path, std::string path)
      : node_(node), json_path_(std::move(json_path)), path_(std::move(path)) {
    if (!node_.is_object()) fail(path_, json_path_, "expected an object, got " + describe(node_));
  }

  const json& field(const std::string& key, const std::string& expected) const {
    const auto found = node_.find(key);
    if (found == node_.end()) fail(path_, at(key), "missing; expected " + expected);
    return *found;
  }

  int64_t integer(const std::string& key, int64_t min) const {
    const std::string expected = "an integer >= " + std::to_string(min);
    const json& value = field(key, expected);
    const bool fits =
        value.is_number_integer() &&
        (!value.is_number_unsigned() || value.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX));
    if (!fits || value.get<int64_t>() < min) {
      fail(path_, at(key), "expected " + expected + ", got " + describe(value));
    }
    return value.get<int64_t>();
  }

  double non_negative_number(const std::string& key) const {
    const std::string expected = "a finite number >= 0";
    const json& value = field(key, expected);
    if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
      fail(path_, at(key), "expected " + expected + ", got " + describe(value));
    }
    return value.get<double>();
  }

  std::string string(const std::string& key, bool non_empty) const {
    const std::string expected = non_empty ? "a non-empty string" : "a string";
    const json& value = field(key, expected);
    if (!value.is_string() || (non_empty && value.get<std::string>().empty())) {
      fail(path_, at(key), "expected " + expected + ", got " + describe(value));
    }
    return value.get<std::string>();
  }

  bool boolean(const std::string& key) const {
    const json& value = field(key, "true or false");
    if (!value.is_boolean()) fail(path_, at(key), "expected true or false, got " + describe(value));
    return value.get<bool>();
  }

  // An optional array of finite numbers >= 0; empty when the key is absent.
  std::vector<double> optional_numbers(const std::string& key) const {
    const auto found = node_.find(key);
    if (found == node_.end()) return {};
    const std::string expected = "an array of finite numbers >= 0";
    if (!found->is_array())
      fail(path_, at(key), "expected " + expected + ", got " + describe(*found));
    std::vector<double> values;
    for (size_t i = 0; i < found->size(); ++i) {
      const json& value = (*found)[i];
      if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
        fail(path_, at(key) + "[" + std::to_string(i) + "]",
             "expected a finite number >= 0, got " + describe(value));
      }
      values.push_back(value.get<double>());
    }
    return values;
  }

  std::string at(const std::string& key) const { return json_path_ + "." + key; }

 private:
  const json& node_;
  const std::string json_path_;
  const std::string path_;
};

double unix_now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

double LocalChain::wall_now_seconds() { return unix_now_seconds(); }

LocalChain::LocalChain(std::string directory, NowSeconds now_seconds, Options options)
    : directory_(std::move(directory)), now_seconds_(std::move(now_seconds)), options_(options) {}

std::string LocalChain::path(const std::string& file) const { return directory_ + "/" + file; }

LocalChain::MetagraphFile LocalChain::parse_metagraph(const std::string& text,
                                                      const std::string& path) {
  const json document = parse_json(text, path);
  const FieldReader top(document, "$", path);
  MetagraphFile metagraph;
  metagraph.netuid = top.integer("netuid", 0);
  metagraph.block = top.integer("block", 0);
  metagraph.seconds_per_block = top.non_negative_number("seconds_per_block");
  if (document.contains("time")) metagraph.time = top.non_negative_number("time");
  const json& neurons = top.field("neurons", "an array");
  if (!neurons.is_array()) fail(path, "$.neurons", "expected an array, got " + describe(neurons));

  const int64_t count = static_cast<int64_t>(neurons.size());
  std::vector<std::string> uid_paths(neurons.size());
  std::map<std::string, std::string> hotkey_paths;
  metagraph.neurons.resize(neurons.size());
  for (size_t i = 0; i < neurons.size(); ++i) {
    const std::string json_path = "$.neurons[" + std::to_string(i) + "]";
    const FieldReader reader(neurons[i], json_path, path);
    Neuron neuron;
    neuron.uid = reader.integer("uid", 0);
    if (neuron.uid >= count) {
      fail(path, reader.at("uid"),
           "uid " + std::to_string(neuron.uid) + " is out of range: the " + std::to_string(count) +
               " neurons must have the uids 0.." + std::to_string(count - 1));
    }
    std::string& first_with_uid = uid_paths[static_cast<size_t>(neuron.uid)];
    if (!first_with_uid.empty()) {
      fail(path, reader.at("uid"),
           "duplicate uid " + std::to_string(neuron.uid) + " (also at " + first_with_uid + ")");
    }
    first_with_uid = reader.at("uid");
    neuron.hotkey = reader.string("hotkey", true);
    const auto [previous, inserted] = hotkey_paths.emplace(neuron.hotkey, reader.at("hotkey"));
    if (!inserted) {
      fail(
          path, reader.at("hotkey"),
          "duplicate hotkey " + json_quoted(neuron.hotkey) + " (also at " + previous->second + ")");
    }
    neuron.stake = reader.non_negative_number("stake");
    neuron.validator_permit = reader.boolean("validator_permit");
    neuron.weights = reader.optional_numbers("weights");
    // n distinct uids in [0, n) are exactly 0..n-1: placing by uid sorts them.
    metagraph.neurons[static_cast<size_t>(neuron.uid)] = std::move(neuron);
  }
  return metagraph;
}

LocalChain::CommitmentsFile LocalChain::parse_commitments(const std::string& text,
                                                          const std::string& path) {
  const json document = parse_json(text, path);
  if (!document.is_object()) fail(path, "$", "expected an object, got " + describe(document));
  CommitmentsFile commitments;
  for (const auto& item : document.items()) {
    const std::string json_path = "$[" + json_quoted(item.key()) + "]";
    if (item.key().empty()) fail(path, json_path, "expected a non-empty hotkey");
    const FieldReader reader(item.value(), json_path, path);
    Commitment commitment;
    commitment.commitment = reader.string("commitment", false);
    commitment.block = reader.integer("block", 0);
    commitments.emplace(item.key(), std::move(commitment));
  }
  return commitments;
}

template <typename Document>
const Document& LocalChain::refresh(Cached<Document>& cache, const std::string& file,
                                    bool may_be_missing,
                                    Document (*parse)(const std::string&, const std::string&)) {
  const double now = now_seconds_();
  if (cache.good && now - cache.read_at < options_.refresh_seconds) return *cache.good;
  const std::string file_path = path(file);
  std::string error;
  // Retries sleep holding mutex_: other callers wait for the outcome rather
  // than read the same half-written file themselves.
  for (int attempt = 0; attempt < std::max(1, options_.read_attempts); ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(options_.retry_delay_seconds));
    }
    try {
      const bool missing = may_be_missing && !std::filesystem::exists(file_path);
      const std::string text = missing ? "{}" : read_file(file_path);
      cache.good = parse(text, file_path);
      cache.read_at = now;
      if (last_error_file_ == file) {
        last_error_.clear();
        last_error_file_.clear();
      }
      return *cache.good;
    } catch (const std::exception& e) {  // ours and read_file's errors name the file
      error = e.what();
    }
  }
  last_error_ = error;
  last_error_file_ = file;
  if (!cache.good) throw ChainError(error);
  cache.read_at = now;  // keep the last good copy until the next refresh is due
  return *cache.good;
}

const LocalChain::MetagraphFile& LocalChain::refresh_metagraph() {
  refresh(metagraph_, kMetagraphFile, false, &parse_metagraph);
  MetagraphFile& metagraph = *metagraph_.good;  // refresh() returned it or threw
  if (metagraph.time < 0) {
    // Read after the file: a file replaced in between gives a later time,
    // so a block too low for a moment, never one too high.
    struct stat status {};
    if (::stat(path(kMetagraphFile).c_str(), &status) == 0) {
      metagraph.time = static_cast<double>(status.st_mtim.tv_sec) +
                       static_cast<double>(status.st_mtim.tv_nsec) * 1e-9;
    }
  }
  return metagraph;
}

Block LocalChain::block_now(const MetagraphFile& metagraph) {
  Block block = metagraph.block;
  if (metagraph.seconds_per_block > 0 && metagraph.time >= 0) {
    const double elapsed = std::max(0.0, now_seconds_() - metagraph.time);
    block += static_cast<Block>(std::floor(elapsed / metagraph.seconds_per_block));
  }
  highest_block_ = std::max(highest_block_, block);
  return highest_block_;
}

Block LocalChain::current_block() {
  std::lock_guard<std::mutex> lock(mutex_);
  return block_now(refresh_metagraph());
}

uint64_t LocalChain::block_seed(Block block) {
  int64_t netuid = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    netuid = refresh_metagraph().netuid;
  }
  const std::string message =
      "crucible-local-chain:" + std::to_string(netuid) + ":" + std::to_string(block);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &digest_length, EVP_sha256(), nullptr) !=
      1) {
    throw ChainError("block_seed: SHA-256 failed");
  }
  uint64_t seed = 0;
  for (int i = 0; i < 8; ++i) seed = (seed << 8) | digest[i];
  return seed;
}

Metagraph LocalChain::metagraph() {
  std::lock_guard<std::mutex> lock(mutex_);
  const MetagraphFile& file = refresh_metagraph();
  return Metagraph{file.netuid, block_now(file), file.neurons};
}

std::map<std::string, Commitment> LocalChain::commitments() {
  std::lock_guard<std::mutex> lock(mutex_);
  return refresh(commitments_, kCommitmentsFile, true, &parse_commitments);
}

void LocalChain::set_weights(const WeightsSubmission& weights) {
  const std::string weights_path = path(kWeightsFile);
  const auto refuse = [&](const std::string& reason) {
    throw ChainError(weights_path + ": set_weights refused: " + reason);
  };
  if (weights.uids.size() != weights.weights.size()) {
    refuse(std::to_string(weights.uids.size()) + " uids but " +
           std::to_string(weights.weights.size()) + " weights");
  }
  std::set<Uid> seen;
  for (size_t i = 0; i < weights.uids.size(); ++i) {
    const std::string index = "[" + std::to_string(i) + "]";
    if (weights.uids[i] < 0) refuse("uids" + index + " is negative");
    if (!seen.insert(weights.uids[i]).second) {
      refuse("uids" + index + " repeats uid " + std::to_string(weights.uids[i]));
    }
    if (!std::isfinite(weights.weights[i]) || weights.weights[i] < 0) {
      char value[32];
      std::snprintf(value, sizeof value, "%g", weights.weights[i]);
      refuse("weights" + index + " is " + value + "; expected a finite number >= 0");
    }
  }
  const json line = {{"block", current_block()},
                     {"time", unix_now_seconds()},
                     {"uids", weights.uids},
                     {"weights", weights.weights},
                     {"version_key", weights.version_key}};

  std::lock_guard<std::mutex> lock(weights_mutex_);
  const bool created = !std::filesystem::exists(weights_path);
  try {
    append_line(weights_path, line.dump());
  } catch (const std::runtime_error& e) {
    throw ChainError(e.what());
  }
  if (created) sync_directory(directory_);
}

std::string LocalChain::last_error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_error_;
}

}  // namespace crucible
