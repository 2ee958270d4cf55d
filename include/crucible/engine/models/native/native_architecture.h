// One small interface per native architecture (a model family the engine
// runs itself from a Hugging Face folder, so no miner code ever runs), and
// the registry that finds an architecture by config.json's architectures[0].
// This half is torch-free: reading and checking a config, the tensors it
// implies and its parameter count, so that inspection, the validator and
// the fuzzers need no LibTorch. native_forecaster.h is the LibTorch half
// (loading a stacked group and forecasting).
//
// Adding an architecture: a folder engine/models/native/<name>/ that defines
// <name>_architecture() and <name>_forecaster() and adds its sources in its
// own CMakeLists.txt, plus one line in native_architecture_list.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crucible/common/safetensors_shards.h"

namespace crucible {

// A config.json that cannot be run: the message names the key and the problem.
class NativeConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Upper bounds that keep a hostile config from making the engine allocate
// absurd amounts before its weights are even looked at. Each architecture
// applies those of its sizes.
struct NativeConfigLimits {
  int64_t max_d_model = 8192;
  int64_t max_d_ff = 32768;
  int64_t max_heads = 128;
  int64_t max_d_kv = 1024;
  int64_t max_layers = 64;
  int64_t max_buckets = 1024;
  int64_t max_context_length = 16384;
  int64_t max_prediction_length = 4096;
  int64_t max_patch_size = 1024;
  int64_t max_quantiles = 99;
};

// A key config.json lacks (or holds null for) that the official loader
// fills with a default (transformers' config class, or the architecture's
// own config dataclass).
struct ConfigDefault {
  std::string key;     // "chronos_config.use_reg_token", "d_model", ...
  std::string value;   // the value used, as JSON: "false", "512", "\"relu\""
  std::string origin;  // "the official default", "T5Config's default", ...
  bool null = false;   // the key is there with null (else it is missing)

  // "chronos_config.use_reg_token missing: false (the official default)", or
  // "... is null: false (...)".
  std::string description() const;
};

// One model's parsed config, as its architecture read it.
class NativeConfig {
 public:
  virtual ~NativeConfig() = default;

  // config.json's architectures[0]: the registry key of its architecture.
  virtual const char* architecture() const = 0;
  // A canonical text of every field: equal keys <=> configs that can share
  // one stacked forward.
  virtual std::string key() const = 0;
  // Every weight tensor the forward reads, name -> shape, named as
  // save_pretrained writes them.
  virtual std::map<std::string, std::vector<int64_t>> tensor_shapes() const = 0;
  // What `crucible models inspect` prints of the config: (label, text) rows.
  virtual std::vector<std::pair<std::string, std::string>> summary() const = 0;

  // The parameter count the config implies: the sum over tensor_shapes().
  int64_t parameter_count() const;
};

class NativeArchitecture {
 public:
  virtual ~NativeArchitecture() = default;

  // config.json's architectures[0] for this family.
  virtual const char* name() const = 0;

  // Parses the text of config.json (`label` names it in messages) as the
  // official loader reads it. Throws NativeConfigError with one line,
  // "<label>: <key>: <problem>", for anything it cannot run (malformed JSON,
  // a wrong type, a value out of range or over `limits`, a key or value the
  // official loader refuses). Each key filled with the official default is
  // added to *defaults when given.
  virtual std::shared_ptr<const NativeConfig> parse_config(
      const std::string& label, const std::string& json_text, const NativeConfigLimits& limits,
      std::vector<ConfigDefault>* defaults) const = 0;

  // Tensors a checkpoint may hold besides config.tensor_shapes() that the
  // official loader accepts without reading, name -> the shape each must
  // have, or an empty shape for any (tied embedding copies, an unused head).
  virtual std::map<std::string, std::vector<int64_t>> ignorable_tensors(
      const NativeConfig& config) const;

  // Checks across tensors, made once every value read is known finite: ""
  // when the weights are fine, else the refusal naming the file and tensor
  // (a tied embedding copy that differs from the tensor it ties to).
  virtual std::string check_tensor_values(const SafetensorsShards& weights) const;

  // Writes the architecture's baseline models (`crucible models make-baselines`)
  // as folders DIR/<uid>_<name>, uids from `first_uid`; returns their paths.
  // Throws std::runtime_error naming the file on failure.
  virtual std::vector<std::string> write_baselines(const std::string& directory,
                                                   int64_t first_uid) const;
};

// The architecture registered under `name` (config.json's
// architectures[0]), or null.
const NativeArchitecture* find_native_architecture(const std::string& name);

// The names of every registered architecture, in registry order.
const std::vector<std::string>& native_architectures();

// Every architecture's baselines (write_baselines), in registry order, uids
// from `first_uid` on; returns their paths.
std::vector<std::string> write_native_baseline_models(const std::string& directory,
                                                      int64_t first_uid);

}  // namespace crucible
