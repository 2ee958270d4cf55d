// What safetensors.cpp and safetensors_shards.cpp share to read their JSON
// and word their errors. Internal to crucible_common.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace crucible {
namespace safetensors_detail {

using Json = nlohmann::json;

constexpr size_t kMaxQuoted = 100;  // bytes of a name shown in an error

// `text` made safe for a one-line message: control bytes (and with
// `ascii_only` all non-ASCII bytes) as \xNN, cut short after `limit` bytes.
std::string printable(const std::string& text, size_t limit = kMaxQuoted, bool ascii_only = false);

// printable(text) in single quotes.
std::string in_quotes(const std::string& text);

// Throws SafetensorsError("<label>: <what>").
[[noreturn]] void fail(const std::string& label, const std::string& what);

// fail(label, "tensor '<name>': <what>").
[[noreturn]] void fail_tensor(const std::string& label, const std::string& name,
                              const std::string& what);

// Called with the key repeated in one object, the top-level key it is under
// ("" at the top level) and the object's depth (1 = the top level); throws.
using DuplicateKey =
    std::function<void(const std::string& key, const std::string& top_key, size_t depth)>;

// `text` as JSON, refusing a key repeated in any object (nlohmann would
// silently keep the last one) through `duplicate`. A syntax error is
// "<label>: <subject>not valid JSON: <where>".
Json parse_unique_keys(const std::string& label, const std::string& subject, const char* text,
                       size_t size, const DuplicateKey& duplicate);

}  // namespace safetensors_detail
}  // namespace crucible
