// The two files a LocalChain reads (their layout: local_chain.h), parsed and
// checked from their text. Every rejection is a ChainError whose one-line
// message is "<path>: <json path>: <reason>" (the JSON path written like
// $.neurons[3].hotkey), or "<path>: invalid JSON: <parser message>".
// Unknown keys are ignored.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crucible/validator/chain.h"

namespace crucible {

// metagraph.json as read.
struct LocalMetagraphFile {
  int64_t netuid = 0;
  Block block = 0;
  double seconds_per_block = 0;
  double time = -1;             // unix seconds at which `block` was current; -1 = not given
  std::vector<Neuron> neurons;  // neurons[i].uid == i
  // "block_hashes": block -> its hash as lowercase hex digits without "0x";
  // nullopt when the field is absent (an empty object is present, no blocks).
  std::optional<std::map<Block, std::string>> block_hashes;
};

// commitments.json as read: hotkey -> commitment (the string not parsed).
using LocalCommitmentsFile = std::map<std::string, Commitment>;

// Parses metagraph.json's text; `path` names the file in messages. Throws
// ChainError for invalid JSON; a document that is not an object; netuid or
// block missing or not an integer >= 0; seconds_per_block (or a given time)
// missing or not a finite number >= 0; neurons not an array; a neuron that is
// not an object, whose uid is not an integer in [0, n) or repeats, whose
// hotkey is not a non-empty string or repeats, whose stake is not a finite
// number >= 0, whose validator_permit is not a bool, or whose optional
// weights are not an array of finite numbers >= 0; block_hashes (optional)
// not an object, with a key that is not a block number (decimal digits, no
// sign or leading zero) or a value that is not a string of hex digits,
// "0x"-prefixed or not, non-empty, of even length, at most 128 digits.
LocalMetagraphFile parse_local_metagraph(const std::string& text, const std::string& path);

// Parses commitments.json's text; `path` names the file in messages. Throws
// ChainError for invalid JSON; a document that is not an object; an empty
// hotkey; an entry that is not an object, whose commitment is not a string or
// whose block is not an integer >= 0.
LocalCommitmentsFile parse_local_commitments(const std::string& text, const std::string& path);

}  // namespace crucible
