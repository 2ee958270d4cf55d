// The `crucible` command line: one binary, one subcommand per job. Every
// error is one line, "crucible <subcommand>: <reason>" (or "crucible:
// <reason>" before a subcommand is known), with a non-zero exit.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "cli_error.h"
#include "commands.h"
#include "crucible/engine/device.h"
#include "openblas_core.h"
#include "toml_config.h"
#include "version.h"

namespace {

// "crucible eval" when a subcommand was parsed, else "crucible".
std::string error_prefix(const CLI::App& app) {
  const std::vector<CLI::App*> parsed = app.get_subcommands();
  return parsed.empty() ? "crucible" : "crucible " + parsed.front()->get_name();
}

}  // namespace

int main(int argc, char** argv) {
  crucible::reexec_if_openblas_misdetected_cpu(argv);
  crucible::keep_freed_host_memory();
  CLI::App app{"crucible: GPU evaluation engine for forecasting-model competitions"};
  app.require_subcommand(1);
  app.fallthrough();  // --config may follow the subcommand
  const auto config = std::make_shared<crucible::TomlConfig>(&app);
  app.config_formatter(config);
  app.set_config("--config", "",
                 "TOML file of options: [<subcommand>] tables, or bare keys for the subcommand "
                 "run; flags win")
      ->check(CLI::Validator(
          [](std::string& path) {
            std::FILE* file = std::fopen(path.c_str(), "r");
            if (file == nullptr) return path + ": cannot open: " + std::strerror(errno);
            std::fclose(file);
            return std::string();
          },
          "FILE"));
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.add_flag_callback(
      "--version",
      [] {
        std::printf("%s\n", crucible::version_text().c_str());
        throw CLI::Success();
      },
      "Print the version, git commit, LibTorch version and CUDA support, then exit");
  const std::map<std::string, crucible::CommandRun> commands = {
      {"loss", crucible::add_loss_command(app)},
      {"score", crucible::add_score_command(app)},
      {"synth", crucible::add_synth_command(app)},
      {"models", crucible::add_models_command(app)},
      {"worker", crucible::add_worker_command(app)},
      {"eval", crucible::add_eval_command(app)},
      {"validator", crucible::add_validator_command(app)},
      {"report", crucible::add_report_command(app)},
  };
  std::string names;
  for (CLI::App* command : app.get_subcommands([](CLI::App*) { return true; })) {
    if (command->get_name() == "worker") continue;  // internal
    names += (names.empty() ? "" : ", ") + command->get_name();
    command->footer("Options can also come from --config FILE.toml (a [" + command->get_name() +
                    "] table, or bare keys); flags win.\n");
  }
  if (argc > 1 && argv[1][0] != '-' && commands.count(argv[1]) == 0) {
    std::fprintf(stderr, "crucible: unknown subcommand \"%s\" (subcommands: %s; see --help)\n",
                 argv[1], names.c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help and --help-all derive from it
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", error_prefix(app).c_str(),
                 config->located(e.what()).c_str());
    return 2;
  }
  const std::string name = app.get_subcommands().front()->get_name();
  crucible::set_cpu_threads(0);
  try {
    commands.at(name)();
  } catch (const crucible::CliError& e) {
    // A refused flag value ("--device: ...") is a usage error like a parse
    // error: exit 2, and the file and line when it came from --config.
    const bool flag_value = std::string(e.what()).rfind("--", 0) == 0;
    std::fprintf(stderr, "crucible %s: %s\n", name.c_str(), config->located(e.what()).c_str());
    return flag_value ? 2 : 1;
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
