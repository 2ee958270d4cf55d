#include "engine/models/native/chronos_bolt/chronos_bolt_baselines.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <functional>
#include <random>

#include "crucible/engine/models/native/native_baseline_files.h"

namespace crucible {

ChronosBoltConfig baseline_chronos_bolt_config() {
  ChronosBoltConfig c;
  c.d_model = 64;
  c.d_ff = 256;
  c.d_kv = 16;
  c.num_heads = 4;
  c.num_layers = 2;
  c.num_decoder_layers = 2;
  c.context_length = 512;
  c.prediction_length = 64;
  c.input_patch_size = 16;
  c.input_patch_stride = 16;
  c.quantiles = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  c.use_reg_token = true;
  return c;
}

std::string chronos_bolt_config_json(const ChronosBoltConfig& c) {
  const std::string activation = activation_name(c.activation);
  const nlohmann::ordered_json config = {
      {"architectures", {"ChronosBoltModelForForecasting"}},
      // BaseChronosPipeline.from_pretrained picks the pipeline by this name
      // (ChronosPipeline, the original Chronos, when absent).
      {"chronos_pipeline_class", "ChronosBoltPipeline"},
      {"model_type", "t5"},
      {"d_model", c.d_model},
      {"d_ff", c.d_ff},
      {"d_kv", c.d_kv},
      {"num_heads", c.num_heads},
      {"num_layers", c.num_layers},
      {"num_decoder_layers", c.num_decoder_layers},
      {"feed_forward_proj", c.gated_feed_forward ? "gated-" + activation : activation},
      {"dense_act_fn", activation},
      {"is_gated_act", c.gated_feed_forward},
      {"layer_norm_epsilon", c.layer_norm_epsilon},
      {"relative_attention_num_buckets", c.relative_attention_num_buckets},
      {"relative_attention_max_distance", c.relative_attention_max_distance},
      {"decoder_start_token_id", c.decoder_start_token_id},
      {"pad_token_id", 0},
      {"eos_token_id", 1},
      {"dropout_rate", 0.1},
      {"vocab_size", c.vocab_size()},
      {"chronos_config",
       {{"context_length", c.context_length},
        {"prediction_length", c.prediction_length},
        {"input_patch_size", c.input_patch_size},
        {"input_patch_stride", c.input_patch_stride},
        {"quantiles", c.quantiles},
        {"use_reg_token", c.use_reg_token}}}};
  return config.dump(2) + "\n";
}

std::vector<std::string> write_chronos_bolt_baselines(const std::string& directory,
                                                      int64_t first_uid) {
  const ChronosBoltConfig config = baseline_chronos_bolt_config();
  // The output block's bias, quantile-major: level i's z at [i * prediction_length, ...).
  const auto output_bias = [&](size_t index) {
    return static_cast<float>(
        standard_normal_quantile(config.quantiles[index / config.prediction_length]));
  };
  const auto gaussian = [&](const std::string& name, size_t index) {
    if (name == "output_patch_embedding.output_layer.bias") return output_bias(index);
    return 0.0f;
  };
  std::mt19937 random(20261129);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  const auto noisy = [&](const std::string& name, size_t index) {
    if (name.find("layer_norm") != std::string::npos) return 1.0f;
    return gaussian(name, index) + normal(random);
  };
  const std::string gaussian_dir = directory + "/" + std::to_string(first_uid) + "_bolt_gaussian";
  const std::string random_dir = directory + "/" + std::to_string(first_uid + 1) + "_bolt_random";
  write_native_model_folder(gaussian_dir, chronos_bolt_config_json(config),
                            native_baseline_tensors(config, gaussian));
  write_native_model_folder(random_dir, chronos_bolt_config_json(config),
                            native_baseline_tensors(config, noisy));
  return {gaussian_dir, random_dir};
}

}  // namespace crucible
