// Options from a TOML file (`--config FILE`), read by toml++ and handed to
// CLI11 as config items. A table named after a subcommand holds its options
// ([validator], [eval], ...); keys outside any table belong to the subcommand
// being run. Nested tables and dotted keys make dotted option names:
// [validator.wallet] name = "x" and wallet.name = "x" both set --wallet.name.
// Flags on the command line win over the file.
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <vector>

namespace crucible {

class TomlConfig : public CLI::Config {
 public:
  // `app` is the main app: the file name comes from its --config option, the
  // known option names from its subcommands.
  explicit TomlConfig(const CLI::App* app) : app_(app) {}

  // Throws CLI::ConfigError with one line: "<file>: line L, column C: <TOML
  // syntax error>", "<file>: line L: unknown key <table.key>" or "<file>:
  // line L: <key>: <why>". Records where each option came from (located()).
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

  // `message` (a CLI11 error about an option, "--steps: ...") prefixed with
  // "<file>: line L: <table.key>: " when that option's value came from the
  // file; else `message` unchanged.
  std::string located(const std::string& message) const;

  // Writing config files is not offered.
  std::string to_config(const CLI::App*, bool, bool, std::string) const override { return ""; }

 private:
  const CLI::App* app_;
  // "--name" -> "<file>: line L: <table.key>" for the items last read.
  mutable std::map<std::string, std::string> origins_;
};

}  // namespace crucible
