// The blockchain as the validator sees it: the current block, a per-block
// seed, the metagraph (uids, hotkeys, stakes, validator permits), the miners'
// model commitments, and set_weights. LocalChain (local_chain.h) is the
// embedded implementation; tests swap in fakes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "crucible/validator/bridge_files.h"
#include "crucible/validator/types.h"

namespace crucible {

struct Neuron {
  Uid uid = 0;
  std::string hotkey;  // non-empty, unique within the metagraph
  double stake = 0;    // finite, >= 0
  bool validator_permit = false;
  // The weights this neuron last set (a validator's row of the weight
  // matrix), indexed by uid; empty when unknown or none.
  std::vector<double> weights;
};

struct Metagraph {
  int64_t netuid = 0;
  Block block = 0;              // the block the metagraph was read at
  std::vector<Neuron> neurons;  // sorted by uid; the uids are exactly 0..n-1
};

// A miner's commitment as stored on chain: the raw string (ModelId::parse is
// the caller's job) and the block it was committed at.
struct Commitment {
  std::string commitment;
  Block block = 0;
};

// One set_weights call: weights[i] is the weight of uids[i].
struct WeightsSubmission {
  std::vector<Uid> uids;
  std::vector<double> weights;
  int64_t version_key = 0;
};

// How current a chain's data is: see Chain::freshness().
struct ChainFreshness {
  // Seconds since the data was last known current (0: it is now).
  double age_seconds = 0;
  std::string cause;       // one line: why it is that old; "" when the age is 0
  std::string last_error;  // one line: the latest read error; "" when the last reads went fine
  // What the process that keeps the chain data current reports about itself
  // (LocalChain: the bridge's bridge.json); nullopt when none reports.
  std::optional<BridgeStatus> bridge;
};

// What became of the weights this process wrote, where a chain can tell
// (see Chain::weights_delivery()).
struct WeightsDelivery {
  // When and at which block this process last wrote weights (unset before).
  std::optional<double> written_time;
  Block written_block = 0;
  // The latest outcome recorded for those weights ("submitted", "failed",
  // "submitting", ...); "" while none is recorded yet.
  std::string status;
  std::string message;  // what came with that outcome
  // The last successful submission of any weights, at any time.
  std::optional<double> submitted_time;
  std::optional<Block> submitted_block;
};

// A chain read or write failed: what() is one line naming the file (or
// endpoint) and what is wrong.
class ChainError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// block_seed() does not know the seed of that block yet (e.g. its block hash
// has not been recorded): what() is one line naming where it looked, the
// block and the blocks it does know. Asking again later may succeed.
class SeedUnavailableError : public ChainError {
 public:
  using ChainError::ChainError;
};

// Implementations are thread-safe: the model manager, the weight setter and
// the validator step call them from different threads. Every method may throw
// ChainError.
class Chain {
 public:
  virtual ~Chain() = default;

  // The chain's current block number.
  virtual Block current_block() = 0;

  // The round seed for `block`: deterministic, the same on every call and on
  // every validator reading the same chain; different blocks give different
  // seeds (with overwhelming probability). Derived from the block's hash where
  // the chain knows it, so nobody can compute it before the block exists.
  // Throws SeedUnavailableError when that block's seed is not known (yet).
  virtual uint64_t block_seed(Block block) = 0;

  // true when block_seed() can be computed for blocks that do not exist yet
  // (a local chain without block hashes): the tasks are predictable.
  virtual bool seeds_are_predictable() { return false; }

  // The subnet's neurons now.
  virtual Metagraph metagraph() = 0;

  // Every miner's latest commitment: hotkey -> commitment.
  virtual std::map<std::string, Commitment> commitments() = 0;

  // Submits the validator's weights. Throws ChainError when the submission is
  // malformed or the chain refuses it.
  virtual void set_weights(const WeightsSubmission& weights) = 0;

  // How current the data the other calls return is; never throws. The
  // default: always current.
  virtual ChainFreshness freshness() { return {}; }

  // What became of the weights set_weights() wrote, or nullopt when this
  // chain cannot tell (the default). Never throws.
  virtual std::optional<WeightsDelivery> weights_delivery() { return std::nullopt; }
};

// The round's seed block: the last multiple of `cadence` at or below `block`,
// e.g. seed_block(1000) == 900, seed_block(149) == 0. Throws
// std::invalid_argument when `cadence` is not positive.
inline Block seed_block(Block block, Block cadence = 150) {
  if (cadence <= 0) throw std::invalid_argument("seed_block: cadence must be > 0");
  const Block remainder = block % cadence;
  return block - (remainder < 0 ? remainder + cadence : remainder);
}

}  // namespace crucible
