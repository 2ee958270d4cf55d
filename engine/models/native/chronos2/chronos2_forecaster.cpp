// Chronos-2 behind the native forecaster interface (LibTorch half).
#include <ATen/ATen.h>

#include <algorithm>

#include "engine/models/native/chronos2/chronos2.h"

namespace crucible {
namespace {

class Chronos2Forecaster final : public NativeForecaster {
 public:
  // The task's groups (row_group_ids: each row its own group in a
  // univariate task) with their known covariates' future values. Every row
  // is forecast; the runner scores the target rows.
  at::Tensor predict_quantiles(const NativeConfig& config,
                               const std::vector<const NativeWeights*>& models,
                               const TaskData& task,
                               const QuantileForecastRequest& request) const override {
    const Chronos2Stack stack =
        stack_chronos2_weights(dynamic_cast<const Chronos2Config&>(config), models);
    Chronos2Series series;
    series.context = at::from_blob(const_cast<float*>(task.inputs.data()),
                                   {task.num_series, task.input_width}, at::kFloat);
    series.context_lengths = at::from_blob(const_cast<int64_t*>(task.input_lengths.data()),
                                           {task.num_series}, at::kLong);
    series.group_ids = at::tensor(row_group_ids(task), at::kLong);
    if (has_groups(task)) {
      series.future_values = at::from_blob(const_cast<float*>(task.future_inputs.data()),
                                           {task.num_series, task.target_width}, at::kFloat);
    }
    return chronos2_predict_quantiles(stack, series, request);
  }

  long long bytes_per_model(const NativeConfig& config, int64_t series) const override {
    return chronos2_bytes_per_model(dynamic_cast<const Chronos2Config&>(config), series);
  }
};

}  // namespace

long long chronos2_bytes_per_model(const Chronos2Config& c, int64_t series) {
  // Positions of one forward: context patches, [REG], output patches.
  const long long positions = c.context_length / c.input_patch_stride + 2 + c.max_output_patches;
  const long long inner = c.num_heads * c.d_kv;
  // Per series at the peak: time attention's scores and softmax, the rotated
  // q / k with v and the mixed values, the residual stream with its norms,
  // the feed-forward's hidden layer, the patches' inputs.
  const long long floats_per_series = 3LL * c.num_heads * positions * positions +
                                      6 * positions * inner + 6 * positions * c.d_model +
                                      2 * positions * c.d_ff + 6 * positions * c.patch_size;
  // Its weights twice: its own tensors and their copy in the stack.
  const long long weights = 2 * 4LL * c.parameter_count();
  // A batch's rows, times the paths a horizon past one forward unrolls them
  // into (the horizon is not known here, so every task is assumed to unroll).
  const long long per_forward = std::min<int64_t>(series, kChronos2BatchRows) *
                                static_cast<long long>(chronos2_unrolled_quantiles().size());
  return weights + 4LL * floats_per_series * per_forward * 2;  // x2: allocator slack, temporaries
}

const NativeForecaster& chronos2_forecaster() {
  static const Chronos2Forecaster forecaster;
  return forecaster;
}

}  // namespace crucible
