// LocalChain: re-reading metagraph.json and commitments.json (parsed in
// local_chain_files.cpp), the block clock, the round seeds and the
// append-only weights log.
#include "crucible/validator/local_chain.h"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "crucible/common/files.h"
#include "crucible/validator/bridge_files.h"
#include "crucible/validator/sha256.h"

namespace crucible {
namespace {

using nlohmann::json;

constexpr const char* kMetagraphFile = "metagraph.json";
constexpr const char* kCommitmentsFile = "commitments.json";
constexpr const char* kWeightsFile = "weights.jsonl";
constexpr const char* kBridgeFile = "bridge.json";
constexpr const char* kSubmittedFile = "weights-submitted.jsonl";

double unix_now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// The first 8 bytes (big-endian) of SHA-256 of `message`.
uint64_t sha256_prefix(const std::string& message) {
  const std::string digest = sha256_digest(message);
  uint64_t seed = 0;
  for (int i = 0; i < 8; ++i) seed = (seed << 8) | static_cast<unsigned char>(digest[i]);
  return seed;
}

// "750, 600": the blocks of `hashes`, newest first, at most 8 of them.
std::string known_blocks(const std::map<Block, std::string>& hashes) {
  if (hashes.empty()) return "none";
  constexpr size_t kShown = 8;
  std::string text;
  size_t shown = 0;
  for (auto it = hashes.rbegin(); it != hashes.rend() && shown < kShown; ++it, ++shown) {
    text += (shown ? ", " : "") + std::to_string(it->first);
  }
  if (hashes.size() > kShown) text += ", ...";
  return text;
}

}  // namespace

double LocalChain::wall_now_seconds() { return unix_now_seconds(); }

LocalChain::LocalChain(std::string directory, NowSeconds now_seconds, Options options)
    : directory_(std::move(directory)),
      now_seconds_(std::move(now_seconds)),
      options_(options),
      created_at_(now_seconds_()) {}

std::string LocalChain::path(const std::string& file) const { return directory_ + "/" + file; }

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
      cache.read_at = cache.good_at = now;
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
  refresh(metagraph_, kMetagraphFile, false, &parse_local_metagraph);
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
  std::string message;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const MetagraphFile& metagraph = refresh_metagraph();
    const std::string netuid_and_block =
        std::to_string(metagraph.netuid) + ":" + std::to_string(block);
    if (!metagraph.block_hashes) {
      message = "crucible-local-chain:" + netuid_and_block;
    } else {
      const auto found = metagraph.block_hashes->find(block);
      if (found == metagraph.block_hashes->end()) {
        throw SeedUnavailableError(path(kMetagraphFile) + ": no block_hashes entry for block " +
                                   std::to_string(block) + " (has " +
                                   known_blocks(*metagraph.block_hashes) +
                                   "); the bridge has not recorded it yet");
      }
      message = "crucible-block-hash:" + netuid_and_block + ":" + found->second;
    }
  }
  return sha256_prefix(message);
}

bool LocalChain::seeds_are_predictable() {
  std::lock_guard<std::mutex> lock(mutex_);
  return !refresh_metagraph().block_hashes.has_value();
}

Metagraph LocalChain::metagraph() {
  std::lock_guard<std::mutex> lock(mutex_);
  const MetagraphFile& file = refresh_metagraph();
  return Metagraph{file.netuid, block_now(file), file.neurons};
}

std::map<std::string, Commitment> LocalChain::commitments() {
  std::lock_guard<std::mutex> lock(mutex_);
  return refresh(commitments_, kCommitmentsFile, true, &parse_local_commitments);
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
  const json line = {
      {"block", current_block()},
      {"time", unix_now_seconds()},
      {"uids", weights.uids},
      {"weights", weights.weights},
      {"version_key", weights.version_key},
      {"hotkey", options_.writer_hotkey.empty() ? json(nullptr) : json(options_.writer_hotkey)}};

  const std::string text = line.dump();
  std::lock_guard<std::mutex> lock(weights_mutex_);
  const bool created = !std::filesystem::exists(weights_path);
  try {
    append_line(weights_path, text);
  } catch (const std::runtime_error& e) {
    throw ChainError(e.what());
  }
  if (created) sync_directory(directory_);
  last_weights_key_ = weights_line_key(text);
  last_weights_.written_time = line["time"].get<double>();
  last_weights_.written_block = line["block"].get<Block>();
}

ChainFreshness LocalChain::freshness() {
  std::lock_guard<std::mutex> lock(mutex_);
  ChainFreshness freshness;
  try {
    refresh_metagraph();
  } catch (const ChainError&) {  // recorded in last_error_
  }
  const double now = now_seconds_();
  const auto seconds = [](double value) { return std::to_string(std::lround(value)) + " s"; };
  freshness.last_error = last_error_;
  if (!metagraph_.good) {
    freshness.age_seconds = now - created_at_;
    freshness.cause = std::string(kMetagraphFile) + " has never read fine: " + last_error_;
  } else if (last_error_file_ == kMetagraphFile) {
    freshness.age_seconds = now - metagraph_.good_at;
    freshness.cause = std::string(kMetagraphFile) + " last read fine " +
                      seconds(freshness.age_seconds) + " ago: " + last_error_;
  }
  try {
    freshness.bridge = read_bridge_status(path(kBridgeFile));
    if (const std::optional<BridgeStatus>& bridge = freshness.bridge) {
      const double synced = bridge->last_sync_ok_time.value_or(-1);
      const double age = synced < 0 ? now - bridge->time : now - synced;
      if (age > freshness.age_seconds) {
        freshness.age_seconds = age;
        freshness.cause = synced < 0 ? "the bridge has not synced the chain yet"
                                     : "the bridge last synced the chain " + seconds(age) + " ago";
        if (!bridge->last_sync_error.empty()) freshness.cause += ": " + bridge->last_sync_error;
      }
    }
  } catch (const std::exception& e) {
    freshness.last_error = e.what();
  }
  freshness.age_seconds = std::max(0.0, freshness.age_seconds);
  return freshness;
}

std::optional<WeightsDelivery> LocalChain::weights_delivery() {
  WeightsDelivery delivery;
  std::string key;
  {
    std::lock_guard<std::mutex> lock(weights_mutex_);
    if (last_weights_key_.empty()) return std::nullopt;
    delivery = last_weights_;
    key = last_weights_key_;
  }
  std::vector<SubmissionRecord> records;
  try {
    records = read_last_submissions(path(kSubmittedFile));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  for (const SubmissionRecord& record : records) {
    if (record.key == key) {
      delivery.status = record.status;
      delivery.message = record.message;
    }
    if (record.status == "submitted") {
      delivery.submitted_time = record.time;
      delivery.submitted_block = record.block;
    }
  }
  return delivery;
}

std::string LocalChain::last_error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_error_;
}

}  // namespace crucible
