// Reading one JSON object of a config.json with one-line errors that name
// the key: the shared reader of every native architecture's config parser.
// Internal to engine/models/native.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "crucible/common/quoted_text.h"
#include "crucible/engine/models/native/activation.h"
#include "crucible/engine/models/native/native_architecture.h"

namespace crucible {

// Reads the keys of `object` (a JSON object); `prefix` ("chronos_config.")
// is put before each key in messages, and `label` (the file) before that.
class ConfigReader {
 public:
  using json = nlohmann::json;

  ConfigReader(const std::string& label, const json& object, const std::string& prefix)
      : label_(label), object_(object), prefix_(prefix) {}

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw NativeConfigError(label_ + ": " + prefix_ + key + ": " + problem);
  }

  // Whether the key is there with a value other than null.
  bool has(const std::string& key) const {
    return object_.contains(key) && !object_.at(key).is_null();
  }

  bool is_null(const std::string& key) const {
    return object_.contains(key) && object_.at(key).is_null();
  }

  // Refuses a null for `key`: the official loader keeps None, which it cannot run with.
  void refuse_null(const std::string& key) const {
    if (is_null(key)) fail(key, "is null, which the official loader cannot run with");
  }

  // Adds to *defaults when `key` is missing or null: `value` (JSON) is used.
  void note_default(const std::string& key, const std::string& value, const std::string& origin,
                    std::vector<ConfigDefault>* defaults) const {
    if (defaults != nullptr && !has(key)) {
      defaults->push_back({prefix_ + key, value, origin, is_null(key)});
    }
  }

  // An integer in [low, high]; `fallback` when absent, or required when
  // `fallback` is null.
  int64_t integer(const std::string& key, const int64_t* fallback, int64_t low,
                  int64_t high) const {
    if (!has(key)) {
      if (fallback == nullptr) fail(key, is_null(key) ? "is null" : "is missing");
      return *fallback;
    }
    const json& value = object_.at(key);
    if (!value.is_number_integer()) fail(key, "must be an integer");
    if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(high)) {
      fail(key, "is " + value.dump() + ", over the limit " + std::to_string(high));
    }
    const int64_t number = value.get<int64_t>();
    if (number < low) fail(key, "is " + std::to_string(number) + ", below " + std::to_string(low));
    if (number > high) {
      fail(key, "is " + std::to_string(number) + ", over the limit " + std::to_string(high));
    }
    return number;
  }

  int64_t integer(const std::string& key, int64_t fallback, int64_t low, int64_t high) const {
    return integer(key, &fallback, low, high);
  }

  int64_t required_integer(const std::string& key, int64_t low, int64_t high) const {
    return integer(key, nullptr, low, high);
  }

  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!object_.at(key).is_boolean()) fail(key, "must be true or false");
    return object_.at(key).get<bool>();
  }

  std::string text(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!object_.at(key).is_string()) fail(key, "must be a string");
    return object_.at(key).get<std::string>();
  }

  double number(const std::string& key, double fallback) const {
    if (!has(key)) return fallback;
    if (!object_.at(key).is_number()) fail(key, "must be a number");
    return object_.at(key).get<double>();
  }

  const json& value(const std::string& key) const { return object_.at(key); }

 private:
  const std::string& label_;
  const json& object_;
  std::string prefix_;
};

// The activation named `name` (config key `key`): relu, gelu_new or gelu.
inline Activation parse_activation(const ConfigReader& reader, const std::string& key,
                                   const std::string& name) {
  if (name == "relu") return Activation::kRelu;
  if (name == "gelu_new") return Activation::kGeluTanh;
  if (name == "gelu") return Activation::kGelu;
  reader.fail(key, quoted_for_message(name, 40) + " is not supported (relu, gelu_new, gelu)");
}

// chronos_config.quantiles: a non-empty, strictly increasing list inside (0, 1),
// at most `max_count` long.
inline std::vector<double> parse_model_quantiles(const ConfigReader& reader, int64_t max_count) {
  using json = nlohmann::json;
  if (!reader.has("quantiles")) {
    reader.fail("quantiles", reader.is_null("quantiles") ? "is null" : "is missing");
  }
  const json& list = reader.value("quantiles");
  if (!list.is_array() || list.empty()) reader.fail("quantiles", "must be a non-empty list");
  if (static_cast<int64_t>(list.size()) > max_count) {
    reader.fail("quantiles", "has " + std::to_string(list.size()) + " levels, over the limit " +
                                 std::to_string(max_count));
  }
  std::vector<double> levels;
  for (const json& item : list) {
    if (!item.is_number()) reader.fail("quantiles", "must hold numbers");
    const double level = item.get<double>();
    if (!(level > 0.0 && level < 1.0)) reader.fail("quantiles", "levels must lie inside (0, 1)");
    if (!levels.empty() && level <= levels.back()) {
      reader.fail("quantiles", "levels must be strictly increasing");
    }
    levels.push_back(level);
  }
  return levels;
}

}  // namespace crucible
