// Feeds arbitrary bytes to both local chain parsers, parse_local_metagraph
// (metagraph.json) and parse_local_commitments (commitments.json).
// Expected: a parsed file, or ChainError whose message is one line starting
// with the path. Asserted on an accepted metagraph: neurons[i].uid == i,
// hotkeys non-empty and distinct, stakes and weights finite and >= 0,
// seconds_per_block finite and >= 0; on accepted commitments: non-empty
// hotkeys, blocks >= 0. Any other exception, a broken property, a crash or a
// sanitizer report is a bug.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>

#include "crucible/validator/local_chain_files.h"
#include "fuzz_support.h"

using crucible::fuzz::require;

namespace {

void check_metagraph(const crucible::LocalMetagraphFile& metagraph) {
  require(metagraph.netuid >= 0 && metagraph.block >= 0, "a negative netuid or block accepted");
  require(std::isfinite(metagraph.seconds_per_block) && metagraph.seconds_per_block >= 0,
          "a bad seconds_per_block accepted");
  std::set<std::string> hotkeys;
  for (size_t i = 0; i < metagraph.neurons.size(); ++i) {
    const crucible::Neuron& neuron = metagraph.neurons[i];
    require(neuron.uid == static_cast<crucible::Uid>(i), "neurons not placed by uid");
    require(!neuron.hotkey.empty() && hotkeys.insert(neuron.hotkey).second,
            "an empty or repeated hotkey accepted");
    require(std::isfinite(neuron.stake) && neuron.stake >= 0, "a bad stake accepted");
    for (double weight : neuron.weights) {
      require(std::isfinite(weight) && weight >= 0, "a bad weight accepted");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = crucible::fuzz::text_of(data, size);
  const std::string metagraph_path = "fuzz/metagraph.json";
  try {
    check_metagraph(crucible::parse_local_metagraph(text, metagraph_path));
  } catch (const crucible::ChainError& e) {
    crucible::fuzz::require_message(e.what(), metagraph_path + ": ");
  }
  const std::string commitments_path = "fuzz/commitments.json";
  try {
    for (const auto& [hotkey, commitment] :
         crucible::parse_local_commitments(text, commitments_path)) {
      require(!hotkey.empty() && commitment.block >= 0, "a bad commitment accepted");
    }
  } catch (const crucible::ChainError& e) {
    crucible::fuzz::require_message(e.what(), commitments_path + ": ");
  }
  return 0;
}
