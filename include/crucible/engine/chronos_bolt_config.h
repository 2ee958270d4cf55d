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
#include <vector>

namespace crucible {

// A config.json that cannot be run: the message names the key and the problem.
class NativeConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The activation of the feed-forward and residual blocks, as named by
// transformers' ACT2FN.
enum class Activation { kRelu, kGeluTanh /* "gelu_new" */, kGelu /* erf form */ };

// The ACT2FN name: "relu", "gelu_new" or "gelu".
const char* activation_name(Activation activation);

struct ChronosBoltConfig {
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
  // A canonical text of every field: equal texts <=> configs that can share
  // one stacked forward.
  std::string key() const;
};

// Upper bounds that keep a hostile config from making the engine allocate
// absurd amounts before its weights are even looked at.
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
// fills with a default: transformers' T5Config for the T5 fields, chronos'
// ChronosBoltConfig dataclass for chronos_config.use_reg_token.
struct ConfigDefault {
  std::string key;     // "chronos_config.use_reg_token", "d_model", ...
  std::string value;   // the value used, as JSON: "false", "512", "\"relu\""
  std::string origin;  // "the official default", "T5Config's default", ...
  bool null = false;   // the key is there with null (else it is missing)

  // "chronos_config.use_reg_token missing: false (the official default)", or
  // "... is null: false (...)".
  std::string description() const;
};

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

// Tensors the reference tolerates in a checkpoint without reading them apart
// from `shared.weight`: the tied embedding copies and lm_head.
bool is_ignorable_chronos_bolt_tensor(const std::string& name);

// The parameter count the config implies: the sum over chronos_bolt_tensor_shapes.
int64_t chronos_bolt_parameter_count(const ChronosBoltConfig& config);

}  // namespace crucible
