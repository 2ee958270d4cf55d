// The rules a miner's local checks play by, the same for `crucible eval`,
// `crucible models inspect` and `crucible models hash`: a competition of a
// schedule (--schedule FILE --competition N [--block B]), exactly as a
// validator on that schedule applies it, or else the built-in limits with
// --max-file-bytes / --max-parameters.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "crucible/engine/models/torchscript/model_inspector.h"
#include "crucible/validator/competition_schedule.h"

namespace crucible {

struct CompetitionRulesOptions {
  std::string schedule;     // --schedule; empty: the flags' limits
  int64_t competition = 0;  // --competition
  int64_t block = 0;        // --block
  ModelLimits limits;       // --max-file-bytes, --max-parameters
  const CLI::Option* schedule_option = nullptr;
  const CLI::Option* competition_option = nullptr;
  const CLI::Option* block_option = nullptr;
  bool competition_only_for_schedule = true;  // false where --competition has another use too
  // Flags a schedule's competition sets, refused together with --schedule.
  std::vector<const CLI::Option*> set_by_schedule;
};

// Adds --schedule, --block, --max-file-bytes and --max-parameters, and
// --competition unless `competition` is given (a command that already has
// it, for another use too).
void add_competition_rules_options(CLI::App* command, CompetitionRulesOptions& rules,
                                   CLI::Option* competition = nullptr);

struct CompetitionRules {
  CompetitionConfig competition;  // limits and tasks; a one-task default without --schedule
  std::string description;        // one line for the reader: where the rules came from
};

// The competition to play. With --schedule: the entry active at --block, or
// without --block the latest entry holding --competition. Throws CliError
// (one line, naming the flag) for a schedule that does not load, a missing
// competition, or a flag the schedule sets given as well.
CompetitionRules chosen_rules(const CompetitionRulesOptions& rules);

}  // namespace crucible
