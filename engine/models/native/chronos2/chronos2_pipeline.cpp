// Chronos2Pipeline.predict and predict_quantiles (chronos-forecasting 2.3,
// chronos2/pipeline.py, with chronos/utils.py's interpolate_quantiles and
// weighted_quantile) over a stacked forward: batching, left-padding, the
// long-horizon unroll, and the quantile levels.
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>

#include "engine/models/native/chronos2/chronos2.h"

namespace crucible {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

at::Tensor float_tensor(const std::vector<double>& values) {
  return at::tensor(std::vector<float>(values.begin(), values.end()), at::kFloat);
}

// utils.interpolate_quantiles for one model's rows: values [R, n] at levels
// [R, n] (or [n], shared by every row) -> [R, queries], linear between the
// levels, flat past the outer ones (levels 0 and 1 added with the outer
// values unless some level already reaches them, decided over all R rows).
at::Tensor interpolate_quantiles(const at::Tensor& queries, const at::Tensor& levels,
                                 const at::Tensor& values) {
  const int64_t rows = values.size(0);
  const at::Tensor row_levels = levels.dim() == 1 ? levels.expand({rows, -1}) : levels;
  const auto sorted = at::sort(row_levels, -1);
  at::Tensor sorted_levels = std::get<0>(sorted);
  at::Tensor sorted_values = at::gather(values, 1, std::get<1>(sorted));
  std::vector<at::Tensor> padded_levels, padded_values;
  if (row_levels.min().item<float>() > 0.0f) {
    padded_levels.push_back(at::zeros({rows, 1}, values.options()));
    padded_values.push_back(sorted_values.narrow(1, 0, 1));
  }
  padded_levels.push_back(sorted_levels);
  padded_values.push_back(sorted_values);
  if (row_levels.max().item<float>() < 1.0f) {
    padded_levels.push_back(at::ones({rows, 1}, values.options()));
    padded_values.push_back(sorted_values.narrow(1, sorted_values.size(1) - 1, 1));
  }
  sorted_levels = at::cat(padded_levels, -1).contiguous();
  sorted_values = at::cat(padded_values, -1);
  const at::Tensor query = queries.to(values.device()).unsqueeze(0).expand({rows, -1}).contiguous();
  const at::Tensor upper =
      at::searchsorted(sorted_levels, query, /*out_int32=*/false, /*right=*/true)
          .clamp_max(sorted_levels.size(1) - 1);
  const at::Tensor lower = upper - 1;
  const at::Tensor lower_levels = at::gather(sorted_levels, 1, lower);
  const at::Tensor upper_levels = at::gather(sorted_levels, 1, upper);
  const at::Tensor lower_values = at::gather(sorted_values, 1, lower);
  const at::Tensor upper_values = at::gather(sorted_values, 1, upper);
  const at::Tensor weight =
      at::nan_to_num((query - lower_levels) / (upper_levels - lower_levels), 0.0);
  return lower_values + weight * (upper_values - lower_values);
}

// interpolate_quantiles over forecasts [G, ..., n] at the model's levels, model by model.
at::Tensor levels_of(const at::Tensor& forecasts, const std::vector<double>& model_levels,
                     const std::vector<double>& queries) {
  const at::Tensor query = float_tensor(queries), levels = float_tensor(model_levels);
  std::vector<int64_t> shape = forecasts.sizes().vec();
  shape.back() = static_cast<int64_t>(queries.size());
  std::vector<at::Tensor> parts;
  for (int64_t g = 0; g < forecasts.size(0); ++g) {
    const at::Tensor rows = forecasts[g].reshape({-1, forecasts.size(-1)});
    parts.push_back(interpolate_quantiles(query, levels.to(rows.device()), rows));
  }
  return at::stack(parts).view(shape);
}

// Chronos2Pipeline._get_prob_mass_per_quantile_level: (q[i+1] - q[i-1]) / 2
// with q[0] = 0 and q[n+1] = 1, normalised.
at::Tensor probability_mass(const std::vector<double>& levels) {
  const at::Tensor boundaries =
      at::cat({at::zeros({1}, at::kFloat), float_tensor(levels), at::ones({1}, at::kFloat)});
  const int64_t n = static_cast<int64_t>(levels.size());
  const at::Tensor mass = (boundaries.narrow(0, 2, n) - boundaries.narrow(0, 0, n)) / 2;
  return mass / mass.sum();
}

// utils.weighted_quantile for one model: samples [R, n] with weights [n] ->
// the model's levels [R, Q] read off the samples' weighted empirical CDF.
at::Tensor weighted_quantile(const std::vector<double>& queries, const at::Tensor& weights,
                             const at::Tensor& samples) {
  const at::Tensor normalised = (weights / weights.sum(-1, /*keepdim=*/true))
                                    .to(samples.device())
                                    .expand({samples.size(0), -1})
                                    .contiguous();
  const auto sorted = at::sort(samples, -1);
  const at::Tensor cumulative =
      at::cumsum(at::gather(normalised, -1, std::get<1>(sorted)), -1).clamp(0.0, 1.0);
  return interpolate_quantiles(float_tensor(queries), cumulative, std::get<0>(sorted));
}

// The batches of chronos2_predict: whole groups in order of each group's
// first row, rows of a group in their order; a batch takes groups while it
// holds fewer than kChronos2BatchRows rows (Chronos2Dataset._generate_sequential_batches).
std::vector<std::vector<int64_t>> batches_of(const at::Tensor& group_ids) {
  const at::Tensor ids = group_ids.to(at::kLong).contiguous();
  const int64_t* id = ids.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> groups;
  std::map<int64_t, size_t> group_of;
  for (int64_t row = 0; row < ids.numel(); ++row) {
    const auto [found, added] = group_of.emplace(id[row], groups.size());
    if (added) groups.emplace_back();
    groups[found->second].push_back(row);
  }
  std::vector<std::vector<int64_t>> batches;
  for (size_t g = 0; g < groups.size();) {
    std::vector<int64_t> batch;
    while (g < groups.size() && static_cast<int64_t>(batch.size()) < kChronos2BatchRows) {
      batch.insert(batch.end(), groups[g].begin(), groups[g].end());
      ++g;
    }
    batches.push_back(batch);
  }
  return batches;
}

// Chronos2Dataset's context of a batch: each row's last context_length
// values, left-padded with NaN to the longest (left_pad_and_cat_2D) -> [R, T].
at::Tensor batch_context(const Chronos2Series& series, const std::vector<int64_t>& rows,
                         int64_t context_length) {
  const at::Tensor lengths = series.context_lengths.to(at::kLong).contiguous();
  const int64_t* length_of = lengths.data_ptr<int64_t>();
  int64_t width = 1;
  for (int64_t row : rows) width = std::max(width, std::min(length_of[row], context_length));
  at::Tensor context = at::full({static_cast<int64_t>(rows.size()), width}, kNaN, at::kFloat);
  const at::Tensor source = series.context.to(at::kFloat);
  for (size_t i = 0; i < rows.size(); ++i) {
    const int64_t length = std::min(length_of[rows[i]], source.size(1));
    const int64_t kept = std::min(length, context_length);
    if (kept <= 0) continue;
    context[i].narrow(0, width - kept, kept).copy_(source[rows[i]].narrow(0, length - kept, kept));
  }
  return context;
}

// One batch through Chronos2Pipeline._predict_batch, for every model.
class BatchPredictor {
 public:
  BatchPredictor(const Chronos2Stack& stack, const QuantileForecastRequest& request)
      : stack_(stack), config_(stack.config), request_(request) {}

