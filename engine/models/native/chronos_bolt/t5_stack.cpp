#include "engine/models/native/chronos_bolt/t5_stack.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace crucible {
namespace {

// T5Attention.forward without a cache: q from `queries`, k and v from `keys`
// (both [G, S, T, d]), scores = q k^T (T5 does not scale by 1/sqrt(d_kv)),
// plus the additive `bias` (position bias and mask), softmax, weighted values,
// output projection -> [G, S, Tq, d].
at::Tensor attention(const StackedWeights& w, const std::string& prefix,
                     const ChronosBoltConfig& config, const at::Tensor& queries,
                     const at::Tensor& keys, const at::Tensor& bias) {
  const int64_t models = queries.size(0), series = queries.size(1);
  const auto heads = [&](const at::Tensor& projected) {
    // [G, S, T, H * d_kv] -> [G, S, H, T, d_kv]
    return projected.view({models, series, projected.size(2), config.num_heads, config.d_kv})
        .permute({0, 1, 3, 2, 4});
  };
  const at::Tensor q = heads(stacked_linear(queries, stacked_weight(w, prefix + "q.weight")));
  const at::Tensor k = heads(stacked_linear(keys, stacked_weight(w, prefix + "k.weight")));
  const at::Tensor v = heads(stacked_linear(keys, stacked_weight(w, prefix + "v.weight")));
  at::Tensor scores = per_model_matmul(q, k.transpose(-1, -2));
  scores.add_(bias);
  const at::Tensor context = per_model_matmul(at::softmax(scores, -1), v);
  const at::Tensor merged =
      context.permute({0, 1, 3, 2, 4})
          .reshape({models, series, queries.size(2), config.num_heads * config.d_kv});
  return stacked_linear(merged, stacked_weight(w, prefix + "o.weight"));
}

// T5Attention as cross-attention from the decoder's one position, computed
// without projecting every encoder position: with per-head weights Wk_h, Wv_h
// ([d_kv, d]) and encoder states E ([T, d]),
//   q_h . (E Wk_h^T)^T = (q_h Wk_h) E^T   and   p_h (E Wv_h^T) = (p_h E) Wv_h^T,
// so the cost is O(T d) per head instead of O(T d d_kv). Equal to the
// reference up to float rounding. query [G, S, 1, d], encoder [G, S, T, d],
// bias [G, S, 1, 1, T] -> [G, S, 1, d].
at::Tensor single_query_cross_attention(const StackedWeights& w, const std::string& prefix,
                                        const ChronosBoltConfig& config, const at::Tensor& query,
                                        const at::Tensor& encoder, const at::Tensor& bias) {
  const int64_t models = query.size(0), series = query.size(1), heads = config.num_heads;
  const auto per_head = [&](const std::string& name) {  // [G, H * d_kv, d] -> [G, H, d_kv, d]
    return stacked_weight(w, prefix + name).view({models, heads, config.d_kv, config.d_model});
  };
  const at::Tensor q = stacked_linear(query, stacked_weight(w, prefix + "q.weight"))
                           .view({models, series, heads, 1, config.d_kv});
  const at::Tensor q_keys =
      per_model_matmul(q, per_head("k.weight").unsqueeze(1));  // [G, S, H, 1, d]
  at::Tensor scores = per_model_matmul(q_keys.squeeze(3), encoder.transpose(-1, -2))
                          .unsqueeze(3);  // [G, S, H, 1, T]
  scores.add_(bias);
  const at::Tensor mixed =
      per_model_matmul(at::softmax(scores, -1).squeeze(3), encoder);  // [G, S, H, d]
  const at::Tensor values =
      per_model_matmul(mixed.unsqueeze(3), per_head("v.weight").transpose(-1, -2).unsqueeze(1));
  return stacked_linear(values.reshape({models, series, 1, heads * config.d_kv}),
                        stacked_weight(w, prefix + "o.weight"));
}

// T5DenseActDense / T5DenseGatedActDense: wo(act(wi x)) or wo(act(wi_0 x) * wi_1 x).
at::Tensor feed_forward(const StackedWeights& w, const std::string& prefix,
                        const ChronosBoltConfig& config, const at::Tensor& x) {
  at::Tensor hidden;
  if (config.gated_feed_forward) {
    hidden = apply_activation(stacked_linear(x, stacked_weight(w, prefix + "wi_0.weight")),
                              config.activation) *
             stacked_linear(x, stacked_weight(w, prefix + "wi_1.weight"));
  } else {
    hidden = apply_activation(stacked_linear(x, stacked_weight(w, prefix + "wi.weight")),
                              config.activation);
  }
  return stacked_linear(hidden, stacked_weight(w, prefix + "wo.weight"));
}

// T5Attention.compute_bias: the first block's bucket table looked up for every
// (query, key) pair -> [G, 1, H, Tq, Tk].
at::Tensor position_bias(const StackedWeights& w, const std::string& table_name,
                         const ChronosBoltConfig& config, int64_t query_length, int64_t key_length,
                         bool bidirectional) {
  const at::Tensor& table = stacked_weight(w, table_name);  // [G, buckets, H]
  const at::Tensor buckets = t5_relative_position_buckets(query_length, key_length, bidirectional,
                                                          config.relative_attention_num_buckets,
                                                          config.relative_attention_max_distance)
                                 .to(table.device());
  return table.index_select(1, buckets.flatten())
      .view({table.size(0), query_length, key_length, config.num_heads})
      .permute({0, 3, 1, 2})
      .unsqueeze(1);
}

}  // namespace

