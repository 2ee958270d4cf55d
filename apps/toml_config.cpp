#include "toml_config.h"

#include <toml++/toml.h>
#include <cctype>
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

// "<file>: line L" of a value.
std::string where(const std::string& file, const toml::node& value) {
  return file + ": line " + std::to_string(value.source().begin.line);
}

// Adds the keys of `table` as items of subcommand `command`, nested keys
// joined with '.' into one option name, and where each came from.
void collect(const toml::table& table, const std::string& command, const std::string& prefix,
             const std::string& file, std::vector<CLI::ConfigItem>& items,
             std::vector<std::string>& origins) {
  for (const auto& [key, value] : table) {
    const std::string name = prefix + std::string(key.str());
    if (const auto* nested = value.as_table()) {
      collect(*nested, command, name + ".", file, items, origins);
      continue;
    }
    CLI::ConfigItem item;
    item.parents = {command};
    item.name = name;
    origins.push_back(where(file, value) + ": " + command + "." + name);
    item.inputs = inputs_of(value, origins.back());
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
  std::vector<std::string> origins;  // origins[i]: where items[i] came from
  toml::table top_level;
  for (const auto& [key, value] : root) {
    const std::string name(key.str());
    const auto* table = value.as_table();
    const CLI::App* command = table ? find_command(app_, name) : nullptr;
    if (command != nullptr) {
      collect(*table, name, "", file, items, origins);
    } else {
      top_level.insert(key, value);
    }
  }
  if (!top_level.empty()) {
    if (current.empty()) throw CLI::ConfigError(file + ": keys outside a [subcommand] table");
    collect(top_level, current, "", file, items, origins);
  }
  // Every key must name an option of its subcommand.
  origins_.clear();
  for (size_t i = 0; i < items.size(); ++i) {
    const CLI::App* command = find_command(app_, items[i].parents.front());
    const std::string option = "--" + items[i].name;
    if (command->get_option_no_throw(option) == nullptr) {
      const std::string place = origins[i].substr(0, origins[i].rfind(": "));
      throw CLI::ConfigError(place + ": unknown key " + items[i].fullname());
    }
    if (items[i].parents.front() == current) origins_[option] = origins[i];
  }
  return items;
}

std::string TomlConfig::located(const std::string& message) const {
  // The option as a whole word: "--steps" in "--steps: ..." or "convert:
  // --steps = four", not in "--steps-max".
  for (const auto& [option, origin] : origins_) {
    for (size_t at = message.find(option); at != std::string::npos;
         at = message.find(option, at + 1)) {
      const size_t end = at + option.size();
      const bool word_end = end == message.size() ||
                            !(std::isalnum(static_cast<unsigned char>(message[end])) ||
                              message[end] == '-' || message[end] == '.' || message[end] == '_');
      if ((at == 0 || message[at - 1] == ' ') && word_end) return origin + ": " + message;
    }
  }
  return message;
}

}  // namespace crucible
