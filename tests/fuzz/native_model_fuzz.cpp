// Feeds a native model's two files to inspect_native_model_image: the input is
// config.json's text, one NUL byte, then the whole model.safetensors (no NUL:
// the input is config.json alone and model.safetensors is empty). The
// config text also goes to parse_chronos_bolt_config directly, so the config
// checks are reached without a supported architecture.
// Expected: the inspection never throws; a refusal has a one-line reason; an
// acceptance has no reason and a parameter count within the limit that
// matches the config. parse_chronos_bolt_config returns a config whose every
// tensor dimension is >= 1 and whose median index is a level, or throws
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

void check_config(const std::string& config_text) {
  const std::string label = "fuzz/config.json";
  try {
    const crucible::ChronosBoltConfig config =
        crucible::parse_chronos_bolt_config(label, config_text);
    int64_t parameters = 0;
    for (const auto& [name, shape] : crucible::chronos_bolt_tensor_shapes(config)) {
      int64_t count = 1;
      for (int64_t dim : shape) {
        require(dim >= 1, "a tensor dimension below 1");
        count *= dim;
      }
      parameters += count;
    }
    require(parameters == config.parameter_count(),
            "the parameter count differs from the tensor shapes");
    const int64_t median = config.median_index();
    require(median >= 0 && median < static_cast<int64_t>(config.quantiles.size()),
            "the median index is not a level");
  } catch (const crucible::NativeConfigError& e) {
    crucible::fuzz::require_message(e.what(), label + ": ");
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