  // context [G, R, T], group_ids [R], future [G, R, H] (NaN = unknown) ->
  // [G, R, Q, horizon].
  at::Tensor predict(at::Tensor context, at::Tensor group_ids, at::Tensor future, int64_t horizon) {
    const int64_t models = context.size(0), rows = context.size(1);
    std::vector<at::Tensor> predictions;
    at::Tensor prediction = step(context, group_ids, future, patches_for(horizon));
    predictions.push_back(prediction);
    int64_t remaining = horizon - prediction.size(-1);
    if (remaining > 0) {
      // _prepare_inputs_for_long_horizon_unrolling: each row repeated once
      // per unrolled level ("b t -> (b n) t"), group ids shifted so a group
      // mixes only within one level's path.
      const int64_t paths = static_cast<int64_t>(chronos2_unrolled_quantiles().size());
      context = context.repeat_interleave(paths, 1);
      future = future.repeat_interleave(paths, 1);
      group_ids = (group_ids.repeat_interleave(paths) * paths +
                   at::arange(paths, group_ids.options()).repeat({rows}));
    }
    const at::Tensor weights = at::outer(probability_mass(chronos2_unrolled_quantiles()),
                                         probability_mass(config_.quantiles))
                                   .flatten();
    while (remaining > 0) {
      // _autoregressive_unroll_for_long_horizon: the unrolled levels of the
      // last prediction appended to each path's context.
      const int64_t slide = prediction.size(-1);
      const at::Tensor unrolled = levels_of(prediction.transpose(2, 3), config_.quantiles,
                                            chronos2_unrolled_quantiles())  // [G, R, h, n]
                                      .permute({0, 1, 3, 2})
                                      .reshape({models, -1, slide});
      context = at::cat({context, unrolled}, -1);
      if (context.size(-1) > config_.context_length) {
        context =
            context.narrow(-1, context.size(-1) - config_.context_length, config_.context_length);
      }
      // _slide_context_and_future_covariates: known future values replace
      // their forecasts in the context, and the future moves on.
      const at::Tensor known = future.narrow(-1, 0, slide);
      const at::Tensor tail = context.narrow(-1, context.size(-1) - slide, slide);
      tail.copy_(at::where(known.isnan(), tail, known));
      future = future.narrow(-1, slide, future.size(-1) - slide);
      const at::Tensor paths_prediction =
          step(context, group_ids, future, patches_for(remaining));  // [G, R x n, Q, h]
      const int64_t length = paths_prediction.size(-1);
      const at::Tensor samples =
          paths_prediction
              .view({models, rows, -1, static_cast<int64_t>(config_.quantiles.size()), length})
              .permute({0, 1, 4, 2, 3})
              .reshape({models, rows * length, -1});  // "b (n q) h -> b h (n q)"
      std::vector<at::Tensor> reduced;
      for (int64_t g = 0; g < models; ++g) {
        reduced.push_back(weighted_quantile(config_.quantiles, weights, samples[g]));
      }
      prediction = at::stack(reduced).view({models, rows, length, -1}).transpose(2, 3);
      predictions.push_back(prediction);
      remaining -= length;
    }
    return at::cat(predictions, -1).narrow(-1, 0, horizon);
  }

