// Feeds arbitrary bytes to CompetitionSchedule::parse as a schedule document
// (the text load() reads), and round-trips an accepted schedule through
// to_json and from_json.
// Expected: a schedule, or ConfigError whose message is one line starting
// with the source. Asserted on an accepted schedule: at least one entry,
// sorted by distinct start blocks, each with competitions and tasks; every
// task's quantiles sorted inside (0, 1); to_json parses back to the same
// document. Any other exception, a broken property, a crash or a sanitizer
// report is a bug.
#include <cstddef>
#include <cstdint>

#include "crucible/validator/competition_schedule.h"
#include "fuzz_support.h"

using crucible::CompetitionSchedule;
using crucible::fuzz::require;

namespace {

void check_schedule(const CompetitionSchedule& schedule) {
  const auto& entries = schedule.entries();
  require(!entries.empty(), "an empty schedule accepted");
  for (size_t i = 0; i < entries.size(); ++i) {
    require(i == 0 || entries[i - 1].start_block < entries[i].start_block,
            "entries not sorted by distinct start blocks");
    require(!entries[i].competitions.empty(), "an entry without competitions accepted");
    require(&schedule.active_at(entries[i].start_block) == &entries[i].competitions,
            "active_at does not find the entry at its start block");
    for (const crucible::CompetitionConfig& competition : entries[i].competitions) {
      require(!competition.tasks.empty(), "a competition without tasks accepted");
      for (const crucible::TaskConfig& task : competition.tasks) {
        for (size_t q = 0; q < task.quantiles.size(); ++q) {
          require(task.quantiles[q] > 0 && task.quantiles[q] < 1, "a level outside (0, 1)");
          require(q == 0 || task.quantiles[q - 1] < task.quantiles[q], "levels not sorted");
        }
      }
    }
  }
  const nlohmann::json document = schedule.to_json();
  try {
    require(CompetitionSchedule::from_json(document, "round trip").to_json() == document,
            "to_json parses back to another document");
  } catch (const crucible::ConfigError&) {
    require(false, "to_json does not parse back");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source = "fuzz/schedule.json";
  try {
    check_schedule(CompetitionSchedule::parse(crucible::fuzz::text_of(data, size), source));
  } catch (const crucible::ConfigError& e) {
    crucible::fuzz::require_message(e.what(), source + ": ");
  }
  return 0;
}
