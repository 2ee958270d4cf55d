// Reading a Chronos-Bolt config.json the way transformers' T5Config and
// chronos' ChronosBoltConfig do, with bounds on every size.
#include "engine/models/native/chronos_bolt/chronos_bolt_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "crucible/common/quoted_text.h"
#include "engine/models/native/config_reader.h"

namespace crucible {
namespace {

using nlohmann::json;

void add_attention(std::map<std::string, std::vector<int64_t>>& shapes, const std::string& prefix,
                   const ChronosBoltConfig& c, bool with_bias_table) {
  const int64_t inner = c.num_heads * c.d_kv;
  for (const char* name : {"q", "k", "v"}) shapes[prefix + name + ".weight"] = {inner, c.d_model};
  shapes[prefix + "o.weight"] = {c.d_model, inner};
  if (with_bias_table) {
    shapes[prefix + "relative_attention_bias.weight"] = {c.relative_attention_num_buckets,
                                                         c.num_heads};
  }
}

void add_feed_forward(std::map<std::string, std::vector<int64_t>>& shapes,
                      const std::string& prefix, const ChronosBoltConfig& c) {
  if (c.gated_feed_forward) {
    shapes[prefix + "wi_0.weight"] = {c.d_ff, c.d_model};
    shapes[prefix + "wi_1.weight"] = {c.d_ff, c.d_model};
  } else {
    shapes[prefix + "wi.weight"] = {c.d_ff, c.d_model};
  }
  shapes[prefix + "wo.weight"] = {c.d_model, c.d_ff};
}

void add_residual_block(std::map<std::string, std::vector<int64_t>>& shapes,
                        const std::string& prefix, int64_t in, int64_t hidden, int64_t out) {
  shapes[prefix + "hidden_layer.weight"] = {hidden, in};
  shapes[prefix + "hidden_layer.bias"] = {hidden};
  shapes[prefix + "output_layer.weight"] = {out, hidden};
  shapes[prefix + "output_layer.bias"] = {out};
  shapes[prefix + "residual_layer.weight"] = {out, in};
  shapes[prefix + "residual_layer.bias"] = {out};
}

// The fields of chronos' ChronosBoltConfig dataclass: the official loader
// refuses any other key in chronos_config (ChronosBoltConfig(**chronos_config)).
const char* const kChronosConfigKeys[] = {"context_length",   "prediction_length",
                                          "input_patch_size", "input_patch_stride",
                                          "quantiles",        "use_reg_token"};

void refuse_unknown_chronos_keys(const std::string& label, const json& chronos_config) {
  for (const auto& item : chronos_config.items()) {
    const auto known =
        std::find(std::begin(kChronosConfigKeys), std::end(kChronosConfigKeys), item.key());
    if (known == std::end(kChronosConfigKeys)) {
      throw NativeConfigError(label + ": chronos_config: unknown key " +
                              quoted_for_message(item.key(), 40) +
                              " (the official ChronosBoltConfig(**chronos_config) refuses it; "
                              "its fields: context_length, prediction_length, input_patch_size, "
                              "input_patch_stride, quantiles, use_reg_token)");
    }
  }
}

}  // namespace

int64_t ChronosBoltConfig::median_index() const {
  int64_t best = 0;
  for (size_t i = 1; i < quantiles.size(); ++i) {
    if (std::abs(quantiles[i] - 0.5) < std::abs(quantiles[best] - 0.5)) best = i;
  }
  return best;
}

std::string ChronosBoltConfig::key() const {
  std::ostringstream text;
  text.precision(17);
  text << "d_model=" << d_model << " d_ff=" << d_ff << " d_kv=" << d_kv << " heads=" << num_heads
       << " layers=" << num_layers << "+" << num_decoder_layers << " gated=" << gated_feed_forward
       << " act=" << static_cast<int>(activation) << " eps=" << layer_norm_epsilon
       << " buckets=" << relative_attention_num_buckets << "/" << relative_attention_max_distance
       << " start=" << decoder_start_token_id << " context=" << context_length
       << " prediction=" << prediction_length << " patch=" << input_patch_size << "/"
       << input_patch_stride << " reg=" << use_reg_token << " quantiles=";
  for (double level : quantiles) text << level << ",";
  return text.str();
}

ChronosBoltConfig parse_chronos_bolt_config(const std::string& label, const std::string& json_text,
                                            const NativeConfigLimits& limits,
                                            std::vector<ConfigDefault>* defaults) {
  const json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) throw NativeConfigError(label + ": not valid JSON");
  if (!root.is_object()) throw NativeConfigError(label + ": not a JSON object");
  const ConfigReader t5(label, root, "");
  // T5Config keeps a null it is given, and the model cannot be built with
  // it; a null num_decoder_layers means num_layers, and vocab_size is replaced.
  for (const char* key :
       {"d_model", "d_ff", "d_kv", "num_heads", "num_layers", "relative_attention_num_buckets",
        "relative_attention_max_distance", "layer_norm_epsilon", "feed_forward_proj",
        "dense_act_fn", "decoder_start_token_id"}) {
    t5.refuse_null(key);
  }
  const std::string t5_default = "transformers' T5Config default";
  ChronosBoltConfig c;
  for (const auto& [key, value] :
       {std::pair<const char*, int64_t>{"d_model", c.d_model},
        {"d_ff", c.d_ff},
        {"d_kv", c.d_kv},
        {"num_heads", c.num_heads},
        {"num_layers", c.num_layers},
        {"relative_attention_num_buckets", c.relative_attention_num_buckets},
        {"relative_attention_max_distance", c.relative_attention_max_distance}}) {
    t5.note_default(key, std::to_string(value), t5_default, defaults);
  }
  t5.note_default("layer_norm_epsilon", json(c.layer_norm_epsilon).dump(), t5_default, defaults);
  t5.note_default("feed_forward_proj", "\"relu\"", t5_default, defaults);
  c.d_model = t5.integer("d_model", c.d_model, 1, limits.max_d_model);
  c.d_ff = t5.integer("d_ff", c.d_ff, 1, limits.max_d_ff);
  c.d_kv = t5.integer("d_kv", c.d_kv, 1, limits.max_d_kv);
  c.num_heads = t5.integer("num_heads", c.num_heads, 1, limits.max_heads);
  c.num_layers = t5.integer("num_layers", c.num_layers, 1, limits.max_layers);
  t5.note_default("num_decoder_layers", std::to_string(c.num_layers), "num_layers, " + t5_default,
                  defaults);
  c.num_decoder_layers = t5.integer("num_decoder_layers", c.num_layers, 1, limits.max_layers);
  c.relative_attention_num_buckets = t5.integer(
      "relative_attention_num_buckets", c.relative_attention_num_buckets, 4, limits.max_buckets);
  // The encoder's buckets grow logarithmically from num_buckets / 4 to this distance.
  c.relative_attention_max_distance =
      t5.integer("relative_attention_max_distance", c.relative_attention_max_distance,
                 c.relative_attention_num_buckets / 4 + 1, 1'000'000);
  const double epsilon = t5.number("layer_norm_epsilon", c.layer_norm_epsilon);
  if (!(epsilon > 0.0 && epsilon < 1.0)) t5.fail("layer_norm_epsilon", "must lie inside (0, 1)");
  c.layer_norm_epsilon = epsilon;

