// The embedded default Chain: a directory of JSON files that the validator
// reads and a weights log it appends to. A bridge process can mirror a real
// subtensor into it (replacing files atomically); demos and tests write them
// by hand.
//
//   DIR/metagraph.json    {"netuid": 1, "block": 1000, "seconds_per_block": 12,
//                          "time": 1700000000.0,
//                          "block_hashes": {"900": "0x9a3f..", "750": "0x41c0..", ...},
//                          "neurons": [{"uid": 0, "hotkey": "5F..", "stake": 10.0,
//                                       "validator_permit": false,
//                                       "weights": [0.0, 0.7, ...]}, ...]}
//                         ("time", optional: the unix time at which "block" was
//                          current, by default the file's modification time;
//                          "block_hashes", optional: the chain's hashes of the
//                          blocks that round seeds come from, hex, 0x-prefixed
//                          or not, any case; without it the seeds are
//                          predictable, see block_seed;
//                          "weights", optional: what that validator last set, by uid)
//   DIR/commitments.json  {"<hotkey>": {"commitment": "ns/name:commit:hash:0",
//                                       "block": 990}, ...}   (optional)
//   DIR/bridge.json, DIR/weights-submitted.jsonl   (optional, written by the
//                         bridge about itself; see bridge_files.h)
//   DIR/weights.jsonl     one line per set_weights: {"block", "hotkey", "time",
//                          "uids", "version_key", "weights"}; "hotkey" is the
//                          writer's hotkey (LocalChainOptions::writer_hotkey),
//                          null when not given, so the bridge submits only its
//                          own wallet's lines
//
// Unknown keys are ignored, so a bridge may add fields of its own.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "crucible/validator/chain.h"
#include "crucible/validator/local_chain_files.h"

namespace crucible {

// How often LocalChain re-reads its files and how it retries a bad read.
struct LocalChainOptions {
  // A file is re-read at most this often (seconds on the injected clock);
  // 0 re-reads on every call. current_block() advances between re-reads.
  double refresh_seconds = 1.0;
  // A file that does not parse or validate (e.g. caught half-written by a
  // writer that does not rename atomically) is read this many times in all,
  // `retry_delay_seconds` apart, before the read counts as failed.
  int read_attempts = 5;
  double retry_delay_seconds = 0.05;
  // The ss58 address of the hotkey whose weights this process writes, put in
  // every weights.jsonl line; empty = unknown (written as null).
  std::string writer_hotkey;
};

class LocalChain : public Chain {
 public:
  // The wall clock in unix seconds (it is compared with the time stored in
  // metagraph.json); injected so tests control time.
  using NowSeconds = std::function<double()>;

  using Options = LocalChainOptions;

  // The system clock in unix seconds: the default NowSeconds.
  static double wall_now_seconds();

  // Reads nothing yet: files are read on first use.
  explicit LocalChain(std::string directory, NowSeconds now_seconds = wall_now_seconds,
                      Options options = Options());

  // The "block" of metagraph.json plus one per `seconds_per_block` elapsed
  // since its "time" (default: the file's modification time), so every
  // LocalChain over the directory, before and after a restart, counts the
  // same (seconds_per_block 0 freezes the block). Never less than a block
  // this LocalChain returned before, e.g. when the wall clock steps back.
  Block current_block() override;

  // With "block_hashes" in metagraph.json: the first 8 bytes (big-endian) of
  // SHA-256 of "crucible-block-hash:<netuid>:<block>:<hash>" (<hash> the
  // block's hash in lowercase hex without "0x"); throws SeedUnavailableError,
  // naming the file, the block and the blocks it has, when that block has no
  // entry. Without the field: SHA-256 of "crucible-local-chain:<netuid>:<block>",
  // computable for any block in advance (seeds_are_predictable()).
  uint64_t block_seed(Block block) override;

  // true when metagraph.json has no "block_hashes" field. Throws ChainError
  // when metagraph.json never read fine.
  bool seeds_are_predictable() override;

  // The neurons of metagraph.json, sorted by uid; `block` is current_block().
  Metagraph metagraph() override;

  // The entries of commitments.json; a missing file is no commitments. The
  // commitment strings are returned as written, not parsed.
  std::map<std::string, Commitment> commitments() override;

  // Appends one line to weights.jsonl (one write() on an O_APPEND
  // descriptor, then fsync), so concurrent writers never interleave within a
  // line: "block" is current_block(), "time" the wall clock in unix seconds
  // (not the injected clock), "hotkey" Options::writer_hotkey. Throws
  // ChainError when uids and weights differ in length, a weight is negative
  // or not finite, a uid is negative or repeated, or the write fails. One
  // writer per directory is the caller's to ensure (StateDirLock on
  // DIR/weights.lock).
  void set_weights(const WeightsSubmission& weights) override;

  // Reads failing after a good read keep serving the last good copy (never
  // a half-applied one); this is the one-line error of the latest failed
  // read, cleared when that file next reads fine. Only a file that never read
  // fine makes the calls above throw.
  std::string last_error() const;

  // Re-reads metagraph.json (when due) and bridge.json, then: the age is the
  // larger of the time since metagraph.json last read fine, while its reads
  // fail (since this LocalChain was made, when it never read fine), and the
  // time since bridge.json's last good sync, when a bridge writes one (a
  // bridge that stopped, or cannot reach its chain, makes the data age).
  // A folder nobody updates and no bridge reports on stays current. The
  // bridge's report itself comes along (ChainFreshness::bridge).
  ChainFreshness freshness() override;

  // The last weights this LocalChain wrote and the bridge's latest record of
  // them in weights-submitted.jsonl (matched by weights_line_key()), with
  // the last successful submission there. nullopt before any set_weights
  // and when weights-submitted.jsonl cannot be read.
  std::optional<WeightsDelivery> weights_delivery() override;

 private:
  using MetagraphFile = LocalMetagraphFile;
  using CommitmentsFile = LocalCommitmentsFile;

  // A file's last good parse and when it was read.
  template <typename Document>
  struct Cached {
    std::optional<Document> good;
    double read_at = 0;  // the last read, good or not
    double good_at = 0;  // the last good read
  };

  // Re-reads `cache` when due (retrying a bad read), keeping the last good
  // copy on failure; throws ChainError when there never was a good copy. A
  // missing file reads as "{}" when `may_be_missing`. Requires mutex_.
  template <typename Document>
  const Document& refresh(Cached<Document>& cache, const std::string& file, bool may_be_missing,
                          Document (*parse)(const std::string& text, const std::string& path));

  // Refreshes metagraph.json, filling a missing "time" with the file's
  // modification time. Requires mutex_.
  const MetagraphFile& refresh_metagraph();
  // The block `metagraph` (the cached copy) stands at now, at least
  // highest_block_ (which it raises). Requires mutex_.
  Block block_now(const MetagraphFile& metagraph);

  std::string path(const std::string& file) const;

  const std::string directory_;
  const NowSeconds now_seconds_;
  const Options options_;

  mutable std::mutex mutex_;  // guards the members from here to weights_mutex_
  Cached<MetagraphFile> metagraph_;
  Cached<CommitmentsFile> commitments_;
  Block highest_block_ = 0;  // the highest block returned so far
  std::string last_error_;
  std::string last_error_file_;
  const double created_at_;  // on the injected clock

  std::mutex weights_mutex_;      // orders appends to weights.jsonl; guards the two below
  std::string last_weights_key_;  // weights_line_key() of the last line written
  WeightsDelivery last_weights_;  // when and at which block it was written
};

}  // namespace crucible
