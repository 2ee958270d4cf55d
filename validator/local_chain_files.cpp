// Reading and checking the local chain's metagraph.json and commitments.json:
// every rejection names the file and the JSON path.
#include "crucible/validator/local_chain_files.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>

namespace crucible {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& path, const std::string& json_path,
                       const std::string& reason) {
  throw ChainError(path + ": " + json_path + ": " + reason);
}

// A value as a message shows it: scalars in JSON notation, others by type.
std::string describe(const json& value) {
  if (value.is_primitive() && !value.is_string()) return value.dump();
  return value.type_name();
}

// A string in JSON notation: quoted and escaped, so it stays on one line.
std::string json_quoted(const std::string& text) {
  return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

json parse_json(const std::string& text, const std::string& path) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    throw ChainError(path + ": invalid JSON: " + e.what());
  }
}

// Reads typed fields of one JSON object, failing with "<path>: <json path>.<key>: ...".
class FieldReader {
 public:
  FieldReader(const json& node, std::string json_path, std::string path)
      : node_(node), json_path_(std::move(json_path)), path_(std::move(path)) {
    if (!node_.is_object()) fail(path_, json_path_, "expected an object, got " + describe(node_));
  }

  const json& field(const std::string& key, const std::string& expected) const {
    const auto found = node_.find(key);
    if (found == node_.end()) fail(path_, at(key), "missing; expected " + expected);
    return *found;
  }

  int64_t integer(const std::string& key, int64_t min) const {
    const std::string expected = "an integer >= " + std::to_string(min);
    const json& value = field(key, expected);
    const bool fits =
        value.is_number_integer() &&
        (!value.is_number_unsigned() || value.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX));
    if (!fits || value.get<int64_t>() < min) {
      fail(path_, at(key), "expected " + expected + ", got " + describe(value));
    }
    return value.get<int64_t>();
  }

  double non_negative_number(const std::string& key) const {
    const std::string expected = "a finite number >= 0";
    const json& value = field(key, expected);
    if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
      fail(path_, at(key), "expected " + expected + ", got " + describe(value));
    }
    return value.get<double>();
  }

  std::string string(const std::string& key, bool non_empty) const {
    const std::string expected = non_empty ? "a non-empty string" : "a string";
    const json& value = field(key, expected);
    if (!value.is_string() || (non_empty && value.get<std::string>().empty())) {
      fail(path_, at(key), "expected " + expected + ", got " + describe(value));
    }
    return value.get<std::string>();
  }

  bool boolean(const std::string& key) const {
    const json& value = field(key, "true or false");
    if (!value.is_boolean()) fail(path_, at(key), "expected true or false, got " + describe(value));
    return value.get<bool>();
  }

  // An optional array of finite numbers >= 0; empty when the key is absent.
  std::vector<double> optional_numbers(const std::string& key) const {
    const auto found = node_.find(key);
    if (found == node_.end()) return {};
    const std::string expected = "an array of finite numbers >= 0";
    if (!found->is_array())
      fail(path_, at(key), "expected " + expected + ", got " + describe(*found));
    std::vector<double> values;
    for (size_t i = 0; i < found->size(); ++i) {
      const json& value = (*found)[i];
      if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
        fail(path_, at(key) + "[" + std::to_string(i) + "]",
             "expected a finite number >= 0, got " + describe(value));
      }
      values.push_back(value.get<double>());
    }
    return values;
  }

  std::string at(const std::string& key) const { return json_path_ + "." + key; }

 private:
  const json& node_;
  const std::string json_path_;
  const std::string path_;
};

constexpr size_t kMaxBlockHashDigits = 128;
constexpr size_t kMaxBlockDigits = 18;  // every such number fits in a Block

// What is wrong with a block hash's text ("" when nothing is); `digits` gets
// its hex digits, lowercase, without the "0x".
std::string block_hash_problem(const std::string& text, std::string& digits) {
  const bool prefixed = text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  digits = text.substr(prefixed ? 2 : 0);
  if (digits.empty()) return "no digits";
  if (digits.size() % 2 != 0 || digits.size() > kMaxBlockHashDigits) {
    return std::to_string(digits.size()) + " digits";
  }
  for (char& c : digits) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return "the non-hex character " + json_quoted(std::string(1, c));
    }
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return "";
}

