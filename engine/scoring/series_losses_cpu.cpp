// CPU reference of the per-series loss: the same crucible::step_loss as the
// CUDA kernel, summed sequentially per series, parallel over series.
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>

#include "crucible/engine/scoring/series_losses.h"

namespace crucible {

namespace {

template <LossMetric kMetric, int kQuantiles>
void cpu_loop(const StepLossParams& params, const at::Tensor& targets, const at::Tensor& forecasts,
              const at::Tensor& lengths, at::Tensor& out) {
  const int64_t num_series = targets.size(0);
  const int64_t horizon = targets.size(1);
  const int64_t pairs = forecasts.size(0) * num_series;
  const float* forecast_data = forecasts.data_ptr<float>();
  const float* target_data = targets.data_ptr<float>();
  const int64_t* length_data = lengths.data_ptr<int64_t>();
  double* out_data = out.data_ptr<double>();

  at::parallel_for(0, pairs, 64, [&](int64_t begin, int64_t end) {
    double scratch[kMaxQuantiles];
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t series = pair % num_series;
      const int64_t n = length_data[series];
      const StepSums sums = sum_steps<kMetric, kQuantiles>(
          params, forecast_data + pair * horizon * params.num_quantiles,
          target_data + series * horizon, n, 0, 1, scratch);
      out_data[pair] = finish_series_loss(sums.numerator, sums.weight, n);
    }
  });
}

// The default nine quantile levels get a loop with q fixed at compile time
// (unrolled; 1.5-2x faster); the arithmetic, and so the result, is the same.
template <LossMetric kMetric>
void cpu_loop(const StepLossParams& params, const at::Tensor& targets, const at::Tensor& forecasts,
              const at::Tensor& lengths, at::Tensor& out) {
  if (params.num_quantiles == kDefaultQuantileCount) {
    cpu_loop<kMetric, kDefaultQuantileCount>(params, targets, forecasts, lengths, out);
  } else {
    cpu_loop<kMetric, 0>(params, targets, forecasts, lengths, out);
  }
}

}  // namespace

void series_losses_cpu(const StepLossParams& params, const at::Tensor& targets,
                       const at::Tensor& forecasts, const at::Tensor& lengths, at::Tensor& out) {
  switch (params.metric) {
    case LossMetric::kCrps:
      return cpu_loop<LossMetric::kCrps>(params, targets, forecasts, lengths, out);
    case LossMetric::kPinball:
      return cpu_loop<LossMetric::kPinball>(params, targets, forecasts, lengths, out);
    case LossMetric::kWql:
      return cpu_loop<LossMetric::kWql>(params, targets, forecasts, lengths, out);
    case LossMetric::kMae:
      return cpu_loop<LossMetric::kMae>(params, targets, forecasts, lengths, out);
    case LossMetric::kMse:
      return cpu_loop<LossMetric::kMse>(params, targets, forecasts, lengths, out);
  }
}

}  // namespace crucible
