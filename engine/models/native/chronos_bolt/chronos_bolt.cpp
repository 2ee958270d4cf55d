#include "engine/models/native/chronos_bolt/chronos_bolt.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

#include "crucible/common/safetensors.h"
#include "crucible/common/safetensors_shards.h"
#include "crucible/engine/models/native/native_model.h"

namespace crucible {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// The context as the pipeline builds it: each series' true input, left-padded
// with NaN to the longest (cut to context_length), float32 [S, T] on the CPU.
at::Tensor left_padded_contexts(const at::Tensor& inputs, const at::Tensor& input_lengths,
                                int64_t context_length) {
  const int64_t series = inputs.size(0);
  const at::Tensor lengths = input_lengths.to(at::kLong).clamp(0, inputs.size(1)).contiguous();
  const int64_t longest = series == 0 ? 0 : lengths.max().item<int64_t>();
  const int64_t width = std::max<int64_t>(1, std::min(longest, context_length));
  at::Tensor context = at::full({series, width}, kNaN, at::kFloat);
  const auto source = inputs.to(at::kFloat).contiguous();
  const int64_t* length_of = lengths.data_ptr<int64_t>();
  for (int64_t j = 0; j < series; ++j) {
    const int64_t length = length_of[j];
    const int64_t kept = std::min(length, width);
    if (kept == 0) continue;
    context[j].narrow(0, width - kept, kept).copy_(source[j].narrow(0, length - kept, kept));
  }
  return context;
}

// predict_quantiles' level selection, forecasts [..., Q_model] -> [..., Q]:
// indexing when every task level is one of the model's, else torch.quantile
// (linear) over the model's values with the first and last repeated at the
// ends, which extends them flat past the model's outer levels.
at::Tensor select_levels(const at::Tensor& forecasts, const std::vector<double>& model_levels,
                         const std::vector<double>& levels) {
  std::vector<int64_t> indices;
  for (double level : levels) {
    const auto found = std::find(model_levels.begin(), model_levels.end(), level);
    if (found == model_levels.end()) break;
    indices.push_back(found - model_levels.begin());
  }
  const at::Device device = forecasts.device();
  if (indices.size() == levels.size()) {
    return forecasts.index_select(-1, at::tensor(indices, at::kLong).to(device));
  }
  const int64_t last = forecasts.size(-1) - 1;
  const at::Tensor augmented =
      at::cat({forecasts.narrow(-1, 0, 1), forecasts, forecasts.narrow(-1, last, 1)}, -1);
  const at::Tensor sorted = std::get<0>(augmented.sort(-1));
  // torch.quantile: ranks = q * (n - 1) in the levels' dtype (float32 here).
  std::vector<float> float_levels(levels.begin(), levels.end());
  const at::Tensor ranks =
      at::tensor(float_levels, at::kFloat) * static_cast<int64_t>(augmented.size(-1) - 1);
  const at::Tensor below = ranks.to(at::kLong);
  const at::Tensor weights = (ranks - below).to(device);
  const at::Tensor above = ranks.ceil().to(at::kLong);
  const at::Tensor values = at::lerp(sorted.index_select(-1, below.to(device)),
                                     sorted.index_select(-1, above.to(device)), weights);
  // A row holding NaN gives NaN at every level, as torch.quantile does.
  return at::where(augmented.isnan().any(-1, /*keepdim=*/true),
                   at::full({}, kNaN, values.options()), values);
}

// The encoder positions a forward over `width` context steps has: patches of
// the (cut, left-padded) context, and the [REG] token.
int64_t encoder_positions(const ChronosBoltConfig& c, int64_t width) {
  const int64_t size = c.input_patch_size;
  const int64_t padded = (std::min(width, c.context_length) + size - 1) / size * size;
  return (padded - size) / c.input_patch_stride + 1 + (c.use_reg_token ? 1 : 0);
}

void count_forward(const ChronosBoltConfig& c, const at::Tensor& context, ForecastWork& work) {
  const int64_t series_steps = context.size(0) * context.size(1);
  const int64_t positions = encoder_positions(c, context.size(-1));
  ++work.forwards;
  work.series_steps += series_steps;
  work.positions += series_steps * positions;
  work.position_pairs += series_steps * positions * positions;
}

}  // namespace

