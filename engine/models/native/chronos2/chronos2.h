// Chronos-2 forecasting, natively and stacked across models: G models with
// one config have their weights stacked on a model axis and run as one
// forward over G x S series. Equal, to float rounding, to chronos'
// Chronos2Pipeline.predict_quantiles (chronos-forecasting 2.3) for each model
// alone; a model's forecasts are the same bits whatever other models share
// its stack (every matrix product and every transcendental activation runs
// model by model, see stacked_ops.h).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "crucible/engine/models/native/native_forecaster.h"
#include "crucible/engine/models/native/stacked_ops.h"
#include "engine/models/native/chronos2/chronos2_config.h"

namespace crucible {

// G same-config models on one device.
struct Chronos2Stack {
  Chronos2Config config;
  int64_t models = 0;
  StackedWeights weights;  // every tensor of chronos2_tensor_shapes, [G, ...] float32
};

// G models' weights as one stack on their device (a copy: [G, ...] per name).
Chronos2Stack stack_chronos2_weights(const Chronos2Config& config,
                                     const std::vector<const NativeWeights*>& models);

// Chronos2Model.forward (eval, no target): context float32 [G, S, T] on the
// stack's device (NaN = missing; the last context_length steps are used),
// group_ids int64 [S] (rows with equal ids attend to each other),
// future_covariates float32 [G, S, F] with F <= num_output_patches x
// patch_size (NaN = unknown; undefined = none known) -> quantile forecasts
// [G, S, Q_model, num_output_patches x patch_size] in the context's scale.
at::Tensor chronos2_forward(const Chronos2Stack& stack, const at::Tensor& context,
                            const at::Tensor& group_ids, const at::Tensor& future_covariates,
                            int64_t num_output_patches);

// One task's series as the pipeline takes them, all on the CPU. Rows with
// one group id form a group (a target with its covariates, or a multivariate
// target), forecast jointly; a group's rows keep their order.
struct Chronos2Series {
  at::Tensor context;          // float32 [S, Tmax], left-aligned (NaN = missing)
  at::Tensor context_lengths;  // int64 [S]: the true length of each row
  at::Tensor group_ids;        // int64 [S]
  at::Tensor future_values;    // float32 [S, H]: known covariates' future, NaN elsewhere;
                               // undefined = no known covariate
};

// Chronos2Pipeline.predict (cross_learning off) for every model of the
// stack: quantile forecasts float32 [G, S, Q_model, horizon] on the stack's
// device, every row's (covariates' too). Rows are forecast in batches of
// whole groups, in order of each group's first row, each batch left-padded
// with NaN to its longest context (cut to context_length). A horizon longer
// than one forward's output (max_output_patches x patch_size) is unrolled as
// the pipeline does. `request` gives the deadline, checked between forwards
// (ForecastDeadlineExceeded), and the work counter.
at::Tensor chronos2_predict(const Chronos2Stack& stack, const Chronos2Series& series,
                            int64_t horizon, const QuantileForecastRequest& request);

// Chronos2Pipeline.predict_quantiles: chronos2_predict at the request's
// levels -> float32 [G, S, H, levels]: the model's own values when every
// level is one of its quantiles, else interpolated linearly between its
// levels (flat past the outer ones). Steps past a row's needed steps are NaN.
at::Tensor chronos2_predict_quantiles(const Chronos2Stack& stack, const Chronos2Series& series,
                                      const QuantileForecastRequest& request);

// The most rows a forecast batch holds once it has at least one group: whole
// groups are added while the batch has fewer rows (the pipeline's batching
// rule with this batch size).
constexpr int64_t kChronos2BatchRows = 64;

// Bytes a model is expected to hold at its peak while its stack forecasts
// `series` series (its weights and one forward's activations, a batch's rows
// unrolled into the nine paths of a long horizon).
long long chronos2_bytes_per_model(const Chronos2Config& config, int64_t series);

// The Chronos-2 forecaster (LibTorch half of chronos2_architecture()).
const NativeForecaster& chronos2_forecaster();

}  // namespace crucible
