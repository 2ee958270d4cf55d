// Feeds arbitrary bytes to parse_npy as a whole .npy file.
// Expected: an NpyArray, or NpyError whose message is one line starting with
// the label. Asserted on an accepted array: a supported dtype, data holding
// exactly the shape's product of items. Any other exception, a broken
// property, a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "crucible/common/npy.h"
#include "fuzz_support.h"

using crucible::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string label = "fuzz.npy";
  try {
    const crucible::NpyArray array = crucible::parse_npy(label, data, size);
    const size_t item = crucible::npy_item_size(array.dtype);
    require(item == 4 || item == 8, "unsupported dtype accepted");
    for (int64_t dim : array.shape) require(dim >= 0, "negative dimension accepted");
    require(array.data.size() == static_cast<size_t>(array.num_elements()) * item,
            "data size differs from the shape");
    require(array.data.size() <= size, "more data than input bytes");
  } catch (const crucible::NpyError& e) {
    crucible::fuzz::require_message(e.what(), label + ": ");
  }
  return 0;
}
