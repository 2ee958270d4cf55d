#include "engine/models/native/chronos2/chronos2_baselines.h"

#include <nlohmann/json.hpp>

#include "crucible/engine/models/native/native_baseline_files.h"

namespace crucible {

Chronos2Config baseline_chronos2_config() {
  Chronos2Config c;
  c.d_model = 64;
  c.d_kv = 16;
  c.d_ff = 256;
  c.num_layers = 2;
  c.num_heads = 4;
  c.context_length = 512;
  c.patch_size = 16;
  c.input_patch_stride = 16;
  c.quantiles = {0.01, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3,  0.35, 0.4,  0.45, 0.5,
                 0.55, 0.6,  0.65, 0.7,  0.75, 0.8,  0.85, 0.9,  0.95, 0.99};
  c.use_arcsinh = true;
  c.max_output_patches = 4;
  c.time_encoding_scale = c.context_length;
  return c;
}

std::string chronos2_config_json(const Chronos2Config& c) {
  const std::string activation = activation_name(c.activation);
  const nlohmann::ordered_json config = {
      {"architectures", {kChronos2Architecture}},
      // BaseChronosPipeline.from_pretrained picks the pipeline by this name.
      {"chronos_pipeline_class", "Chronos2Pipeline"},
      {"model_type", "t5"},
      {"d_model", c.d_model},
      {"d_kv", c.d_kv},
      {"d_ff", c.d_ff},
      {"num_layers", c.num_layers},
      {"num_heads", c.num_heads},
      {"dropout_rate", 0.1},
      {"layer_norm_epsilon", c.layer_norm_epsilon},
      {"feed_forward_proj", activation},
      {"dense_act_fn", activation},
      {"is_gated_act", false},
      {"rope_theta", c.rope_theta},
      {"vocab_size", 2},
      {"pad_token_id", 0},
      {"reg_token_id", 1},
      {"chronos_config",
       {{"context_length", c.context_length},
        {"input_patch_size", c.patch_size},
        {"input_patch_stride", c.input_patch_stride},
        {"output_patch_size", c.patch_size},
        {"quantiles", c.quantiles},
        {"use_reg_token", true},
        {"use_arcsinh", c.use_arcsinh},
        {"max_output_patches", c.max_output_patches},
        {"time_encoding_scale", c.time_encoding_scale}}}};
  return config.dump(2) + "\n";
}

std::vector<std::string> write_chronos2_baselines(const std::string& directory, int64_t first_uid) {
  const Chronos2Config config = baseline_chronos2_config();
  // The output block's bias, quantile-major within a patch: level i's z at
  // [i * patch_size, (i + 1) * patch_size).
  const auto gaussian = [&](const std::string& name, size_t index) {
    if (name == "output_patch_embedding.output_layer.bias") {
      return static_cast<float>(standard_normal_quantile(
          config.quantiles[index / static_cast<size_t>(config.patch_size)]));
    }
    return name.find("layer_norm") != std::string::npos ? 1.0f : 0.0f;
  };
  const std::string folder = directory + "/" + std::to_string(first_uid) + "_chronos2_gaussian";
  write_native_model_folder(folder, chronos2_config_json(config),
                            native_baseline_tensors(config, gaussian));
  return {folder};
}

}  // namespace crucible
