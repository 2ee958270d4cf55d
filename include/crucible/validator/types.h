// Identifiers shared by the validator core (no LibTorch, no CUDA).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace crucible {

using Uid = int64_t;            // a neuron's index in the metagraph
using Block = int64_t;          // a chain block number
using CompetitionId = int64_t;  // a competition's id in the schedule

// A bad configuration document: what() is one line that names the source and
// the JSON path of the offending value, e.g. "schedule.json:
// $.schedule[0].competitions[1].reward_share: ...".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace crucible
