// Per-series losses for every (model, series) pair: docs/scoring.md section 3.
// One API on at::Tensor; it runs where the forecasts live (CPU reference loop,
// or the fused CUDA kernel), and both give the same values.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "crucible/cuda/loss_math.h"

namespace crucible {

// "crps", "pinball", "wql", "mae", "mse"; throws std::invalid_argument otherwise.
LossMetric parse_loss_metric(const std::string& name);
const char* loss_metric_name(LossMetric metric);

// Lengths must be int64 [S] with each value in [0, H]; throws
// std::invalid_argument with a one-line reason.
void check_target_lengths(const at::Tensor& lengths, int64_t num_series, int64_t horizon);

// Shapes the inputs must have; check_loss_shapes() says what is wrong.
//   targets   float32 [S, H]
//   forecasts float32 [U, S, H, Q]  (see as_model_forecasts for other layouts)
//   lengths   int64   [S], each in [0, H]
// Throws std::invalid_argument with a one-line reason.
void check_loss_inputs(const at::Tensor& targets, const at::Tensor& forecasts,
                       const at::Tensor& lengths);

// Forecasts viewed as [U, S, H, Q], and whether the given layout had the U axis.
struct ModelForecasts {
  at::Tensor values;
  bool has_model_axis;
};

// Views forecasts given as [S, H, Q], [S, H, 1, Q], [U, S, H, Q] or
// [U, S, H, 1, Q] as [U, S, H, Q] (U = 1 for the first two), for targets
// [S, H]. Throws std::invalid_argument when no layout fits.
ModelForecasts as_model_forecasts(const at::Tensor& forecasts, int64_t num_series, int64_t horizon);

// Float64 [U, S] losses on the forecasts' device, aligned by series; NaN for an
// empty series (and for WQL when sum |y| = 0). `levels` are the sorted quantile
// levels; pinball, WQL, MAE and MSE need Q == levels.size(), CRPS ignores them.
// Throws std::invalid_argument on bad shapes, dtypes, lengths or Q.
at::Tensor series_losses(LossMetric metric, const at::Tensor& targets, const at::Tensor& forecasts,
                         const at::Tensor& lengths, const std::vector<double>& levels);

// The two implementations behind series_losses (validated inputs, contiguous).
void series_losses_cpu(const StepLossParams& params, const at::Tensor& targets,
                       const at::Tensor& forecasts, const at::Tensor& lengths, at::Tensor& out);
void series_losses_cuda(const StepLossParams& params, const at::Tensor& targets,
                        const at::Tensor& forecasts, const at::Tensor& lengths, at::Tensor& out);

}  // namespace crucible
