// Native candidate models: a Hugging Face folder (`config.json` +
// `model.safetensors`) for an architecture the engine implements itself, so
// no miner code ever runs. Inspection checks everything before a forward is
// built: the architecture, the config's sizes and the parameter count it
// implies, every tensor's presence, shape and dtype, no unknown tensors, and
// that every weight is finite. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "crucible/common/safetensors.h"
#include "crucible/engine/chronos_bolt_config.h"
#include "crucible/engine/model_inspector.h"

namespace crucible {

// The architectures (config.json `architectures[0]`) the engine runs natively.
const std::vector<std::string>& native_architectures();

// True when `path` is a folder holding a `config.json`: a native candidate.
bool is_native_model_folder(const std::string& path);

struct NativeModelInspection {
  bool accepted = false;
  // One line when refused, naming the file, key or tensor; every limit
  // broken (repository bytes, parameters) is listed, "; "-separated.
  std::string reason;
  std::string architecture;  // architectures[0], when it could be read
  ChronosBoltConfig config;  // valid when accepted
  int64_t file_bytes = 0;    // every file of the folder, as model_files.h counts them
  int64_t parameters = 0;    // implied by the config (ignorable tensors not counted)
  std::map<std::string, int64_t> dtype_counts;  // "F32" -> tensors stored in that dtype
};

// What an inspection reads of model.safetensors: every value too (kAll), or
// the header only (kHeader), for a loader that checks the values as it reads
// them (check_native_tensor_values, check_tied_embeddings).
enum class InspectionDepth { kAll, kHeader };

// Never throws for a bad folder: anything wrong comes back with accepted =
// false and the reason ("unsupported architecture X", "model.safetensors:
// tensor 'x': ...", "parameter count N is over the limit M", ...). Sizes and
// the parameter count are checked from config.json and the safetensors header
// before any weight is read.
NativeModelInspection inspect_native_model(const std::string& folder, const ModelLimits& limits,
                                           InspectionDepth depth = InspectionDepth::kAll);

// The same checks on the two files' contents in memory: `config_text` is
// config.json, [weights, weights + weights_size) the whole model.safetensors
// (no byte outside it is read). Never throws for bad contents; the reasons
// are those inspect_native_model gives for a folder holding these files.
NativeModelInspection inspect_native_model_image(const std::string& config_text,
                                                 const uint8_t* weights, size_t weights_size,
                                                 const ModelLimits& limits);

// The refusal reason for tensor `name`'s values, or "" when all are finite:
// "model.safetensors: tensor 'x' holds a non-finite value at index i".
std::string check_native_tensor_values(const std::string& name, const float* values, size_t count);

// The refusal reason when a tied embedding copy (encoder. or
// decoder.embed_tokens.weight) differs from shared.weight, or "".
std::string check_tied_embeddings(const SafetensorsView& file);

}  // namespace crucible