double chronos_bolt_flops(const ChronosBoltConfig& c, const ForecastWork& work) {
  const double d = c.d_model, ff = c.d_ff, inner = c.num_heads * c.d_kv;
  const double patch = 2.0 * c.input_patch_size;
  const double out = static_cast<double>(c.quantiles.size()) * c.prediction_length;
  const double ff_matrices = c.gated_feed_forward ? 3 : 2;
  // Per encoder position: the input block, then per layer q, k, v, o and the feed-forward.
  const double per_position =
      patch * ff + ff * d + patch * d + c.num_layers * (4 * d * inner + ff_matrices * d * ff);
  // Per position pair: q k^T and the weighted values, per encoder layer.
  const double per_pair = c.num_layers * 2 * inner;
  // Per series and forward: the decoder (self-attention, q and o of the
  // cross-attention, per-head key and value mixing, feed-forward) and the output block.
  const double per_series =
      c.num_decoder_layers * (8 * d * inner + ff_matrices * d * ff) + d * ff + ff * out + d * out;
  // Per position and decoder layer: the reassociated cross-attention reads
  // each encoder state twice per head.
  const double per_position_decoder = c.num_decoder_layers * 2 * c.num_heads * d;
  return 2.0 * (work.positions * (per_position + per_position_decoder) +
                work.position_pairs * per_pair + work.series_steps * per_series);
}

ChronosBoltStack stack_chronos_bolt_weights(const ChronosBoltConfig& config,
                                            const std::vector<const NativeWeights*>& models) {
  ChronosBoltStack stack;
  stack.config = config;
  stack.models = static_cast<int64_t>(models.size());
  for (const auto& [name, shape] : chronos_bolt_tensor_shapes(config)) {
    std::vector<at::Tensor> parts;
    parts.reserve(models.size());
    for (const NativeWeights* model : models) parts.push_back(model->at(name));
    stack.weights[name] = at::stack(parts);
  }
  return stack;
}

ChronosBoltStack load_chronos_bolt_stack(const ChronosBoltConfig& config,
                                         const std::vector<std::string>& folders,
                                         const c10::Device& device) {
  std::vector<NativeWeights> loaded;
  for (const std::string& folder : folders) {
    loaded.push_back(load_native_weights(config, folder, device));
  }
  std::vector<const NativeWeights*> models;
  for (const NativeWeights& weights : loaded) models.push_back(&weights);
  return stack_chronos_bolt_weights(config, models);
}

at::Tensor chronos_bolt_forward(const ChronosBoltStack& stack, const at::Tensor& full_context) {
  const ChronosBoltConfig& c = stack.config;
  const StackedWeights& w = stack.weights;
  const int64_t models = full_context.size(0), series = full_context.size(1);
  at::Tensor context = full_context;
  if (context.size(-1) > c.context_length) {
    context = context.narrow(-1, context.size(-1) - c.context_length, c.context_length);
  }
  const at::Tensor observed = context.isnan().logical_not().to(at::kFloat);

  // InstanceNorm: NaN-aware mean and standard deviation per series; a
  // constant series is scaled by eps instead of 0 (chronos 1.5; 2.x uses
  // |mean| + eps).
  const auto [loc, scale] = instance_scale(context);
  const at::Tensor scaled = (context - loc) / scale;

  // Patches of values (0 where unobserved) beside their observed masks; a
  // patch with nothing observed is masked out of attention.
  const at::Tensor patched_mask =
      at::nan_to_num(left_padded_patches(observed, c.input_patch_size, c.input_patch_stride), 0.0);
  const at::Tensor patched_values = at::where(
      patched_mask > 0.0, left_padded_patches(scaled, c.input_patch_size, c.input_patch_stride),
      at::zeros({}, scaled.options()));
  at::Tensor attention_mask = (patched_mask.sum(-1) > 0).to(at::kFloat);  // [G, S, N]
  at::Tensor embeds = stacked_residual_block(w, "input_patch_embedding.", c.activation,
                                             at::cat({patched_values, patched_mask}, -1));
  if (c.use_reg_token) {
    const at::Tensor reg = stacked_weight(w, "shared.weight").select(1, 1);  // [G, d]
    embeds = at::cat(
        {embeds, reg.view({models, 1, 1, c.d_model}).expand({models, series, 1, c.d_model})}, 2);
    attention_mask = at::cat({attention_mask, at::ones({models, series, 1}, scaled.options())}, -1);
  }

  const at::Tensor encoded = t5_encoder(w, c, embeds, attention_mask);
  const at::Tensor decoded = t5_decoder_start_step(w, c, encoded, attention_mask);
  const int64_t width = static_cast<int64_t>(c.quantiles.size()) * c.prediction_length;
  const at::Tensor normalised =
      stacked_residual_block(w, "output_patch_embedding.", c.activation, decoded)
          .view({models, series, width});
  return (normalised * scale + loc)
      .view({models, series, static_cast<int64_t>(c.quantiles.size()), c.prediction_length});
}

