// Reading a Chronos-2 config.json the way chronos' Chronos2CoreConfig,
// Chronos2ForecastingConfig and Chronos2Model.__init__ do, with bounds on
// every size.
#include "engine/models/native/chronos2/chronos2_config.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/models/native/config_reader.h"

namespace crucible {
namespace {

using nlohmann::json;

// The fields of Chronos2ForecastingConfig: the official loader refuses any
// other key in chronos_config (Chronos2ForecastingConfig(**chronos_config)).
const char* const kChronosConfigKeys[] = {
    "context_length", "output_patch_size", "input_patch_size",   "input_patch_stride", "quantiles",
    "use_reg_token",  "use_arcsinh",       "max_output_patches", "time_encoding_scale"};

void refuse_unknown_chronos_keys(const std::string& label, const json& chronos_config) {
  for (const auto& item : chronos_config.items()) {
    const auto known =
        std::find(std::begin(kChronosConfigKeys), std::end(kChronosConfigKeys), item.key());
    if (known == std::end(kChronosConfigKeys)) {
      throw NativeConfigError(
          label + ": chronos_config: unknown key " + quoted_for_message(item.key(), 40) +
          " (the official Chronos2ForecastingConfig(**chronos_config) refuses it; its fields: "
          "context_length, output_patch_size, input_patch_size, input_patch_stride, quantiles, "
          "use_reg_token, use_arcsinh, max_output_patches, time_encoding_scale)");
    }
  }
}

// PretrainedConfig's attribute_map of Chronos2CoreConfig: a key saved under
// one of these names would silently override the field it aliases.
const std::pair<const char*, const char*> kAliases[] = {{"hidden_size", "d_model"},
                                                        {"num_attention_heads", "num_heads"},
                                                        {"num_hidden_layers", "num_layers"},
                                                        {"head_dim", "d_kv"}};

// Chronos2CoreConfig's fields and their checks (see parse_chronos2_config).
void parse_core_fields(const ConfigReader& core, const NativeConfigLimits& limits,
                       Chronos2Config& c, std::vector<ConfigDefault>* defaults) {
  for (const auto& [alias, field] : kAliases) {
    if (core.has(alias)) {
      core.fail(alias, std::string("is an alias of ") + field +
                           ", which transformers lets override it: save the model's own " + field +
                           " only");
    }
  }
  // Chronos2CoreConfig keeps a null it is given, and the model cannot be built with it.
  for (const char* key : {"d_model", "d_kv", "d_ff", "num_layers", "num_heads",
                          "layer_norm_epsilon", "feed_forward_proj", "rope_theta"}) {
    core.refuse_null(key);
  }
  const std::string origin = "Chronos2CoreConfig's default";
  for (const auto& [key, value] : {std::pair<const char*, int64_t>{"d_model", c.d_model},
                                   {"d_kv", c.d_kv},
                                   {"d_ff", c.d_ff},
                                   {"num_layers", c.num_layers},
                                   {"num_heads", c.num_heads}}) {
    core.note_default(key, std::to_string(value), origin, defaults);
  }
  core.note_default("layer_norm_epsilon", json(c.layer_norm_epsilon).dump(), origin, defaults);
  core.note_default("feed_forward_proj", "\"relu\"", origin, defaults);
  core.note_default("rope_theta", json(c.rope_theta).dump(), origin, defaults);
  c.d_model = core.integer("d_model", c.d_model, 1, limits.max_d_model);
  c.d_kv = core.integer("d_kv", c.d_kv, 2, limits.max_d_kv);
  // Chronos2RotaryEmbedding pairs the halves of each head's dimensions.
  if (c.d_kv % 2 != 0) core.fail("d_kv", "must be even (rotary position embedding halves it)");
  c.d_ff = core.integer("d_ff", c.d_ff, 1, limits.max_d_ff);
  c.num_layers = core.integer("num_layers", c.num_layers, 1, limits.max_layers);
  c.num_heads = core.integer("num_heads", c.num_heads, 1, limits.max_heads);
  const double epsilon = core.number("layer_norm_epsilon", c.layer_norm_epsilon);
  if (!(epsilon > 0.0 && epsilon < 1.0)) core.fail("layer_norm_epsilon", "must lie inside (0, 1)");
  c.layer_norm_epsilon = epsilon;
  const double theta = core.number("rope_theta", c.rope_theta);
  if (!(theta > 1.0 && std::isfinite(theta))) core.fail("rope_theta", "must be finite and over 1");
  c.rope_theta = theta;
  // nn.Dropout refuses a rate outside [0, 1] when the model is built (eval ignores it).
  if (core.has("dropout_rate")) {
    const double rate = core.number("dropout_rate", 0.0);
    if (!(rate >= 0.0 && rate <= 1.0)) core.fail("dropout_rate", "must lie in [0, 1]");
  }

  // Chronos2CoreConfig: dense_act_fn is the last "-" part of
  // feed_forward_proj, and a "gated" first part is asserted against; a
  // dense_act_fn or is_gated_act saved in the file then overrides both.
  const std::string projection = core.text("feed_forward_proj", "relu");
  if (projection.rfind("gated-", 0) == 0) {
    core.fail("feed_forward_proj", quoted_for_message(projection, 40) +
                                       ": Chronos-2 does not support a gated feed-forward");
  }
  const std::string implied = projection.substr(projection.rfind('-') + 1);
  const std::string act_key = core.has("dense_act_fn") ? "dense_act_fn" : "feed_forward_proj";
  c.activation = parse_activation(core, act_key, core.text("dense_act_fn", implied));
  if (core.boolean("is_gated_act", false)) {
    core.fail("is_gated_act", "is true: Chronos-2's FeedForward asserts it is not gated");
  }
  if (core.has("attn_implementation")) {
    const std::string attention = core.text("attn_implementation", "sdpa");
    if (attention != "eager" && attention != "sdpa") {
      core.fail("attn_implementation",
                quoted_for_message(attention, 40) + " is not supported (eager, sdpa)");
    }
  }
  // Replaced by the model's own (2 with the [REG] token), but must be sane when given.
  if (!core.is_null("vocab_size")) core.integer("vocab_size", 2, 1, 1'000'000);
}

// Chronos2ForecastingConfig's fields and the model's checks of them.
void parse_chronos_fields(const ConfigReader& chronos, const NativeConfigLimits& limits,
                          Chronos2Config& c, std::vector<ConfigDefault>* defaults) {
  c.context_length = chronos.required_integer("context_length", 1, limits.max_context_length);
  c.patch_size = chronos.required_integer("input_patch_size", 1, limits.max_patch_size);
  const int64_t output_patch_size =
      chronos.required_integer("output_patch_size", 1, limits.max_patch_size);
  if (output_patch_size != c.patch_size) {
    chronos.fail("output_patch_size", "is " + std::to_string(output_patch_size) +
                                          ", but Chronos2Model asserts it equals "
                                          "input_patch_size (" +
                                          std::to_string(c.patch_size) + ")");
  }
  c.input_patch_stride = chronos.required_integer("input_patch_stride", 1, limits.max_patch_size);
  // The official forward runs another stride, but its time encodings then
  // no longer match the patches' times; no released model does it and no
  // golden case checks it, so it is refused rather than scored unverified.
  if (c.input_patch_stride != c.patch_size) {
    chronos.fail("input_patch_stride",
                 "is " + std::to_string(c.input_patch_stride) + "; only input_patch_size (" +
                     std::to_string(c.patch_size) + ") is supported, as in the released models");
  }
  c.quantiles = parse_model_quantiles(chronos, limits.max_quantiles);
  for (double level : chronos2_unrolled_quantiles()) {
    if (c.quantile_index(level) < 0) {
      chronos.fail("quantiles",
                   "must hold 0.1, 0.2, ..., 0.9: Chronos2Pipeline.predict refuses "
                   "a model without its unrolled_quantiles");
    }
  }
  // The dataclass's defaults; a null is None, which the model reads as False.
  chronos.note_default("use_reg_token", "false", "the official default", defaults);
  if (!chronos.boolean("use_reg_token", false)) {
    chronos.fail("use_reg_token", "must be true: Chronos2Model.forward asserts a [REG] token");
  }
  chronos.note_default("use_arcsinh", "false", "the official default", defaults);
  c.use_arcsinh = chronos.boolean("use_arcsinh", false);
  // A null max_output_patches fails in the pipeline's min(); a null
  // time_encoding_scale in the forward's division.
  chronos.refuse_null("max_output_patches");
  chronos.refuse_null("time_encoding_scale");
  chronos.note_default("max_output_patches", "1", "the official default", defaults);
  c.max_output_patches = chronos.integer("max_output_patches", int64_t{1}, 1,
                                         limits.max_prediction_length / c.patch_size);
  // The long-horizon unroll replaces the last max_output_patches x
  // patch_size context values by known future values
  // (_slide_context_and_future_covariates), which needs that many.
  if (c.context_length < c.prediction_length()) {
    chronos.fail("context_length",
                 "is " + std::to_string(c.context_length) + ", under max_output_patches x " +
                     "output_patch_size (" + std::to_string(c.prediction_length()) +
                     "), which the pipeline's long-horizon unroll slides through the context");
  }
  chronos.note_default("time_encoding_scale", std::to_string(c.context_length),
                       "context_length, as Chronos2Model sets it", defaults);
  c.time_encoding_scale =
      chronos.integer("time_encoding_scale", c.context_length, 1, int64_t{1} << 40);
}

void add_attention(std::map<std::string, std::vector<int64_t>>& shapes, const std::string& prefix,
                   const Chronos2Config& c) {
  const int64_t inner = c.num_heads * c.d_kv;
  for (const char* name : {"q", "k", "v"}) shapes[prefix + name + ".weight"] = {inner, c.d_model};
  shapes[prefix + "o.weight"] = {c.d_model, inner};
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

}  // namespace

const std::vector<double>& chronos2_unrolled_quantiles() {
  static const std::vector<double> levels = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  return levels;
}

int64_t Chronos2Config::quantile_index(double level) const {
  const auto found = std::find(quantiles.begin(), quantiles.end(), level);
  return found == quantiles.end() ? -1 : found - quantiles.begin();
}

std::string Chronos2Config::key() const {
  std::ostringstream text;
  text.precision(17);
  text << "d_model=" << d_model << " d_kv=" << d_kv << " d_ff=" << d_ff << " layers=" << num_layers
       << " heads=" << num_heads << " eps=" << layer_norm_epsilon
       << " act=" << activation_name(activation) << " rope_theta=" << rope_theta
       << " context=" << context_length << " patch=" << patch_size << "/" << input_patch_stride
       << " arcsinh=" << use_arcsinh << " output_patches=" << max_output_patches
       << " time_scale=" << time_encoding_scale << " quantiles=";
  for (double level : quantiles) text << level << ",";
  return text.str();
}

std::vector<std::pair<std::string, std::string>> Chronos2Config::summary() const {
  std::ostringstream core, chronos, levels;
  core << "d_model " << d_model << ", d_ff " << d_ff << ", " << num_heads << " heads x d_kv "
       << d_kv << ", " << num_layers << " layers, " << activation_name(activation)
       << ", rope_theta " << rope_theta;
  chronos << "context " << context_length << ", patch " << patch_size << " / stride "
          << input_patch_stride << ", " << max_output_patches << " output patches ("
          << prediction_length() << " steps), time scale " << time_encoding_scale << ", arcsinh "
          << (use_arcsinh ? "yes" : "no");
  for (double level : quantiles) levels << (levels.tellp() > 0 ? " " : "") << level;
  return {{"core", core.str()}, {"chronos", chronos.str()}, {"quantiles", levels.str()}};
}

std::map<std::string, std::vector<int64_t>> Chronos2Config::tensor_shapes() const {
  return chronos2_tensor_shapes(*this);
}

Chronos2Config parse_chronos2_config(const std::string& label, const std::string& json_text,
                                     const NativeConfigLimits& limits,
                                     std::vector<ConfigDefault>* defaults) {
  const json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) throw NativeConfigError(label + ": not valid JSON");
  if (!root.is_object()) throw NativeConfigError(label + ": not a JSON object");
  Chronos2Config c;
  parse_core_fields(ConfigReader(label, root, ""), limits, c, defaults);
  if (!root.contains("chronos_config") || !root.at("chronos_config").is_object()) {
    ConfigReader(label, root, "").fail("chronos_config", "is missing or not an object");
  }
  refuse_unknown_chronos_keys(label, root.at("chronos_config"));
  parse_chronos_fields(ConfigReader(label, root.at("chronos_config"), "chronos_config."), limits, c,
                       defaults);
  return c;
}

std::map<std::string, std::vector<int64_t>> chronos2_tensor_shapes(const Chronos2Config& c) {
  std::map<std::string, std::vector<int64_t>> shapes;
  shapes["shared.weight"] = {2, c.d_model};  // [PAD] and [REG]
  const int64_t output_width = static_cast<int64_t>(c.quantiles.size()) * c.patch_size;
  // x3: the time encoding, the patch and its observed mask.
  add_residual_block(shapes, "input_patch_embedding.", 3 * c.patch_size, c.d_ff, c.d_model);
  add_residual_block(shapes, "output_patch_embedding.", c.d_model, c.d_ff, output_width);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string block = "encoder.block." + std::to_string(i) + ".layer.";
    add_attention(shapes, block + "0.self_attention.", c);
    shapes[block + "0.layer_norm.weight"] = {c.d_model};
    add_attention(shapes, block + "1.self_attention.", c);
    shapes[block + "1.layer_norm.weight"] = {c.d_model};
    shapes[block + "2.mlp.wi.weight"] = {c.d_ff, c.d_model};
    shapes[block + "2.mlp.wo.weight"] = {c.d_model, c.d_ff};
    shapes[block + "2.layer_norm.weight"] = {c.d_model};
  }
  shapes["encoder.final_layer_norm.weight"] = {c.d_model};
  return shapes;
}

}  // namespace crucible
