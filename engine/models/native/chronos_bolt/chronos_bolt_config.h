// The configuration of a Chronos-Bolt model (`config.json` of a Hugging Face
// folder whose architecture is ChronosBoltModelForForecasting): the T5 fields
// and the `chronos_config` block, read and bounded before anything large is
// allocated, and the exact list of weight tensors it implies. Torch-free, so
// the validator and the fuzzers can use it.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crucible/engine/models/native/activation.h"
#include "crucible/engine/models/native/native_architecture.h"

namespace crucible {

// The architecture's name in config.json (architectures[0]).
constexpr const char* kChronosBoltArchitecture = "ChronosBoltModelForForecasting";

struct ChronosBoltConfig : NativeConfig {
  // T5 fields (transformers' T5Config defaults when absent).
  int64_t d_model = 512;
  int64_t d_ff = 2048;
  int64_t d_kv = 64;
  int64_t num_heads = 8;
  int64_t num_layers = 6;
  int64_t num_decoder_layers = 6;   // num_layers when absent
  bool gated_feed_forward = false;  // feed_forward_proj "gated-*" (or is_gated_act)
  Activation activation = Activation::kRelu;
  double layer_norm_epsilon = 1e-6;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  int64_t decoder_start_token_id = 0;
  // chronos_config.
  int64_t context_length = 0;
  int64_t prediction_length = 0;
  int64_t input_patch_size = 0;
  int64_t input_patch_stride = 0;
  std::vector<double> quantiles;  // strictly increasing, inside (0, 1)
  bool use_reg_token = false;

  // The reference overrides config.json's vocab_size: 2 with the [REG] token, else 1.
  int64_t vocab_size() const { return use_reg_token ? 2 : 1; }
  // Index of the model's level nearest 0.5 (the first on a tie), the level the
  // reference appends to the context when it unrolls a long horizon.
  int64_t median_index() const;
  // NativeConfig: the tensors are chronos_bolt_tensor_shapes(*this); the
  // summary gives the T5 shape, the chronos fields and the quantiles.
  const char* architecture() const override { return kChronosBoltArchitecture; }
  std::string key() const override;
  std::map<std::string, std::vector<int64_t>> tensor_shapes() const override;
  std::vector<std::pair<std::string, std::string>> summary() const override;
};

// The Chronos-Bolt architecture (torch-free half; chronos_bolt.h has the
// forecaster): its config, the tied embedding copies and lm_head it ignores.
const NativeArchitecture& chronos_bolt_architecture();

// Parses the text of config.json (`label` names it in messages) for
// ChronosBoltModelForForecasting, as transformers' T5Config and chronos'
// ChronosBoltConfig read it. Throws NativeConfigError with one line,
// "<label>: <key>: <problem>", for malformed JSON, a wrong type, a value out
// of range or over `limits`, an unsupported feed_forward_proj / activation, a
// null the official loader cannot run with, or a chronos_config key that
// ChronosBoltConfig(**chronos_config) refuses (any but context_length,
// prediction_length, input_patch_size, input_patch_stride, quantiles,
// use_reg_token). Each key filled with the official default is added to
// *defaults when given.
ChronosBoltConfig parse_chronos_bolt_config(const std::string& label, const std::string& json_text,
                                            const NativeConfigLimits& limits = {},
                                            std::vector<ConfigDefault>* defaults = nullptr);

// Every weight tensor the architecture reads, name -> shape, named as
// transformers saves them ("encoder.block.0.layer.0.SelfAttention.q.weight").
std::map<std::string, std::vector<int64_t>> chronos_bolt_tensor_shapes(
    const ChronosBoltConfig& config);

}  // namespace crucible
