#include "crucible/engine/models/native/native_model.h"

#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>

#include "crucible/common/files.h"
#include "crucible/common/model_files.h"
#include "crucible/common/quoted_text.h"
#include "crucible/common/safetensors.h"
#include "crucible/common/safetensors_shards.h"

namespace crucible {
namespace {

constexpr int64_t kMaxConfigBytes = 1 << 20;

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream text;
  text << "[";
  for (size_t i = 0; i < shape.size(); ++i) text << (i ? ", " : "") << shape[i];
  text << "]";
  return text.str();
}

// The size of a regular file (following links), or -1 when there is none.
int64_t regular_file_bytes(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return -1;
  return info.st_size;
}

// architectures[0] of config.json, or the refusal reason.
std::string read_architecture(const std::string& text, std::string* reason) {
  const nlohmann::json root = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    *reason = "config.json: not a valid JSON object";
    return "";
  }
  const auto found = root.find("architectures");
  if (found == root.end() || !found->is_array() || found->empty() || !(*found)[0].is_string()) {
    *reason = "config.json: architectures: must be a non-empty list of names";
    return "";
  }
  return (*found)[0].get<std::string>();
}

// " (config.json has no K, so the default V applies; ...)" for the keys the
// official defaults filled, or "": why tensors saved for other values disagree.
std::string defaults_clause(const std::vector<ConfigDefault>& defaults) {
  std::string text;
  for (const ConfigDefault& d : defaults) {
    text += (text.empty() ? " (config.json " : "; ") +
            std::string(d.null ? "has null for " : "has no ") + d.key + ", so the default " +
            d.value + " applies";
  }
  return text.empty() ? text : text + ")";
}

// The tensors against the config: each required one present with its exact
// shape, nothing unknown. Returns the refusal reason, or "".
std::string check_tensor_names_and_shapes(const SafetensorsShards& weights,
                                          const NativeArchitecture& architecture,
                                          const NativeConfig& config) {
  const auto expected = config.tensor_shapes();
  const auto ignorable = architecture.ignorable_tensors(config);
  for (const auto& [name, shape] : expected) {
    if (!weights.contains(name)) return weights.label() + ": tensor '" + name + "' is missing";
    const std::vector<int64_t>& actual = weights.entry(name).shape;
    if (actual != shape) {
      return weights.file_of(name) + ": tensor '" + name + "' has shape " + shape_text(actual) +
             ", expected " + shape_text(shape);
    }
  }
  for (const auto& [name, entry] : weights.tensors()) {
    if (expected.count(name) != 0) continue;
    const auto ignored = ignorable.find(name);
    if (ignored == ignorable.end()) {
      return weights.file_of(name) + ": unknown tensor " + quoted_for_message(name, 80);
    }
    if (!ignored->second.empty() && entry.shape != ignored->second) {
      return weights.file_of(name) + ": tensor '" + name + "' has shape " +
             shape_text(entry.shape) + ", expected " + shape_text(ignored->second);
    }
  }
  return "";
}

// Every weight the forward reads is finite, and the architecture's checks
// across tensors hold.
std::string check_tensor_values(const SafetensorsShards& weights,
                                const NativeArchitecture& architecture,
                                const NativeConfig& config) {
  for (const auto& [name, shape] : config.tensor_shapes()) {
    const std::vector<float> values = weights.read_float32(name);
    const std::string reason =
        check_native_tensor_values(weights.file_of(name), name, values.data(), values.size());
    if (!reason.empty()) return reason;
  }
  return architecture.check_tensor_values(weights);
}

// Each file's __metadata__ format, as transformers reads it: absent, "pt"
// or "mlx" are loaded as stored; "tf" and "flax" would be converted, and
// anything else is refused. Returns the refusal reason, or "".
std::string check_formats(const SafetensorsShards& weights) {
  for (size_t i = 0; i < weights.file_count(); ++i) {
    const auto& metadata = weights.file(i).header().metadata;
    const auto format = metadata.find("format");
    if (format == metadata.end() || format->second == "pt" || format->second == "mlx") continue;
    return weights.file(i).label() + ": __metadata__ format " +
           quoted_for_message(format->second, 40) +
           " is not a PyTorch checkpoint's (\"pt\"): re-save the model with save_pretrained "
           "from PyTorch";
  }
  return "";
}

// Adds `problem` to the inspection's reason ("; "-separated: every limit
// broken is reported, not only the first).
void add_problem(NativeModelInspection& result, const std::string& problem) {
  if (problem.empty()) return;
  result.reason += (result.reason.empty() ? "" : "; ") + problem;
}

// The repository's bytes (`file_bytes`, every file of the folder) and the
// size of config.json against the limits; adds the problems to the reason.
void check_sizes(int64_t config_bytes, int64_t file_bytes, const ModelLimits& limits,
                 NativeModelInspection& result) {
  result.file_bytes = file_bytes;
  if (config_bytes > kMaxConfigBytes) {
    add_problem(result, "config.json is " + std::to_string(config_bytes) + " bytes, over the " +
                            std::to_string(kMaxConfigBytes) + "-byte limit");
  }
  add_problem(result, repository_size_reason(file_bytes, limits.max_file_bytes));
}

