#include "crucible/engine/native_model.h"

#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <sstream>

#include "crucible/common/files.h"
#include "crucible/common/model_files.h"
#include "crucible/common/quoted_text.h"
#include "crucible/common/safetensors.h"

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

// The tensors against the config: each required one present with its exact
// shape, nothing unknown, the tied embedding copies equal to shared.weight.
// Returns the refusal reason, or "".
std::string check_tensor_names_and_shapes(const SafetensorsView& file,
                                          const ChronosBoltConfig& config) {
  const auto expected = chronos_bolt_tensor_shapes(config);
  for (const auto& [name, shape] : expected) {
    if (!file.contains(name)) return "model.safetensors: tensor '" + name + "' is missing";
    const std::vector<int64_t>& actual = file.entry(name).shape;
    if (actual != shape) {
      return "model.safetensors: tensor '" + name + "' has shape " + shape_text(actual) +
             ", expected " + shape_text(shape);
    }
  }
  for (const auto& [name, entry] : file.header().tensors) {
    if (expected.count(name) != 0) continue;
    if (!is_ignorable_chronos_bolt_tensor(name)) {
      return "model.safetensors: unknown tensor " + quoted_for_message(name, 80);
    }
    if (name != "lm_head.weight" && entry.shape != expected.at("shared.weight")) {
      return "model.safetensors: tensor '" + name + "' has shape " + shape_text(entry.shape) +
             ", expected " + shape_text(expected.at("shared.weight"));
    }
  }
  return "";
}

// Every weight the forward reads is finite, and a tied embedding copy (which
// the reference would load into shared.weight) equals shared.weight.
std::string check_tensor_values(const SafetensorsView& file, const ChronosBoltConfig& config) {
  for (const auto& [name, shape] : chronos_bolt_tensor_shapes(config)) {
    const std::vector<float> values = file.read_float32(name);
    const std::string reason = check_native_tensor_values(name, values.data(), values.size());
    if (!reason.empty()) return reason;
  }
  return check_tied_embeddings(file);
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
bool check_config(const std::string& config_text, const ModelLimits& limits,
                  NativeModelInspection& result) {
  std::string reason;
  result.architecture = read_architecture(config_text, &reason);
  if (reason.empty() && result.architecture != native_architectures()[0]) {
    reason = "unsupported architecture " + quoted_for_message(result.architecture, 80) +
             " (supported: " + native_architectures()[0] + ")";
  }
  if (reason.empty()) {
    try {
      result.config = parse_chronos_bolt_config("config.json", config_text);
    } catch (const NativeConfigError& e) {
      reason = e.what();
    }
  }
  if (!reason.empty()) {
    add_problem(result, reason);
    return false;
  }
  result.parameters = chronos_bolt_parameter_count(result.config);
  if (result.parameters > limits.max_parameters) {
    add_problem(result, "parameter count " + std::to_string(result.parameters) +
                            " (implied by config.json) is over the limit " +
                            std::to_string(limits.max_parameters));
  }
  return true;
}

// The tensors of model.safetensors against the accepted config, their
// values too when `depth` says so; sets dtype_counts, the reason and `accepted`.
void check_weights(const SafetensorsView& weights, InspectionDepth depth,
                   NativeModelInspection& result) {
  for (const auto& [name, entry] : weights.header().tensors) {
    ++result.dtype_counts[dtype_name(entry.dtype)];
  }
  result.reason = check_tensor_names_and_shapes(weights, result.config);
  if (result.reason.empty() && depth == InspectionDepth::kAll) {
    result.reason = check_tensor_values(weights, result.config);
  }
  result.accepted = result.reason.empty();
}

// A safetensors error about `label` as a reason: the file is named
// "model.safetensors" (the folder is known to the caller).
std::string weights_reason(const SafetensorsError& error, const std::string& label) {
  std::string message = error.what();
  if (message.rfind(label, 0) == 0) message = "model.safetensors" + message.substr(label.size());
  return message;
}

}  // namespace

std::string check_native_tensor_values(const std::string& name, const float* values, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (!std::isfinite(values[i])) {
      return "model.safetensors: tensor '" + name + "' holds a non-finite value at index " +
             std::to_string(i);
    }
  }
  return "";
}

std::string check_tied_embeddings(const SafetensorsView& file) {
  const std::vector<float> shared = file.read_float32("shared.weight");
  for (const char* copy : {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}) {
    if (!file.contains(copy)) continue;
    const std::vector<float> values = file.read_float32(copy);
    if (std::memcmp(values.data(), shared.data(), shared.size() * sizeof(float)) != 0) {
      return std::string("model.safetensors: tensor '") + copy + "' differs from shared.weight";
    }
  }
  return "";
}

const std::vector<std::string>& native_architectures() {
  static const std::vector<std::string> names = {"ChronosBoltModelForForecasting"};
  return names;
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
  if (regular_file_bytes(folder + "/model.safetensors") < 0) {
    add_problem(result, "model.safetensors is missing");
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
  if (!check_config(config_text, limits, result) || !result.reason.empty()) return result;
  const std::string weights_path = folder + "/model.safetensors";
  try {
    check_weights(SafetensorsFile::open(weights_path).view(), depth, result);
  } catch (const SafetensorsError& e) {
    result.reason = weights_reason(e, weights_path);
  }
  return result;
}

NativeModelInspection inspect_native_model_image(const std::string& config_text,
                                                 const uint8_t* weights, size_t weights_size,
                                                 const ModelLimits& limits) {
  NativeModelInspection result;
  const int64_t config_bytes = static_cast<int64_t>(config_text.size());
  check_sizes(config_bytes, config_bytes + static_cast<int64_t>(weights_size), limits, result);
  if (config_bytes > kMaxConfigBytes || !check_config(config_text, limits, result) ||
      !result.reason.empty()) {
    return result;
  }
  const std::string label = "model.safetensors";
  try {
    check_weights(SafetensorsView(label, weights, weights_size), InspectionDepth::kAll, result);
  } catch (const SafetensorsError& e) {
    result.reason = weights_reason(e, label);
  }
  return result;
}

}  // namespace crucible
