// The `crucible` command line: one binary, one subcommand per job.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <string>

#include "commands.h"
#include "crucible/engine/device.h"
#include "openblas_core.h"

int main(int argc, char** argv) {
  crucible::reexec_if_openblas_misdetected_cpu(argv);
  CLI::App app{"crucible: GPU evaluation engine for forecasting-model competitions"};
  app.require_subcommand(1);
  // CLI11 reads config files for the main app only; subcommands take their
  // options from a section named after them, e.g. [validator].
  app.set_config("--config", "", "TOML file: options under [<subcommand>], key = value");
  app.allow_config_extras(CLI::config_extras_mode::error);
  const std::map<std::string, crucible::CommandRun> commands = {
      {"loss", crucible::add_loss_command(app)},
      {"score", crucible::add_score_command(app)},
      {"synth", crucible::add_synth_command(app)},
      {"models", crucible::add_models_command(app)},
      {"worker", crucible::add_worker_command(app)},
      {"eval", crucible::add_eval_command(app)},
      {"validator", crucible::add_validator_command(app)},
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "crucible: %s (see --help)\n", e.what());
    return 2;
  }
  const std::string name = app.get_subcommands().front()->get_name();
  crucible::set_cpu_threads(0);
  try {
    commands.at(name)();
  } catch (const std::exception& e) {
    // One line: LibTorch errors carry a backtrace after their first line,
    // TorchScript compile errors start with an empty one.
    std::string message = e.what();
    message.erase(0, message.find_first_not_of("\n "));
    std::fprintf(stderr, "crucible %s: %s\n", name.c_str(),
                 message.substr(0, message.find('\n')).c_str());
    return 1;
  }
  return 0;
}