at::Tensor chronos_bolt_predict_quantiles(const ChronosBoltStack& stack, const at::Tensor& inputs,
                                          const at::Tensor& input_lengths,
                                          const QuantileForecastRequest& request) {
  const ChronosBoltConfig& c = stack.config;
  const at::Device device = stack.weights.begin()->second.device();
  const int64_t series = inputs.size(0), horizon = request.horizon;
  const at::Tensor lengths = input_lengths.to(at::kLong).contiguous();
  std::vector<int64_t> needed = request.needed_steps;
  if (needed.empty()) needed.assign(series, horizon);
  at::Tensor forecasts =
      at::full({stack.models, series, horizon, static_cast<int64_t>(request.levels.size())}, kNaN,
               at::TensorOptions().dtype(at::kFloat).device(device));

  // Series sorted by input length, in equal groups: each group is padded
  // only to its own longest context.
  std::vector<int64_t> order(series);
  for (int64_t j = 0; j < series; ++j) order[j] = j;
  const int64_t* length = lengths.data_ptr<int64_t>();
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return length[a] < length[b]; });
  const int64_t groups = (series + kMaxSeriesPerForward - 1) / kMaxSeriesPerForward;
  for (int64_t k = 0; k < groups; ++k) {
    std::vector<int64_t> rows(order.begin() + k * series / groups,
                              order.begin() + (k + 1) * series / groups);
    const at::Tensor first_rows = at::tensor(rows, at::kLong);
    at::Tensor context = left_padded_contexts(inputs.index_select(0, first_rows),
                                              lengths.index_select(0, first_rows), c.context_length)
                             .to(device)
                             .unsqueeze(0)
                             .expand({stack.models, static_cast<int64_t>(rows.size()), -1});
    // Forecast prediction_length steps at a time; while a series needs more,
    // its median forecast becomes context for the next forward.
    for (int64_t covered = 0;; covered += c.prediction_length) {
      if (std::chrono::steady_clock::now() > request.deadline) {
        throw ForecastDeadlineExceeded("the forecast ran past its time budget");
      }
      const at::Tensor step = chronos_bolt_forward(stack, context);  // [G, s, Q_model, P]
      if (request.work != nullptr) count_forward(c, context, *request.work);
      const int64_t kept = std::min(c.prediction_length, horizon - covered);
      if (kept > 0) {
        const at::Tensor levels =
            select_levels(step.transpose(2, 3).narrow(2, 0, kept), c.quantiles, request.levels);
        forecasts.narrow(2, covered, kept)
            .index_copy_(1, at::tensor(rows, at::kLong).to(device), levels);
      }
      std::vector<int64_t> more;  // positions (in rows) of the series that need more steps
      for (size_t i = 0; i < rows.size(); ++i) {
        if (needed[rows[i]] > covered + c.prediction_length)
          more.push_back(static_cast<int64_t>(i));
      }
      if (more.empty()) break;
      const at::Tensor keep = at::tensor(more, at::kLong).to(device);
      context = at::cat(
          {context.index_select(1, keep), step.select(2, c.median_index()).index_select(1, keep)},
          -1);
      if (context.size(-1) > c.context_length) {
        context = context.narrow(-1, context.size(-1) - c.context_length, c.context_length);
      }
      std::vector<int64_t> next;
      for (int64_t i : more) next.push_back(rows[i]);
      rows = next;
    }
  }
  return forecasts;
}

long long chronos_bolt_bytes_per_model(const ChronosBoltConfig& c, int64_t series) {
  const long long patches =
      (c.context_length + c.input_patch_size) / c.input_patch_stride + 2;  // with [REG]
  const long long inner = c.num_heads * c.d_kv;
  // Per series at the peak: position bias + scores + softmax, q/k/v/context,
  // the residual stream with its norms, the feed-forward's hidden layer(s).
  const long long floats_per_series = 3 * c.num_heads * patches * patches + 4 * patches * inner +
                                      6 * patches * c.d_model + 3 * patches * c.d_ff +
                                      4 * patches * c.input_patch_size;
  // Its weights twice: its own tensors and their copy in the stack.
  const long long weights = 2 * 4LL * c.parameter_count();
  const long long per_forward = std::min<int64_t>(series, kMaxSeriesPerForward);
  return weights + 4LL * floats_per_series * per_forward * 2;  // x2: allocator slack, temporaries
}

namespace {

class ChronosBoltForecaster final : public NativeForecaster {
 public:
  at::Tensor predict_quantiles(const NativeConfig& config,
                               const std::vector<const NativeWeights*>& models,
                               const TaskData& task,
                               const QuantileForecastRequest& request) const override {
    const ChronosBoltStack stack =
        stack_chronos_bolt_weights(static_cast<const ChronosBoltConfig&>(config), models);
    const at::Tensor inputs = at::from_blob(const_cast<float*>(task.inputs.data()),
                                            {task.num_series, task.input_width}, at::kFloat);
    const at::Tensor input_lengths = at::from_blob(const_cast<int64_t*>(task.input_lengths.data()),
                                                   {task.num_series}, at::kLong);
    return chronos_bolt_predict_quantiles(stack, inputs, input_lengths, request);
  }

  long long bytes_per_model(const NativeConfig& config, int64_t series) const override {
    return chronos_bolt_bytes_per_model(static_cast<const ChronosBoltConfig&>(config), series);
  }
};

}  // namespace

const NativeForecaster& chronos_bolt_forecaster() {
  static const ChronosBoltForecaster forecaster;
  return forecaster;
}

}  // namespace crucible
