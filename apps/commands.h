// The `crucible` subcommands. Each registers its options on the app and
// returns the function that runs it; the function throws CliError or
// NpyError (one line, naming the input) and writes no output file then.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace crucible {

using CommandRun = std::function<void()>;

CommandRun add_loss_command(CLI::App& app);
CommandRun add_score_command(CLI::App& app);
CommandRun add_synth_command(CLI::App& app);
CommandRun add_models_command(CLI::App& app);
CommandRun add_worker_command(CLI::App& app);
CommandRun add_eval_command(CLI::App& app);
CommandRun add_validator_command(CLI::App& app);
CommandRun add_report_command(CLI::App& app);

}  // namespace crucible
