#include "crucible/engine/models/native/native_baseline_files.h"

#include <cmath>
#include <filesystem>

#include "crucible/common/files.h"

namespace crucible {

std::vector<SafetensorsTensorData> native_baseline_tensors(
    const NativeConfig& config, const std::function<float(const std::string&, size_t)>& fill) {
  std::vector<SafetensorsTensorData> tensors;
  for (const auto& [name, shape] : config.tensor_shapes()) {
    size_t count = 1;
    for (int64_t size : shape) count *= static_cast<size_t>(size);
    SafetensorsTensorData tensor{name, shape, std::vector<float>(count)};
    for (size_t i = 0; i < count; ++i) tensor.values[i] = fill(name, i);
    tensors.push_back(std::move(tensor));
  }
  return tensors;
}

void write_native_model_folder(const std::string& folder, const std::string& config_json,
                               const std::vector<SafetensorsTensorData>& tensors) {
  std::filesystem::create_directories(folder);
  write_file_atomically(folder + "/config.json", config_json);
  write_safetensors(folder + "/model.safetensors", tensors, {{"format", "pt"}});
}

double standard_normal_quantile(double level) {
  // Bisection on Phi(z) = erfc(-z / sqrt 2) / 2, to double precision.
  double low = -40.0, high = 40.0;
  for (int i = 0; i < 200; ++i) {
    const double middle = 0.5 * (low + high);
    (0.5 * std::erfc(-middle / std::sqrt(2.0)) < level ? low : high) = middle;
  }
  return 0.5 * (low + high);
}

}  // namespace crucible