  // T5Config: "gated-<act>" or "<act>"; "gated-gelu" means gelu_new. A
  // dense_act_fn or is_gated_act saved in the file overrides what it implies
  // (a null is_gated_act too: the model reads None as not gated).
  const std::string projection = t5.text("feed_forward_proj", "relu");
  const bool gated = projection.rfind("gated-", 0) == 0;
  std::string activation = gated ? projection.substr(6) : projection;
  if (projection == "gated-gelu") activation = "gelu_new";
  if (activation.find('-') != std::string::npos) {
    t5.fail("feed_forward_proj", quoted_for_message(projection, 40) +
                                     " is not \"<activation>\" or \"gated-<activation>\"");
  }
  c.gated_feed_forward = t5.is_null("is_gated_act") ? false : t5.boolean("is_gated_act", gated);
  const std::string act_key = t5.has("dense_act_fn") ? "dense_act_fn" : "feed_forward_proj";
  c.activation = parse_activation(t5, act_key, t5.text("dense_act_fn", activation));

  if (!root.contains("chronos_config") || !root.at("chronos_config").is_object()) {
    t5.fail("chronos_config", "is missing or not an object");
  }
  const ConfigReader chronos(label, root.at("chronos_config"), "chronos_config.");
  refuse_unknown_chronos_keys(label, root.at("chronos_config"));
  c.context_length = chronos.required_integer("context_length", 1, limits.max_context_length);
  c.prediction_length =
      chronos.required_integer("prediction_length", 1, limits.max_prediction_length);
  c.input_patch_size = chronos.required_integer("input_patch_size", 1, limits.max_patch_size);
  c.input_patch_stride = chronos.required_integer("input_patch_stride", 1, limits.max_patch_size);
  c.quantiles = parse_model_quantiles(chronos, limits.max_quantiles);
  // The dataclass's default is False; a null is None, which the model reads as False.
  chronos.note_default("use_reg_token", "false", "the official default", defaults);
  c.use_reg_token = chronos.boolean("use_reg_token", false);

