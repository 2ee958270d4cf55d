// The configuration of a Chronos-2 model (`config.json` of a Hugging Face
// folder whose architecture is Chronos2Model, chronos-forecasting 2.3): the
// fields of chronos' Chronos2CoreConfig (a transformers PretrainedConfig) and
// of its `chronos_config` block (Chronos2ForecastingConfig), read and bounded
// before anything large is allocated, and the exact list of weight tensors
// it implies. Torch-free, so the validator and the fuzzers can use it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "crucible/engine/models/native/activation.h"
#include "crucible/engine/models/native/native_architecture.h"

namespace crucible {

// The architecture's name in config.json (architectures[0]).
constexpr const char* kChronos2Architecture = "Chronos2Model";

struct Chronos2Config : NativeConfig {
  // Chronos2CoreConfig's fields (its defaults when absent).
  int64_t d_model = 512;
  int64_t d_kv = 64;
  int64_t d_ff = 2048;
  int64_t num_layers = 6;
  int64_t num_heads = 8;
  double layer_norm_epsilon = 1e-6;
  Activation activation = Activation::kRelu;  // dense_act_fn
  double rope_theta = 10000.0;
  // chronos_config (Chronos2ForecastingConfig).
  int64_t context_length = 0;
  int64_t patch_size = 0;  // input_patch_size, which must equal output_patch_size
  int64_t input_patch_stride = 0;
  std::vector<double> quantiles;  // strictly increasing, inside (0, 1), holding 0.1, ..., 0.9
  bool use_arcsinh = false;
  int64_t max_output_patches = 1;
  int64_t time_encoding_scale = 0;  // context_length when absent

  // Steps one forward forecasts at most: max_output_patches x patch_size
  // (the pipeline's model_prediction_length).
  int64_t prediction_length() const { return max_output_patches * patch_size; }
  // Index of `level` among the model's quantiles; -1 when absent.
  int64_t quantile_index(double level) const;

  // NativeConfig: the tensors are chronos2_tensor_shapes(*this).
  const char* architecture() const override { return kChronos2Architecture; }
  std::string key() const override;
  std::map<std::string, std::vector<int64_t>> tensor_shapes() const override;
  std::vector<std::pair<std::string, std::string>> summary() const override;
};

// The levels the pipeline appends to the context when it unrolls a long
// horizon (Chronos2Pipeline.predict's default unrolled_quantiles): predict
// refuses a model whose quantiles lack any of them.
const std::vector<double>& chronos2_unrolled_quantiles();

// The Chronos-2 architecture (torch-free half; chronos2.h has the forecaster).
const NativeArchitecture& chronos2_architecture();

// Parses the text of config.json (`label` names it in messages) for
// Chronos2Model, as Chronos2CoreConfig, Chronos2ForecastingConfig and the
// model's constructor and forward read it. Throws NativeConfigError with one
// line, "<label>: <key>: <problem>", for malformed JSON, a wrong type, a value
// out of range or over `limits`, a null the official code cannot run with,
// an unsupported activation, a chronos_config key that
// Chronos2ForecastingConfig(**chronos_config) refuses, or a combination the
// official code asserts against (a gated feed-forward, input and output
// patch sizes that differ, no [REG] token, quantiles without 0.1, ..., 0.9,
// an odd d_kv, which RoPE cannot split). Each key filled with the official
// default is added to *defaults when given.
Chronos2Config parse_chronos2_config(const std::string& label, const std::string& json_text,
                                     const NativeConfigLimits& limits = {},
                                     std::vector<ConfigDefault>* defaults = nullptr);

// Every weight tensor the architecture reads, name -> shape, named as
// save_pretrained writes them ("encoder.block.0.layer.1.self_attention.q.weight").
std::map<std::string, std::vector<int64_t>> chronos2_tensor_shapes(const Chronos2Config& config);

}  // namespace crucible
