// Feeds a native model's two files to inspect_native_model_image: the input is
// config.json's text, one NUL byte, then the whole model.safetensors (no NUL:
// the input is config.json alone and model.safetensors is empty). The
// config text also goes to every registered architecture's parser directly
// (Chronos-Bolt's and Chronos-2's), so the config checks are reached without
// a matching architecture name.
// Expected: the inspection never throws; a refusal has a one-line reason; an
// acceptance has no reason and a parameter count within the limit that
// matches the config. Each parser returns a config whose every tensor
// dimension is >= 1 and whose parameter count is the sum of its shapes (for
// Chronos-Bolt, a median index that is a level), or throws
// NativeConfigError with one line starting with the label. Any other
// exception, a broken property, a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "crucible/engine/models/native/native_model.h"
#include "engine/models/native/chronos_bolt/chronos_bolt_config.h"
#include "fuzz_support.h"

using crucible::fuzz::require;

namespace {

void check_bolt_config(const std::string& config_text, const std::string& label) {
  try {
    const crucible::ChronosBoltConfig config =
        crucible::parse_chronos_bolt_config(label, config_text);
    const int64_t median = config.median_index();
    require(median >= 0 && median < static_cast<int64_t>(config.quantiles.size()),
            "the median index is not a level");
  } catch (const crucible::NativeConfigError& e) {
    crucible::fuzz::require_message(e.what(), label + ": ");
  }
}

// Every registered architecture's parser: a config whose every tensor
// dimension is >= 1 and whose parameter count is the sum of its shapes, or
// NativeConfigError with one line starting with the label.
void check_config(const std::string& config_text) {
  const std::string label = "fuzz/config.json";
  check_bolt_config(config_text, label);
  for (const std::string& name : crucible::native_architectures()) {
    try {
      const auto config = crucible::find_native_architecture(name)->parse_config(
          label, config_text, crucible::NativeConfigLimits{}, nullptr);
      int64_t parameters = 0;
      for (const auto& [tensor, shape] : config->tensor_shapes()) {
        int64_t count = 1;
        for (int64_t dim : shape) {
          require(dim >= 1, "a tensor dimension below 1");
          count *= dim;
        }
        parameters += count;
      }
      require(parameters == config->parameter_count(),
              "the parameter count differs from the tensor shapes");
    } catch (const crucible::NativeConfigError& e) {
      crucible::fuzz::require_message(e.what(), label + ": ");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* nul =
      static_cast<const uint8_t*>(size == 0 ? nullptr : std::memchr(data, '\0', size));
  const size_t config_size = nul == nullptr ? size : static_cast<size_t>(nul - data);
  const std::string config_text = crucible::fuzz::text_of(data, config_size);
  const uint8_t* weights = nul == nullptr ? data + size : nul + 1;
  const size_t weights_size = static_cast<size_t>(data + size - weights);

  check_config(config_text);
  const crucible::ModelLimits limits;
  const crucible::NativeModelInspection inspection =
      crucible::inspect_native_model_image(config_text, weights, weights_size, limits);
  require(inspection.file_bytes == static_cast<int64_t>(config_size + weights_size),
          "file_bytes is not the two sizes");
  if (inspection.accepted) {
    require(inspection.reason.empty(), "an accepted model has a reason");
    require(inspection.parameters <= limits.max_parameters, "parameters over the limit accepted");
    require(inspection.parameters == inspection.config->parameter_count(),
            "the parameter count differs from the config");
  } else {
    require(!inspection.reason.empty(), "a refused model has no reason");
    require(inspection.reason.find('\n') == std::string::npos, "the reason is not one line");
  }
  return 0;
}
