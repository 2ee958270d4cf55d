#include "competition_rules.h"

#include "cli_error.h"

namespace crucible {

void add_competition_rules_options(CLI::App* command, CompetitionRulesOptions& rules,
                                   CLI::Option* competition) {
  rules.schedule_option = command->add_option(
      "--schedule", rules.schedule,
      "play by a competition of this schedule (the validator's --schedule JSON): its size and "
      "parameter limits, and for eval its tasks, quantiles and task weights");
  rules.competition_only_for_schedule = competition == nullptr;
  rules.competition_option =
      competition != nullptr
          ? competition
          : command->add_option("--competition", rules.competition, "the competition id")
                ->check(CLI::NonNegativeNumber);
  rules.block_option = command
                           ->add_option("--block", rules.block,
                                        "with --schedule: the block whose entry applies (default: "
                                        "the latest entry holding --competition)")
                           ->check(CLI::NonNegativeNumber);
  rules.set_by_schedule.push_back(
      command
          ->add_option("--max-file-bytes", rules.limits.max_file_bytes,
                       "size limit: every file of a model's repository counts")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str());
  rules.set_by_schedule.push_back(command
                                      ->add_option("--max-parameters", rules.limits.max_parameters,
                                                   "parameter (and buffer) count limit")
                                      ->check(CLI::NonNegativeNumber)
                                      ->capture_default_str());
}

CompetitionRules chosen_rules(const CompetitionRulesOptions& rules) {
  CompetitionRules chosen;
  if (rules.schedule.empty()) {
    if (rules.block_option->count() > 0) throw CliError("--block: needs --schedule FILE");
    if (rules.competition_only_for_schedule && rules.competition_option->count() > 0) {
      throw CliError("--competition: needs --schedule FILE (the schedule that defines it)");
    }
    chosen.competition.max_file_bytes = rules.limits.max_file_bytes;
    chosen.competition.max_parameters = rules.limits.max_parameters;
    chosen.description = "limits " + std::to_string(rules.limits.max_file_bytes) + " bytes, " +
                         std::to_string(rules.limits.max_parameters) +
                         " parameters (the defaults unless --max-file-bytes / --max-parameters)";
    return chosen;
  }
  for (const CLI::Option* given : rules.set_by_schedule) {
    if (given->count() > 0) {
      throw CliError(given->get_name() + ": --schedule's competition sets this; drop " +
                     given->get_name() + ", or drop --schedule");
    }
  }
  if (rules.competition_option->count() == 0) {
    throw CliError("--schedule: add --competition N (the competition to play)");
  }
  const CompetitionSchedule schedule =
      with_context("--schedule", [&] { return CompetitionSchedule::load(rules.schedule); });
  const bool at_block = rules.block_option->count() > 0;
  const std::vector<ScheduleEntry>& entries = schedule.entries();
  for (auto entry = entries.rbegin(); entry != entries.rend(); ++entry) {
    if (at_block && entry->start_block > rules.block) continue;
    for (const CompetitionConfig& competition : entry->competitions) {
      if (competition.id != rules.competition) continue;
      chosen.competition = competition;
      chosen.description = rules.schedule + ": competition " + std::to_string(competition.id) +
                           " (" + competition.name + ") from block " +
                           std::to_string(entry->start_block) + ", limits " +
                           std::to_string(competition.max_file_bytes) + " bytes, " +
                           std::to_string(competition.max_parameters) + " parameters, " +
                           std::to_string(competition.tasks.size()) + " task(s)";
      return chosen;
    }
    if (at_block) break;  // the entry active at --block lacks the competition
  }
  throw CliError("--competition: " + rules.schedule + " has no competition " +
                 std::to_string(rules.competition) +
                 (at_block ? " at block " + std::to_string(rules.block) : std::string()));
}

}  // namespace crucible
