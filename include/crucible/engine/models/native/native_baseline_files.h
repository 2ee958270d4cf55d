// Writing a native baseline model's folder from C++ (config.json and
// model.safetensors, as save_pretrained lays them out): what each
// architecture's write_baselines uses. Torch-free.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "crucible/common/safetensors.h"
#include "crucible/engine/models/native/native_architecture.h"

namespace crucible {

// Every tensor of `config` (tensor_shapes()), float32, filled by
// `fill(name, flat index in the tensor)`.
std::vector<SafetensorsTensorData> native_baseline_tensors(
    const NativeConfig& config, const std::function<float(const std::string&, size_t)>& fill);

// Creates `folder` and writes config.json (`config_json`) and
// model.safetensors (`tensors`, metadata format "pt"). Throws
// std::runtime_error naming the file on failure.
void write_native_model_folder(const std::string& folder, const std::string& config_json,
                               const std::vector<SafetensorsTensorData>& tensors);

// The standard normal quantile z with Phi(z) = level, level in (0, 1).
double standard_normal_quantile(double level);

}  // namespace crucible