 private:
  // get_num_output_patches: enough patches for the remaining steps, at most max_output_patches.
  int64_t patches_for(int64_t remaining) const {
    const int64_t patches = (remaining + config_.patch_size - 1) / config_.patch_size;
    return std::min(patches, config_.max_output_patches);
  }

  // Chronos2Pipeline._predict_step: the future padded with NaN or cut to the output length.
  at::Tensor step(const at::Tensor& context, const at::Tensor& group_ids, const at::Tensor& future,
                  int64_t patches) {
    if (std::chrono::steady_clock::now() > request_.deadline) {
      throw ForecastDeadlineExceeded("the forecast ran past its time budget");
    }
    const int64_t output = patches * config_.patch_size;
    at::Tensor covariates = future.narrow(-1, 0, std::min(output, future.size(-1)));
    if (covariates.size(-1) < output) {
      std::vector<int64_t> shape = covariates.sizes().vec();
      shape.back() = output - covariates.size(-1);
      covariates = at::cat({covariates, at::full(shape, kNaN, covariates.options())}, -1);
    }
    if (request_.work != nullptr) count(context, patches);
    return chronos2_forward(stack_, context, group_ids, covariates, patches);
  }

  void count(const at::Tensor& context, int64_t patches) const {
    ForecastWork& work = *request_.work;
    const int64_t width = std::min(context.size(-1), config_.context_length);
    const int64_t context_patches =
        ((width + config_.patch_size - 1) / config_.patch_size * config_.patch_size -
         config_.patch_size) /
            config_.input_patch_stride +
        1;
    const int64_t positions = context_patches + 1 + patches;
    const int64_t series_steps = context.size(0) * context.size(1);
    ++work.forwards;
    work.series_steps += series_steps;
    work.positions += series_steps * positions;
    work.position_pairs += series_steps * positions * positions;
  }

