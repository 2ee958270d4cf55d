// Feeds arbitrary bytes to parse_safetensors as a whole file, and reads every
// tensor of an accepted image through SafetensorsView.
// Expected: a header, or SafetensorsError whose message is one line starting
// with the label. Asserted on an accepted header: the data buffer follows the
// 8 + N header bytes to the end of the input; every tensor's offsets lie in
// the buffer and span exactly its shape's bytes; no two tensors overlap.
// The bytes after the first 8 (a header's JSON text) also go to
// parse_safetensors_index: a weight_map whose every shard is a plain
// *.safetensors name, or SafetensorsError as above.
// Any other exception, a broken property, a crash or a sanitizer report
// (e.g. a read outside the input) is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crucible/common/safetensors.h"
#include "crucible/common/safetensors_shards.h"
#include "fuzz_support.h"

using crucible::fuzz::require;

namespace {

void check_header(const crucible::SafetensorsHeader& header, size_t size) {
  require(header.data_offset >= 8 && header.data_offset <= size, "data offset outside the input");
  require(header.data_offset + header.data_size == size, "data buffer does not end the input");
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, entry] : header.tensors) {
    require(entry.begin <= entry.end && entry.end <= header.data_size,
            "tensor offsets outside the data buffer");
    require(entry.end - entry.begin ==
                static_cast<uint64_t>(entry.element_count()) * crucible::dtype_size(entry.dtype),
            "tensor span differs from its shape's bytes");
    if (entry.end > entry.begin) ranges.emplace_back(entry.begin, entry.end);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    require(ranges[i].first >= ranges[i - 1].second, "two tensors overlap");
  }
}

void check_index(const std::string& text) {
  const std::string label = "fuzz.index.json";
  try {
    const auto weight_map = crucible::parse_safetensors_index(label, text);
    std::set<std::string> shards;
    for (const auto& [tensor, shard] : weight_map) {
      require(shard.find('/') == std::string::npos && shard.find('\\') == std::string::npos,
              "a shard name with a folder part");
      require(!shard.empty() && shard[0] != '.', "a hidden or empty shard name");
      require(shard.size() > 12 && shard.compare(shard.size() - 12, 12, ".safetensors") == 0,
              "a shard name without .safetensors");
      shards.insert(shard);
    }
    require(shards.size() <= crucible::kMaxSafetensorsShards, "too many shards accepted");
  } catch (const crucible::SafetensorsError& e) {
    crucible::fuzz::require_message(e.what(), label + ": ");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string label = "fuzz.safetensors";
  try {
    const crucible::SafetensorsView view(label, data, size);
    check_header(view.header(), size);
    for (const auto& [name, entry] : view.header().tensors) {
      require(view.read_float32(name).size() == static_cast<size_t>(entry.element_count()),
              "read_float32 returned the wrong count");
    }
  } catch (const crucible::SafetensorsError& e) {
    crucible::fuzz::require_message(e.what(), label + ": ");
  }
  check_index(size > 8 ? crucible::fuzz::text_of(data + 8, size - 8) : std::string());
  return 0;
}
