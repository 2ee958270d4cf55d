// The LibTorch half of the native architecture registry, and the generic
// weight loader.
#include <ATen/ATen.h>

#include <cstring>
#include <stdexcept>

#include "crucible/common/safetensors.h"
#include "crucible/common/safetensors_shards.h"
#include "crucible/engine/models/native/native_forecaster.h"
#include "crucible/engine/models/native/native_model.h"
#include "engine/models/native/native_architecture_list.h"

namespace crucible {

#define CRUCIBLE_DECLARE_HALVES(arch)              \
  const NativeArchitecture& arch##_architecture(); \
  const NativeForecaster& arch##_forecaster();
CRUCIBLE_NATIVE_ARCHITECTURES(CRUCIBLE_DECLARE_HALVES)
#undef CRUCIBLE_DECLARE_HALVES

const NativeForecaster& native_forecaster(const NativeConfig& config) {
#define CRUCIBLE_MATCH_FORECASTER(arch)                                        \
  if (std::strcmp(config.architecture(), arch##_architecture().name()) == 0) { \
    return arch##_forecaster();                                                \
  }
  CRUCIBLE_NATIVE_ARCHITECTURES(CRUCIBLE_MATCH_FORECASTER)
#undef CRUCIBLE_MATCH_FORECASTER
  throw std::logic_error(std::string("no native forecaster for ") + config.architecture());
}

NativeWeights load_native_weights(const NativeConfig& config, const std::string& folder,
                                  const c10::Device& device, long long* bytes_read) {
  const SafetensorsShards files = SafetensorsShards::open_folder(folder);
  NativeWeights weights;
  for (const auto& [name, shape] : config.tensor_shapes()) {
    const SafetensorsEntry& entry = files.entry(name);
    if (entry.shape != shape) {
      throw SafetensorsError(files.file_of(name) + ": tensor '" + name + "' changed its shape");
    }
    at::Tensor values = at::empty(shape, at::kFloat);
    files.read_float32(name, values.data_ptr<float>());
    if (bytes_read != nullptr) *bytes_read += static_cast<long long>(entry.end - entry.begin);
    const std::string reason = check_native_tensor_values(files.file_of(name), name,
                                                          values.data_ptr<float>(), values.numel());
    if (!reason.empty()) throw NativeWeightsRefused(reason);
    weights[name] = values.to(device);
  }
  const std::string reason =
      find_native_architecture(config.architecture())->check_tensor_values(files);
  if (!reason.empty()) throw NativeWeightsRefused(reason);
  return weights;
}

}  // namespace crucible