// The "block_hashes" object: block -> hash digits (block_hash_problem).
std::map<Block, std::string> parse_block_hashes(const json& node, const std::string& path) {
  if (!node.is_object()) {
    fail(path, "$.block_hashes", "expected an object of block -> hex hash, got " + describe(node));
  }
  std::map<Block, std::string> hashes;
  for (const auto& item : node.items()) {
    const std::string& key = item.key();
    const std::string json_path = "$.block_hashes[" + json_quoted(key) + "]";
    const bool decimal = !key.empty() && key.size() <= kMaxBlockDigits &&
                         key.find_first_not_of("0123456789") == std::string::npos &&
                         (key == "0" || key[0] != '0');
    if (!decimal) {
      fail(path, json_path, "expected a block number (decimal digits, no sign or leading zero)");
    }
    const std::string expected =
        "expected a hex string (0x-prefixed or not, an even number of digits, 2 to " +
        std::to_string(kMaxBlockHashDigits) + "), got ";
    if (!item.value().is_string()) fail(path, json_path, expected + describe(item.value()));
    std::string digits;
    const std::string problem = block_hash_problem(item.value().get<std::string>(), digits);
    if (!problem.empty()) fail(path, json_path, expected + problem);
    hashes.emplace(std::stoll(key), std::move(digits));
  }
  return hashes;
}

}  // namespace

LocalMetagraphFile parse_local_metagraph(const std::string& text, const std::string& path) {
  const json document = parse_json(text, path);
  const FieldReader top(document, "$", path);
  LocalMetagraphFile metagraph;
  metagraph.netuid = top.integer("netuid", 0);
  metagraph.block = top.integer("block", 0);
  metagraph.seconds_per_block = top.non_negative_number("seconds_per_block");
  if (document.contains("time")) metagraph.time = top.non_negative_number("time");
  if (document.contains("block_hashes")) {
    metagraph.block_hashes = parse_block_hashes(document.at("block_hashes"), path);
  }
  const json& neurons = top.field("neurons", "an array");
  if (!neurons.is_array()) fail(path, "$.neurons", "expected an array, got " + describe(neurons));

  const int64_t count = static_cast<int64_t>(neurons.size());
  std::vector<std::string> uid_paths(neurons.size());
  std::map<std::string, std::string> hotkey_paths;
  metagraph.neurons.resize(neurons.size());
  for (size_t i = 0; i < neurons.size(); ++i) {
    const std::string json_path = "$.neurons[" + std::to_string(i) + "]";
    const FieldReader reader(neurons[i], json_path, path);
    Neuron neuron;
    neuron.uid = reader.integer("uid", 0);
    if (neuron.uid >= count) {
      fail(path, reader.at("uid"),
           "uid " + std::to_string(neuron.uid) + " is out of range: the " + std::to_string(count) +
               " neurons must have the uids 0.." + std::to_string(count - 1));
    }
    std::string& first_with_uid = uid_paths[static_cast<size_t>(neuron.uid)];
    if (!first_with_uid.empty()) {
      fail(path, reader.at("uid"),
           "duplicate uid " + std::to_string(neuron.uid) + " (also at " + first_with_uid + ")");
    }
    first_with_uid = reader.at("uid");
    neuron.hotkey = reader.string("hotkey", true);
    const auto [previous, inserted] = hotkey_paths.emplace(neuron.hotkey, reader.at("hotkey"));
    if (!inserted) {
      fail(
          path, reader.at("hotkey"),
          "duplicate hotkey " + json_quoted(neuron.hotkey) + " (also at " + previous->second + ")");
    }
    neuron.stake = reader.non_negative_number("stake");
    neuron.validator_permit = reader.boolean("validator_permit");
    neuron.weights = reader.optional_numbers("weights");
    // n distinct uids in [0, n) are exactly 0..n-1: placing by uid sorts them.
    metagraph.neurons[static_cast<size_t>(neuron.uid)] = std::move(neuron);
  }
  return metagraph;
}

LocalCommitmentsFile parse_local_commitments(const std::string& text, const std::string& path) {
  const json document = parse_json(text, path);
  if (!document.is_object()) fail(path, "$", "expected an object, got " + describe(document));
  LocalCommitmentsFile commitments;
  for (const auto& item : document.items()) {
    const std::string json_path = "$[" + json_quoted(item.key()) + "]";
    if (item.key().empty()) fail(path, json_path, "expected a non-empty hotkey");
    const FieldReader reader(item.value(), json_path, path);
    Commitment commitment;
    commitment.commitment = reader.string("commitment", false);
    commitment.block = reader.integer("block", 0);
    commitments.emplace(item.key(), std::move(commitment));
  }
  return commitments;
}

}  // namespace crucible