  c.decoder_start_token_id = t5.required_integer("decoder_start_token_id", 0, c.vocab_size() - 1);
  // Replaced by the model's own (1 or 2), but must be sane when given.
  if (!t5.is_null("vocab_size")) t5.integer("vocab_size", 1, 1, 1'000'000);
  return c;
}

std::map<std::string, std::vector<int64_t>> chronos_bolt_tensor_shapes(const ChronosBoltConfig& c) {
  std::map<std::string, std::vector<int64_t>> shapes;
  shapes["shared.weight"] = {c.vocab_size(), c.d_model};
  const int64_t output_width = static_cast<int64_t>(c.quantiles.size()) * c.prediction_length;
  add_residual_block(shapes, "input_patch_embedding.", 2 * c.input_patch_size, c.d_ff, c.d_model);
  add_residual_block(shapes, "output_patch_embedding.", c.d_model, c.d_ff, output_width);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string block = "encoder.block." + std::to_string(i) + ".layer.";
    add_attention(shapes, block + "0.SelfAttention.", c, i == 0);
    shapes[block + "0.layer_norm.weight"] = {c.d_model};
    add_feed_forward(shapes, block + "1.DenseReluDense.", c);
    shapes[block + "1.layer_norm.weight"] = {c.d_model};
  }
  shapes["encoder.final_layer_norm.weight"] = {c.d_model};
  for (int64_t i = 0; i < c.num_decoder_layers; ++i) {
    const std::string block = "decoder.block." + std::to_string(i) + ".layer.";
    add_attention(shapes, block + "0.SelfAttention.", c, i == 0);
    shapes[block + "0.layer_norm.weight"] = {c.d_model};
    add_attention(shapes, block + "1.EncDecAttention.", c, false);
    shapes[block + "1.layer_norm.weight"] = {c.d_model};
    add_feed_forward(shapes, block + "2.DenseReluDense.", c);
    shapes[block + "2.layer_norm.weight"] = {c.d_model};
  }
  shapes["decoder.final_layer_norm.weight"] = {c.d_model};
  return shapes;
}

std::map<std::string, std::vector<int64_t>> ChronosBoltConfig::tensor_shapes() const {
  return chronos_bolt_tensor_shapes(*this);
}

std::vector<std::pair<std::string, std::string>> ChronosBoltConfig::summary() const {
  std::ostringstream t5, chronos, levels;
  t5 << "d_model " << d_model << ", d_ff " << d_ff << ", " << num_heads << " heads x d_kv " << d_kv
     << ", " << num_layers << " + " << num_decoder_layers << " layers, "
     << (gated_feed_forward ? "gated " : "") << activation_name(activation);
  chronos << "context " << context_length << ", prediction " << prediction_length << ", patch "
          << input_patch_size << " / stride " << input_patch_stride << ", [REG] "
          << (use_reg_token ? "yes" : "no");
  for (double level : quantiles) levels << (levels.tellp() > 0 ? " " : "") << level;
  return {{"t5", t5.str()}, {"chronos", chronos.str()}, {"quantiles", levels.str()}};
}

}  // namespace crucible
