// Feeds arbitrary bytes to parse_safetensors as a whole file, and reads every
// tensor of an accepted image through SafetensorsView.
// Expected: a header, or SafetensorsError whose message is one line starting
// with the label. Asserted on an accepted header: the data buffer follows the
// 8 + N header bytes to the end of the input; every tensor's offsets lie in
// the buffer and span exactly its shape's bytes; no two tensors overlap.
// Any other exception, a broken property, a crash or a sanitizer report
// (e.g. a read outside the input) is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "crucible/common/safetensors.h"
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
  return 0;
}
