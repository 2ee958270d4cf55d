// Native candidate models: a Hugging Face folder (`config.json` +
// `model.safetensors`, or the shards a `model.safetensors.index.json` lists,
// as save_pretrained writes them) for an architecture the engine implements
// itself, so no miner code ever runs. Inspection checks everything before a
// forward is built: the folder's layout, the architecture, the config's sizes
// and the parameter count it implies, every tensor's presence, shape and
// dtype, no unknown tensors, and that every weight is finite. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crucible/common/safetensors.h"
#include "crucible/common/safetensors_shards.h"
#include "crucible/engine/models/native/native_architecture.h"
#include "crucible/engine/models/torchscript/model_inspector.h"

namespace crucible {

// True when `path` is a folder holding a `config.json`: a native candidate
// (inspection refuses one without native weights, saying what to do).
bool is_native_model_folder(const std::string& path);

struct NativeModelInspection {
  bool accepted = false;
  // One line when refused, naming the file, key or tensor; every limit
  // broken (repository bytes, parameters) is listed, "; "-separated.
  std::string reason;
  std::string architecture;                    // architectures[0], when it could be read
  std::shared_ptr<const NativeConfig> config;  // set when config.json parsed; valid when accepted
  int64_t file_bytes = 0;  // every file of the folder, as model_files.h counts them
  int64_t parameters = 0;  // implied by the config (ignorable tensors not counted)
  std::map<std::string, int64_t> dtype_counts;  // "F32" -> tensors stored in that dtype
  // The keys config.json lacks that the official loader fills with its
  // default, as ConfigDefault::description() words them ("chronos_config.
  // use_reg_token missing: false (the official default)"), once config.json parsed.
  std::vector<std::string> defaults_used;
  bool sharded = false;  // the weights are shards listed by model.safetensors.index.json
};

// What an inspection reads of the weights: every value too (kAll), or the
// headers only (kHeader), for a loader that checks the values as it reads
// them (check_native_tensor_values, check_tied_embeddings).
enum class InspectionDepth { kAll, kHeader };

// Never throws for a bad folder: anything wrong comes back with accepted =
// false and the reason, one line naming the file ("unsupported architecture
// X", "model.safetensors: tensor 'x': ...", "model-00002-of-00003.safetensors:
// tensor 'x': ...", "model.safetensors.index.json: ...", "parameter count N
// is over the limit M", model_layout_reason()'s words for a folder without
// native weights, ...). Sizes and the parameter count are checked from
// config.json and the safetensors headers before any weight is read.
NativeModelInspection inspect_native_model(const std::string& folder, const ModelLimits& limits,
                                           InspectionDepth depth = InspectionDepth::kAll);

// The same checks on the two files' contents in memory: `config_text` is
// config.json, [weights, weights + weights_size) the whole model.safetensors
// (no byte outside it is read). Never throws for bad contents; the reasons
// are those inspect_native_model gives for a folder holding these files.
NativeModelInspection inspect_native_model_image(const std::string& config_text,
                                                 const uint8_t* weights, size_t weights_size,
                                                 const ModelLimits& limits);

// The refusal reason for tensor `name`'s values, read from the weight file
// `file` (its name in the folder), or "" when all are finite:
// "<file>: tensor 'x' holds a non-finite value at index i".
std::string check_native_tensor_values(const std::string& file, const std::string& name,
                                       const float* values, size_t count);

}  // namespace crucible