at::Tensor t5_relative_position_buckets(int64_t query_length, int64_t key_length,
                                        bool bidirectional, int64_t num_buckets,
                                        int64_t max_distance) {
  const at::Tensor query = at::arange(query_length, at::kLong).unsqueeze(1);
  const at::Tensor key = at::arange(key_length, at::kLong).unsqueeze(0);
  at::Tensor relative = key - query;
  at::Tensor buckets = at::zeros_like(relative);
  if (bidirectional) {
    num_buckets /= 2;
    buckets += (relative > 0).to(at::kLong) * num_buckets;
    relative = relative.abs();
  } else {
    relative = -at::min(relative, at::zeros_like(relative));
  }
  // Half the buckets are exact distances; the rest grow logarithmically up to
  // max_distance. Same float32 operations, in the same order, as the reference.
  const int64_t max_exact = num_buckets / 2;
  const at::Tensor is_small = relative < max_exact;
  const at::Tensor scaled = at::log(relative.clamp_min(1).to(at::kFloat) / max_exact) /
                            std::log(static_cast<double>(max_distance) / max_exact) *
                            (num_buckets - max_exact);
  const at::Tensor large = (max_exact + scaled.to(at::kLong)).clamp_max(num_buckets - 1);
  return buckets + at::where(is_small, relative, large);
}

at::Tensor additive_attention_mask(const at::Tensor& mask) {
  const float lowest = std::numeric_limits<float>::lowest();
  return ((1.0 - mask) * lowest).unsqueeze(2).unsqueeze(2);
}

at::Tensor t5_encoder(const StackedWeights& w, const ChronosBoltConfig& config,
                      const at::Tensor& embeds, const at::Tensor& mask) {
  const int64_t length = embeds.size(2);
  // The first block's position bias, plus the mask, is shared by every block.
  const at::Tensor bias =
      position_bias(w, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                    config, length, length, /*bidirectional=*/true) +
      additive_attention_mask(mask);
  at::Tensor hidden = embeds;
  for (int64_t i = 0; i < config.num_layers; ++i) {
    const std::string block = "encoder.block." + std::to_string(i) + ".layer.";
    const double eps = config.layer_norm_epsilon;
    at::Tensor normed =
        stacked_rms_norm(hidden, stacked_weight(w, block + "0.layer_norm.weight"), eps);
    hidden = hidden + attention(w, block + "0.SelfAttention.", config, normed, normed, bias);
    normed = stacked_rms_norm(hidden, stacked_weight(w, block + "1.layer_norm.weight"), eps);
    hidden = hidden + feed_forward(w, block + "1.DenseReluDense.", config, normed);
  }
  return stacked_rms_norm(hidden, stacked_weight(w, "encoder.final_layer_norm.weight"),
                          config.layer_norm_epsilon);
}

at::Tensor t5_decoder_start_step(const StackedWeights& w, const ChronosBoltConfig& config,
                                 const at::Tensor& encoder_states, const at::Tensor& mask) {
  const int64_t models = encoder_states.size(0), series = encoder_states.size(1);
  const at::Tensor start =
      stacked_weight(w, "shared.weight").select(1, config.decoder_start_token_id);  // [G, d]
  at::Tensor hidden = start.view({models, 1, 1, config.d_model}).expand({models, series, 1, -1});
  // One decoder position: its causal self-attention sees only itself.
  const at::Tensor self_bias = position_bias(
      w, "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", config, 1, 1,
      /*bidirectional=*/false);
  const at::Tensor cross_bias = additive_attention_mask(mask);  // no position bias across
  for (int64_t i = 0; i < config.num_decoder_layers; ++i) {
    const std::string block = "decoder.block." + std::to_string(i) + ".layer.";
    const double eps = config.layer_norm_epsilon;
    at::Tensor normed =
        stacked_rms_norm(hidden, stacked_weight(w, block + "0.layer_norm.weight"), eps);
    hidden = hidden + attention(w, block + "0.SelfAttention.", config, normed, normed, self_bias);
    normed = stacked_rms_norm(hidden, stacked_weight(w, block + "1.layer_norm.weight"), eps);
    hidden = hidden + single_query_cross_attention(w, block + "1.EncDecAttention.", config, normed,
                                                   encoder_states, cross_bias);
    normed = stacked_rms_norm(hidden, stacked_weight(w, block + "2.layer_norm.weight"), eps);
    hidden = hidden + feed_forward(w, block + "2.DenseReluDense.", config, normed);
  }
  return stacked_rms_norm(hidden, stacked_weight(w, "decoder.final_layer_norm.weight"),
                          config.layer_norm_epsilon);
}

}  // namespace crucible
