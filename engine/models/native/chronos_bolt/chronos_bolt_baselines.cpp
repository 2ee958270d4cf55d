#include "engine/models/native/chronos_bolt/chronos_bolt_baselines.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <functional>
#include <random>

#include "crucible/common/files.h"
#include "crucible/common/safetensors.h"

namespace crucible {
namespace {

// Every tensor of `config` filled by `fill(name, index in tensor)`.
std::vector<SafetensorsTensorData> make_tensors(
    const ChronosBoltConfig& config, const std::function<float(const std::string&, size_t)>& fill) {
  std::vector<SafetensorsTensorData> tensors;
  for (const auto& [name, shape] : config.tensor_shapes()) {
    size_t count = 1;
    for (int64_t size : shape) count *= static_cast<size_t>(size);
    SafetensorsTensorData tensor{name, shape, std::vector<float>(count)};
    for (size_t i = 0; i < count; ++i) tensor.values[i] = fill(name, i);
    tensors.push_back(std::move(tensor));
  }
  return tensors;
}

void write_model(const std::string& folder, const ChronosBoltConfig& config,
                 const std::vector<SafetensorsTensorData>& tensors) {
  std::filesystem::create_directories(folder);
  write_file_atomically(folder + "/config.json", chronos_bolt_config_json(config));
  write_safetensors(folder + "/model.safetensors", tensors, {{"format", "pt"}});
}

}  // namespace

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

double standard_normal_quantile(double level) {
  // Bisection on Phi(z) = erfc(-z / sqrt 2) / 2, to double precision.
  double low = -40.0, high = 40.0;
  for (int i = 0; i < 200; ++i) {
    const double middle = 0.5 * (low + high);
    (0.5 * std::erfc(-middle / std::sqrt(2.0)) < level ? low : high) = middle;
  }
  return 0.5 * (low + high);
}

std::vector<std::string> write_native_baseline_models(const std::string& directory,
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
  write_model(gaussian_dir, config, make_tensors(config, gaussian));
  write_model(random_dir, config, make_tensors(config, noisy));
  return {gaussian_dir, random_dir};
}

}  // namespace crucible
