// Reading a Chronos-Bolt config.json the way transformers' T5Config and
// chronos' ChronosBoltConfig do, with bounds on every size.
#include "crucible/engine/chronos_bolt_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "crucible/common/quoted_text.h"

namespace crucible {
namespace {

using nlohmann::json;

class ConfigReader {
 public:
  ConfigReader(const std::string& label, const json& object, const std::string& prefix)
      : label_(label), object_(object), prefix_(prefix) {}

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw NativeConfigError(label_ + ": " + prefix_ + key + ": " + problem);
  }

  // Whether the key is there with a value other than null.
  bool has(const std::string& key) const {
    return object_.contains(key) && !object_.at(key).is_null();
  }

  bool is_null(const std::string& key) const {
    return object_.contains(key) && object_.at(key).is_null();
  }

  // Refuses a null for `key`: the official loader keeps None, which it cannot run with.
  void refuse_null(const std::string& key) const {
    if (is_null(key)) fail(key, "is null, which the official loader cannot run with");
  }

  // Adds to *defaults when `key` is missing or null: `value` (JSON) is used.
  void note_default(const std::string& key, const std::string& value, const std::string& origin,
                    std::vector<ConfigDefault>* defaults) const {
    if (defaults != nullptr && !has(key)) {
      defaults->push_back({prefix_ + key, value, origin, is_null(key)});
    }
  }

  // An integer in [low, high]; `fallback` when absent, or required when
  // `fallback` is null.
  int64_t integer(const std::string& key, const int64_t* fallback, int64_t low,
                  int64_t high) const {
    if (!has(key)) {
      if (fallback == nullptr) fail(key, is_null(key) ? "is null" : "is missing");
      return *fallback;
    }
    const json& value = object_.at(key);
    if (!value.is_number_integer()) fail(key, "must be an integer");
    if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(high)) {
      fail(key, "is " + value.dump() + ", over the limit " + std::to_string(high));
    }
    const int64_t number = value.get<int64_t>();
    if (number < low) fail(key, "is " + std::to_string(number) + ", below " + std::to_string(low));
    if (number > high) {
      fail(key, "is " + std::to_string(number) + ", over the limit " + std::to_string(high));
    }
    return number;
  }

  int64_t integer(const std::string& key, int64_t fallback, int64_t low, int64_t high) const {
    return integer(key, &fallback, low, high);
  }

  int64_t required_integer(const std::string& key, int64_t low, int64_t high) const {
    return integer(key, nullptr, low, high);
  }

  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!object_.at(key).is_boolean()) fail(key, "must be true or false");
    return object_.at(key).get<bool>();
  }

  std::string text(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!object_.at(key).is_string()) fail(key, "must be a string");
    return object_.at(key).get<std::string>();
  }

  double number(const std::string& key, double fallback) const {
    if (!has(key)) return fallback;
    if (!object_.at(key).is_number()) fail(key, "must be a number");
    return object_.at(key).get<double>();
  }

  const json& value(const std::string& key) const { return object_.at(key); }

 private:
  const std::string& label_;
  const json& object_;
  std::string prefix_;
};

Activation parse_activation(const ConfigReader& reader, const std::string& key,
                            const std::string& name) {
  if (name == "relu") return Activation::kRelu;
  if (name == "gelu_new") return Activation::kGeluTanh;
  if (name == "gelu") return Activation::kGelu;
  reader.fail(key, quoted_for_message(name, 40) + " is not supported (relu, gelu_new, gelu)");
}

std::vector<double> parse_model_quantiles(const ConfigReader& reader, int64_t max_count) {
  if (!reader.has("quantiles")) {
    reader.fail("quantiles", reader.is_null("quantiles") ? "is null" : "is missing");
  }
  const json& list = reader.value("quantiles");
  if (!list.is_array() || list.empty()) reader.fail("quantiles", "must be a non-empty list");
  if (static_cast<int64_t>(list.size()) > max_count) {
    reader.fail("quantiles", "has " + std::to_string(list.size()) + " levels, over the limit " +
                                 std::to_string(max_count));
  }
  std::vector<double> levels;
  for (const json& item : list) {
    if (!item.is_number()) reader.fail("quantiles", "must hold numbers");
    const double level = item.get<double>();
    if (!(level > 0.0 && level < 1.0)) reader.fail("quantiles", "levels must lie inside (0, 1)");
    if (!levels.empty() && level <= levels.back()) {
      reader.fail("quantiles", "levels must be strictly increasing");
    }
    levels.push_back(level);
  }
  return levels;
}

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

std::string ConfigDefault::description() const {
  return key + (null ? " is null: " : " missing: ") + value + " (" + origin + ")";
}

const char* activation_name(Activation activation) {
  switch (activation) {
    case Activation::kRelu:
      return "relu";
    case Activation::kGeluTanh:
      return "gelu_new";
    case Activation::kGelu:
      return "gelu";
  }
  return "relu";
}

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

bool is_ignorable_chronos_bolt_tensor(const std::string& name) {
  return name == "encoder.embed_tokens.weight" || name == "decoder.embed_tokens.weight" ||
         name == "lm_head.weight";
}

int64_t chronos_bolt_parameter_count(const ChronosBoltConfig& config) {
  int64_t total = 0;
  for (const auto& [name, shape] : chronos_bolt_tensor_shapes(config)) {
    int64_t count = 1;
    for (int64_t size : shape) count *= size;
    total += count;
  }
  return total;
}

}  // namespace crucible