  const Chronos2Stack& stack_;
  const Chronos2Config& config_;
  const QuantileForecastRequest& request_;
};

}  // namespace

at::Tensor chronos2_predict(const Chronos2Stack& stack, const Chronos2Series& series,
                            int64_t horizon, const QuantileForecastRequest& request) {
  const Chronos2Config& c = stack.config;
  const at::Device device = stack.weights.begin()->second.device();
  const int64_t total = series.context.size(0);
  at::Tensor forecasts =
      at::full({stack.models, total, static_cast<int64_t>(c.quantiles.size()), horizon}, kNaN,
               at::TensorOptions().dtype(at::kFloat).device(device));
  BatchPredictor predictor(stack, request);
  for (const std::vector<int64_t>& rows : batches_of(series.group_ids)) {
    const int64_t count = static_cast<int64_t>(rows.size());
    const at::Tensor index = at::tensor(rows, at::kLong);
    at::Tensor future = at::full({count, horizon}, kNaN, at::kFloat);
    if (series.future_values.defined()) {
      const int64_t known = std::min(horizon, series.future_values.size(1));
      future.narrow(1, 0, known)
          .copy_(series.future_values.to(at::kFloat).index_select(0, index).narrow(1, 0, known));
    }
    const auto on_device = [&](const at::Tensor& values) {
      return values.to(device).unsqueeze(0).expand({stack.models, count, values.size(1)}).clone();
    };
    const at::Tensor prediction =
        predictor.predict(on_device(batch_context(series, rows, c.context_length)),
                          series.group_ids.to(at::kLong).index_select(0, index).to(device),
                          on_device(future), horizon);
    forecasts.index_copy_(1, index.to(device), prediction);
  }
  return forecasts;
}

at::Tensor chronos2_predict_quantiles(const Chronos2Stack& stack, const Chronos2Series& series,
                                      const QuantileForecastRequest& request) {
  const Chronos2Config& c = stack.config;
  const at::Tensor by_step =
      chronos2_predict(stack, series, request.horizon, request).transpose(2, 3);  // [G, S, H, Q]
  std::vector<int64_t> indices;
  for (double level : request.levels) {
    if (c.quantile_index(level) >= 0) indices.push_back(c.quantile_index(level));
  }
  at::Tensor forecasts =
      indices.size() == request.levels.size()
          ? by_step.index_select(-1, at::tensor(indices, at::kLong).to(by_step.device()))
          : levels_of(by_step, c.quantiles, request.levels);
  forecasts = forecasts.contiguous();
  for (size_t row = 0; row < request.needed_steps.size(); ++row) {
    const int64_t needed = std::max<int64_t>(0, request.needed_steps[row]);
    if (needed < request.horizon) {
      forecasts.select(1, static_cast<int64_t>(row))
          .narrow(1, needed, request.horizon - needed)
          .fill_(kNaN);
    }
  }
  return forecasts;
}

}  // namespace crucible
