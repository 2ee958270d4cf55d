// Options from a TOML file (`--config FILE`), read by toml++ and handed to
// CLI11 as config items. A table named after a subcommand holds its options
// ([validator], [eval], ...); keys outside any table belong to the subcommand
// being run. Nested tables and dotted keys make dotted option names:
// [validator.wallet] name = "x" and wallet.name = "x" both set --wallet.name.
// Flags on the command line win over the file.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace crucible {

class TomlConfig : public CLI::Config {
 public:
  // `app` is the main app: the file name comes from its --config option, the
  // known option names from its subcommands.
  explicit TomlConfig(const CLI::App* app) : app_(app) {}

  // Throws CLI::ConfigError with one line: "<file>: line L, column C: <TOML
  // syntax error>", "<file>: unknown key <table.key>" or "<file>: <key>: <why>".
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

  // Writing config files is not offered.
  std::string to_config(const CLI::App*, bool, bool, std::string) const override { return ""; }

 private:
  const CLI::App* app_;
};

}  // namespace crucible
