// Feeds arbitrary bytes to ModelId::parse as a commitment string, and writes
// an accepted one back with to_commitment.
// Expected: a ModelId, or ModelIdError whose message is one line; then a
// commitment of at most kMaxCommitmentBytes bytes, or ModelIdError when even a
// shortened name cannot fit. Asserted: the written commitment parses; it
// parses back equal when the name was not shortened; writing that parse again
// gives the same text. Any other exception, a broken property, a crash or a
// sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "crucible/validator/model_id.h"
#include "fuzz_support.h"

using crucible::ModelId;
using crucible::fuzz::require;

namespace {

void check_round_trip(const ModelId& id) {
  std::string written;
  try {
    written = id.to_commitment();
  } catch (const crucible::ModelIdError& e) {
    crucible::fuzz::require_message(e.what(), "invalid model commitment ");
    return;
  }
  require(written.size() <= ModelId::kMaxCommitmentBytes, "the commitment is too long");
  const ModelId back = ModelId::parse(written);  // must not throw
  if (back.name == id.name) {
    require(back == id, "the commitment does not parse back equal");
  } else {
    require(back.namespace_ == id.namespace_ && back.commit == id.commit &&
                back.secure_hash == id.secure_hash && back.competition_id == id.competition_id,
            "shortening the name changed another field");
  }
  require(back.to_commitment() == written, "writing the commitment is not stable");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ModelId id;
  try {
    id = ModelId::parse(crucible::fuzz::text_of(data, size));
  } catch (const crucible::ModelIdError& e) {
    crucible::fuzz::require_message(e.what(), "invalid model commitment ");
    return 0;
  }
  require(!id.namespace_.empty() && !id.name.empty(), "an empty namespace or name accepted");
  require(id.competition_id >= 0, "a negative competition accepted");
  check_round_trip(id);
  return 0;
}