// The architecture, the config and the parameter count it implies; false,
// with the reason, when the config cannot be used. A parameter count over
// the limit is added to the reason, and the config is still returned usable.
// The keys filled by official defaults go to *defaults and defaults_used.
bool check_config(const std::string& config_text, const ModelLimits& limits,
                  NativeModelInspection& result, std::vector<ConfigDefault>* defaults) {
  std::string reason;
  result.architecture = read_architecture(config_text, &reason);
  const NativeArchitecture* architecture = find_native_architecture(result.architecture);
  if (reason.empty() && architecture == nullptr) {
    std::string supported;
    for (const std::string& name : native_architectures()) {
      supported += (supported.empty() ? "" : ", ") + name;
    }
    reason = "unsupported architecture " + quoted_for_message(result.architecture, 80) +
             " (supported: " + supported + ")";
  }
  if (reason.empty()) {
    try {
      result.config = architecture->parse_config("config.json", config_text, {}, defaults);
    } catch (const NativeConfigError& e) {
      reason = e.what();
    }
  }
  if (!reason.empty()) {
    add_problem(result, reason);
    return false;
  }
  for (const ConfigDefault& d : *defaults) result.defaults_used.push_back(d.description());
  result.parameters = result.config->parameter_count();
  if (result.parameters > limits.max_parameters) {
    add_problem(result, "parameter count " + std::to_string(result.parameters) +
                            " (implied by config.json) is over the limit " +
                            std::to_string(limits.max_parameters));
  }
  return true;
}

// The tensors of the weight files against the accepted config (a name or
// shape refusal says which official defaults the config relied on), their
// values too when `depth` says so; sets dtype_counts, sharded, the reason
// and `accepted`.
void check_weights(const SafetensorsShards& weights, InspectionDepth depth,
                   const std::vector<ConfigDefault>& defaults, NativeModelInspection& result) {
  result.sharded = weights.sharded();
  for (const auto& [name, entry] : weights.tensors()) {
    ++result.dtype_counts[dtype_name(entry.dtype)];
  }
  result.reason = check_formats(weights);
  const NativeArchitecture& architecture = *find_native_architecture(result.architecture);
  if (result.reason.empty()) {
    result.reason = check_tensor_names_and_shapes(weights, architecture, *result.config);
    if (!result.reason.empty()) result.reason += defaults_clause(defaults);
  }
  if (result.reason.empty() && depth == InspectionDepth::kAll) {
    result.reason = check_tensor_values(weights, architecture, *result.config);
  }
  result.accepted = result.reason.empty();
}

// Why `folder` (holding config.json) has no native weights to inspect, with
// the fix, or "".
std::string layout_reason(const std::string& folder) {
  switch (model_layout(folder)) {
    case ModelLayout::kNative:
      return "";
    case ModelLayout::kTorchScript:
      return "model.pt and config.json are both present: a validator runs such a folder as "
             "TorchScript (model.pt); keep the files of one kind only";
    case ModelLayout::kUnsupported:
      break;
  }
  return model_layout_reason(folder);
}

}  // namespace

std::string check_native_tensor_values(const std::string& file, const std::string& name,
                                       const float* values, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (!std::isfinite(values[i])) {
      return file + ": tensor '" + name + "' holds a non-finite value at index " +
             std::to_string(i);
    }
  }
  return "";
}

bool is_native_model_folder(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode) &&
         regular_file_bytes(path + "/config.json") >= 0;
}

NativeModelInspection inspect_native_model(const std::string& folder, const ModelLimits& limits,
                                           InspectionDepth depth) {
  NativeModelInspection result;
  const int64_t config_bytes = regular_file_bytes(folder + "/config.json");
  if (config_bytes < 0) {
    result.reason = "config.json is missing";
    return result;
  }
  try {
    check_sizes(config_bytes, total_bytes(list_repository_files(folder)), limits, result);
  } catch (const RepositoryFilesError& e) {
    result.reason = e.what();
    return result;
  }
  const std::string layout = layout_reason(folder);
  if (!layout.empty()) {
    add_problem(result, layout);
    return result;
  }
  if (config_bytes > kMaxConfigBytes) return result;
  std::string config_text;
  try {
    config_text = read_file(folder + "/config.json");
  } catch (const std::exception& e) {
    add_problem(result, e.what());
    return result;
  }
  std::vector<ConfigDefault> defaults;
  if (!check_config(config_text, limits, result, &defaults) || !result.reason.empty()) {
    return result;
  }
  try {
    check_weights(SafetensorsShards::open_folder(folder), depth, defaults, result);
  } catch (const SafetensorsError& e) {
    result.reason = e.what();
  }
  return result;
}

NativeModelInspection inspect_native_model_image(const std::string& config_text,
                                                 const uint8_t* weights, size_t weights_size,
                                                 const ModelLimits& limits) {
  NativeModelInspection result;
  const int64_t config_bytes = static_cast<int64_t>(config_text.size());
  check_sizes(config_bytes, config_bytes + static_cast<int64_t>(weights_size), limits, result);
  std::vector<ConfigDefault> defaults;
  if (config_bytes > kMaxConfigBytes || !check_config(config_text, limits, result, &defaults) ||
      !result.reason.empty()) {
    return result;
  }
  try {
    check_weights(SafetensorsShards::of_image(kSafetensorsFileName, weights, weights_size),
                  InspectionDepth::kAll, defaults, result);
  } catch (const SafetensorsError& e) {
    result.reason = e.what();
  }
  return result;
}

}  // namespace crucible
