// Chronos2Model.forward as a stacked forward: every weight carries a leading
// model axis G, every activation is [G, S, ...]. Each function matches one
// piece of chronos-forecasting 2.3's chronos2/model.py or layers.py (or
// chronos_bolt.py's InstanceNorm and Patch) in eval mode (dropout off,
// float32), which its comment names.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <string>

#include "engine/models/native/chronos2/chronos2.h"

namespace crucible {
namespace {

// Runs `function` on each model's slice of x [G, ...] and stacks the results:
// for elementwise transcendental functions, whose CPU kernels round the
// elements past their last full vector differently, at a position that
// depends on the tensor's size (see apply_activation).
template <typename Function>
at::Tensor per_model(const at::Tensor& x, Function function) {
  std::vector<at::Tensor> parts;
  parts.reserve(x.size(0));
  for (int64_t g = 0; g < x.size(0); ++g) parts.push_back(function(x[g]));
  return at::stack(parts);
}

// InstanceNorm.forward with a known loc_scale: (x - loc) / scale, then arcsinh when configured.
at::Tensor normalise(const at::Tensor& x, const InstanceScale& ls, const Chronos2Config& config) {
  const at::Tensor scaled = (x - ls.loc) / ls.scale;
  if (!config.use_arcsinh) return scaled;
  return per_model(scaled, [](const at::Tensor& values) { return at::asinh(values); });
}

// InstanceNorm.inverse: sinh when configured, then x * scale + loc.
at::Tensor denormalise(const at::Tensor& x, const InstanceScale& ls, const Chronos2Config& config) {
  const at::Tensor unsquashed =
      config.use_arcsinh ? per_model(x, [](const at::Tensor& values) { return at::sinh(values); })
                         : x;
  return unsquashed * ls.scale + ls.loc;
}

// The time encoding of _prepare_patched_context / _prepare_patched_future:
// arange(first, first + patches * patch_size) / time_encoding_scale (float32),
// laid out [patches, patch_size].
at::Tensor time_encoding(const Chronos2Config& config, int64_t first, int64_t patches,
                         const at::TensorOptions& options) {
  const at::Tensor steps =
      at::arange(first, first + patches * config.patch_size, options.dtype(at::kFloat));
  return steps.div(config.time_encoding_scale).view({patches, config.patch_size});
}

// Chronos2RotaryEmbedding.forward for positions 0 .. length-1: cos and sin,
// each float32 [length, d_kv], computed with the reference's float32 operations.
std::pair<at::Tensor, at::Tensor> rotary_cos_sin(const Chronos2Config& config, int64_t length,
                                                 const at::TensorOptions& options) {
  const at::TensorOptions floats = options.dtype(at::kFloat);
  const at::Tensor exponents =
      at::arange(0, config.d_kv, 2, options.dtype(at::kLong)).to(at::kFloat).div(config.d_kv);
  const at::Tensor inverse_frequencies = at::reciprocal(at::pow(config.rope_theta, exponents));
  const at::Tensor frequencies =
      at::arange(length, floats).unsqueeze(1) * inverse_frequencies.unsqueeze(0);
  const at::Tensor angles = at::cat({frequencies, frequencies}, -1);
  return {angles.cos(), angles.sin()};
}

// Chronos2RotaryEmbedding.apply_rotary_pos_emb on x [..., L, d_kv]: x cos + rotate_half(x) sin.
at::Tensor rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

// MHA.forward as self-attention over the second-to-last axis of x [G, A, L, d]
// (A: the axis attention does not mix), with RoPE on q and k when `rotary`
// is set, additive `mask` broadcasting to [G, A, H, L, L], no 1/sqrt(d_kv)
// scaling, softmax in float32 -> [G, A, L, d].
at::Tensor self_attention(const StackedWeights& w, const std::string& prefix,
                          const Chronos2Config& config, const at::Tensor& x, const at::Tensor& mask,
                          const std::pair<at::Tensor, at::Tensor>* rotary) {
  const int64_t models = x.size(0), outer = x.size(1), length = x.size(2);
  const auto heads = [&](const at::Tensor& projected) {  // -> [G, A, H, L, d_kv]
    return projected.view({models, outer, length, config.num_heads, config.d_kv})
        .permute({0, 1, 3, 2, 4});
  };
  at::Tensor q = heads(stacked_linear(x, stacked_weight(w, prefix + "q.weight")));
  at::Tensor k = heads(stacked_linear(x, stacked_weight(w, prefix + "k.weight")));
  const at::Tensor v = heads(stacked_linear(x, stacked_weight(w, prefix + "v.weight")));
  if (rotary != nullptr) {
    q = rotate(q, rotary->first, rotary->second);
    k = rotate(k, rotary->first, rotary->second);
  }
  at::Tensor scores = per_model_matmul(q, k.transpose(-1, -2));
  scores.add_(mask);
  const at::Tensor mixed = per_model_matmul(at::softmax(scores, -1), v);
  const at::Tensor merged = mixed.permute({0, 1, 3, 2, 4})
                                .reshape({models, outer, length, config.num_heads * config.d_kv});
  return stacked_linear(merged, stacked_weight(w, prefix + "o.weight"));
}

// (1 - mask) * float32 min: the additive form of a 0/1 mask.
at::Tensor additive(const at::Tensor& mask) {
  return (1.0 - mask) * std::numeric_limits<float>::lowest();
}

// Chronos2Encoder.forward: embeds [G, S, L, d], attention_mask [G, S, L]
// (1 = attend), group_ids [S] -> the final-layer-normed states [G, S, L, d].
at::Tensor encoder(const StackedWeights& w, const Chronos2Config& config, const at::Tensor& embeds,
                   const at::Tensor& attention_mask, const at::Tensor& group_ids) {
  const int64_t length = embeds.size(2);
  const double eps = config.layer_norm_epsilon;
  const auto rotary = rotary_cos_sin(config, length, embeds.options());
  // _expand_and_invert_time_attention_mask: keys masked per row -> [G, S, 1, 1, L].
  const at::Tensor time_mask = additive(attention_mask).unsqueeze(2).unsqueeze(2);
  // _construct_and_invert_group_time_mask: at position t, row q attends row b
  // iff they share a group and b is observed at t -> [G, L, 1, S(q), S(b)].
  const at::Tensor same_group =
      (group_ids.unsqueeze(1) == group_ids.unsqueeze(0)).to(embeds.scalar_type());
  const at::Tensor group_time_mask =
      additive(same_group.view({1, 1, group_ids.size(0), group_ids.size(0)}) *
               attention_mask.permute({0, 2, 1}).unsqueeze(2))
          .unsqueeze(2);
  at::Tensor hidden = embeds;
  for (int64_t i = 0; i < config.num_layers; ++i) {
    const std::string block = "encoder.block." + std::to_string(i) + ".layer.";
    // TimeSelfAttention: along each row's sequence, with RoPE.
    at::Tensor normed =
        stacked_rms_norm(hidden, stacked_weight(w, block + "0.layer_norm.weight"), eps);
    hidden =
        hidden + self_attention(w, block + "0.self_attention.", config, normed, time_mask, &rotary);
    // GroupSelfAttention: across the rows at each position (time and batch axes flipped).
    const at::Tensor flipped = hidden.transpose(1, 2);
    normed = stacked_rms_norm(flipped, stacked_weight(w, block + "1.layer_norm.weight"), eps);
    hidden = (flipped + self_attention(w, block + "1.self_attention.", config, normed,
                                       group_time_mask, nullptr))
                 .transpose(1, 2);
    // FeedForward: x + wo(act(wi(norm(x)))).
    normed = stacked_rms_norm(hidden, stacked_weight(w, block + "2.layer_norm.weight"), eps);
    const at::Tensor inner = apply_activation(
        stacked_linear(normed, stacked_weight(w, block + "2.mlp.wi.weight")), config.activation);
    hidden = hidden + stacked_linear(inner, stacked_weight(w, block + "2.mlp.wo.weight"));
  }
  return stacked_rms_norm(hidden, stacked_weight(w, "encoder.final_layer_norm.weight"), eps);
}

// Chronos2Model._prepare_patched_future: the future patches' inputs
// [G, S, n, 3 x patch_size] (time encoding, normalised known values, their
// mask), known values right-padded with 0 to n x patch_size.
at::Tensor patched_future(const Chronos2Config& config, const at::Tensor& future_covariates,
                          const InstanceScale& ls, int64_t models, int64_t series,
                          int64_t patches) {
  const int64_t width = patches * config.patch_size;
  const at::TensorOptions options = ls.loc.options();
  at::Tensor values = at::zeros({models, series, width}, options);
  at::Tensor mask = at::zeros({models, series, width}, options);
  if (future_covariates.defined() && future_covariates.size(-1) > 0) {
    const int64_t known = future_covariates.size(-1);
    const at::Tensor normalised = normalise(future_covariates, ls, config);
    const at::Tensor observed = normalised.isnan().logical_not().to(at::kFloat);
    values.narrow(-1, 0, known)
        .copy_(at::where(observed > 0.0, normalised, at::zeros({}, options)));
    mask.narrow(-1, 0, known).copy_(observed);
  }
  const at::Tensor time = time_encoding(config, 0, patches, options)
                              .view({1, 1, patches, config.patch_size})
                              .expand({models, series, patches, config.patch_size});
  const std::vector<int64_t> patched = {models, series, patches, config.patch_size};
  return at::cat({time, values.view(patched), mask.view(patched)}, -1);
}

}  // namespace

Chronos2Stack stack_chronos2_weights(const Chronos2Config& config,
                                     const std::vector<const NativeWeights*>& models) {
  Chronos2Stack stack;
  stack.config = config;
  stack.models = static_cast<int64_t>(models.size());
  for (const auto& [name, shape] : chronos2_tensor_shapes(config)) {
    std::vector<at::Tensor> parts;
    parts.reserve(models.size());
    for (const NativeWeights* model : models) parts.push_back(model->at(name));
    stack.weights[name] = at::stack(parts);
  }
  return stack;
}

at::Tensor chronos2_forward(const Chronos2Stack& stack, const at::Tensor& full_context,
                            const at::Tensor& group_ids, const at::Tensor& future_covariates,
                            int64_t num_output_patches) {
  const Chronos2Config& c = stack.config;
  const StackedWeights& w = stack.weights;
  const int64_t models = full_context.size(0), series = full_context.size(1);
  // _prepare_patched_context: cut, normalise, patch, mask, time-encode.
  at::Tensor context = full_context;
  if (context.size(-1) > c.context_length) {
    context = context.narrow(-1, context.size(-1) - c.context_length, c.context_length);
  }
  const at::Tensor observed = context.isnan().logical_not().to(at::kFloat);
  const InstanceScale ls = instance_scale(context);
  const at::Tensor scaled = normalise(context, ls, c);
  const at::Tensor patched_mask =
      at::nan_to_num(left_padded_patches(observed, c.patch_size, c.input_patch_stride), 0.0);
  const at::Tensor patched_values =
      at::where(patched_mask > 0.0, left_padded_patches(scaled, c.patch_size, c.input_patch_stride),
                at::zeros({}, scaled.options()));
  const int64_t patches = patched_mask.size(2);
  const at::Tensor context_time =
      time_encoding(c, -patches * c.patch_size, patches, scaled.options())
          .view({1, 1, patches, c.patch_size})
          .expand({models, series, patches, c.patch_size});
  const at::Tensor context_embeds =
      stacked_residual_block(w, "input_patch_embedding.", c.activation,
                             at::cat({context_time, patched_values, patched_mask}, -1));
  // encode: the [REG] token, then the future patches, all attended.
  const at::Tensor reg = stacked_weight(w, "shared.weight").select(1, 1);  // [G, d]
  const at::Tensor future_embeds = stacked_residual_block(
      w, "input_patch_embedding.", c.activation,
      patched_future(c, future_covariates, ls, models, series, num_output_patches));
  const at::Tensor embeds = at::cat(
      {context_embeds, reg.view({models, 1, 1, c.d_model}).expand({models, series, 1, c.d_model}),
       future_embeds},
      2);
  const at::Tensor attention_mask =
      at::cat({(patched_mask.sum(-1) > 0).to(at::kFloat),
               at::ones({models, series, 1 + num_output_patches}, scaled.options())},
              -1);
  const at::Tensor hidden = encoder(w, c, embeds, attention_mask, group_ids);
  // forward: the last num_output_patches states through the output block,
  // "b n (q p) -> b q (n p)", then InstanceNorm.inverse.
  const int64_t quantiles = static_cast<int64_t>(c.quantiles.size());
  const at::Tensor forecast = stacked_residual_block(
      w, "output_patch_embedding.", c.activation,
      hidden.narrow(2, hidden.size(2) - num_output_patches, num_output_patches));
  const at::Tensor by_quantile =
      forecast.view({models, series, num_output_patches, quantiles, c.patch_size})
          .permute({0, 1, 3, 2, 4})
          .reshape({models, series, quantiles, num_output_patches * c.patch_size});
  return denormalise(by_quantile, {ls.loc.unsqueeze(-1), ls.scale.unsqueeze(-1)}, c);
}

}  // namespace crucible
