#include "toml_config.h"

#include <toml++/toml.h>
#include <sstream>

namespace crucible {
namespace {

// The CLI11 inputs of one TOML value: strings, integers, floats and booleans
// as written; an array of those as several inputs.
std::vector<std::string> inputs_of(const toml::node& value, const std::string& where) {
  std::vector<std::string> inputs;
  const auto scalar = [&](const toml::node& node) {
    std::ostringstream text;
    if (const auto* s = node.as_string()) {
      text << s->get();
    } else if (const auto* i = node.as_integer()) {
      text << i->get();
    } else if (const auto* f = node.as_floating_point()) {
      text.precision(17);
      text << f->get();
    } else if (const auto* b = node.as_boolean()) {
      text << (b->get() ? "true" : "false");
    } else {
      throw CLI::ConfigError(where + ": expected a string, number, boolean or array of them");
    }
    inputs.push_back(text.str());
  };
  if (const auto* array = value.as_array()) {
    for (const toml::node& item : *array) scalar(item);
  } else {
    scalar(value);
  }
  return inputs;
}

// Adds the keys of `table` as items of subcommand `command`, nested keys
// joined with '.' into one option name.
void collect(const toml::table& table, const std::string& command, const std::string& prefix,
             const std::string& file, std::vector<CLI::ConfigItem>& items) {
  for (const auto& [key, value] : table) {
    const std::string name = prefix + std::string(key.str());
    if (const auto* nested = value.as_table()) {
      collect(*nested, command, name + ".", file, items);
      continue;
    }
    CLI::ConfigItem item;
    item.parents = {command};
    item.name = name;
    item.inputs = inputs_of(value, file + ": " + command + "." + name);
    items.push_back(std::move(item));
  }
}

// The subcommand of `app` called `name`, or null.
const CLI::App* find_command(const CLI::App* app, const std::string& name) {
  for (const CLI::App* command : app->get_subcommands([](const CLI::App*) { return true; })) {
    if (command->get_name() == name) return command;
  }
  return nullptr;
}

}  // namespace

std::vector<CLI::ConfigItem> TomlConfig::from_config(std::istream& input) const {
  const std::string file = app_->get_config_ptr()->as<std::string>();
  std::ostringstream text;
  text << input.rdbuf();
  toml::table root;
  try {
    root = toml::parse(text.str(), file);
  } catch (const toml::parse_error& e) {
    std::ostringstream message;
    message << file << ": line " << e.source().begin.line << ", column " << e.source().begin.column
            << ": " << e.description();
    throw CLI::ConfigError(message.str());
  }
  const std::vector<CLI::App*> running = app_->get_subcommands();
  const std::string current = running.empty() ? "" : running.front()->get_name();
  std::vector<CLI::ConfigItem> items;
  toml::table top_level;
  for (const auto& [key, value] : root) {
    const std::string name(key.str());
    const auto* table = value.as_table();
    const CLI::App* command = table ? find_command(app_, name) : nullptr;
    if (command != nullptr) {
      collect(*table, name, "", file, items);
    } else {
      top_level.insert(key, value);
    }
  }
  if (!top_level.empty()) {
    if (current.empty()) throw CLI::ConfigError(file + ": keys outside a [subcommand] table");
    collect(top_level, current, "", file, items);
  }
  // Every key must name an option of its subcommand.
  for (const CLI::ConfigItem& item : items) {
    const CLI::App* command = find_command(app_, item.parents.front());
    if (command->get_option_no_throw("--" + item.name) == nullptr) {
      throw CLI::ConfigError(file + ": unknown key " + item.fullname());
    }
  }
  return items;
}

}  // namespace crucible
