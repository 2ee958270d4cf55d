// Chronos-Bolt forecasting, natively and stacked across models: G inspected
// models with one config have their weights stacked on a model axis and run
// as one forward over G x S series. Equal, to float rounding, to chronos'
// ChronosBoltPipeline.predict_quantiles (chronos-forecasting 1.5, on
// transformers 4.48's T5) for each model alone; a model's forecasts are the
// same bits whatever other models share its stack.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "crucible/common/safetensors_shards.h"
#include "crucible/engine/models/native/native_forecaster.h"
#include "engine/models/native/chronos_bolt/chronos_bolt_config.h"
#include "engine/models/native/chronos_bolt/t5_stack.h"

namespace crucible {

// G same-config models on one device.
struct ChronosBoltStack {
  ChronosBoltConfig config;
  int64_t models = 0;
  StackedWeights weights;  // every tensor of chronos_bolt_tensor_shapes, [G, ...] float32
};

// G models' weights as one stack on their device (a copy: [G, ...] per name).
ChronosBoltStack stack_chronos_bolt_weights(const ChronosBoltConfig& config,
                                            const std::vector<const NativeWeights*>& models);

// load_native_weights for each of `folders`, stacked.
ChronosBoltStack load_chronos_bolt_stack(const ChronosBoltConfig& config,
                                         const std::vector<std::string>& folders,
                                         const c10::Device& device);

// ChronosBoltModelForForecasting.forward: context float32 [G, S, T] on the
// stack's device (NaN = not observed; the last context_length steps are
// used) -> quantile forecasts [G, S, Q_model, prediction_length] in the
// context's scale.
at::Tensor chronos_bolt_forward(const ChronosBoltStack& stack, const at::Tensor& context);

// Multiply-adds x 2 of the forwards counted in `work` (matrix products only).
double chronos_bolt_flops(const ChronosBoltConfig& config, const ForecastWork& work);

// ChronosBoltPipeline.predict_quantiles for every model of the stack.
// `inputs` float32 [S, Tmax] (left-aligned, right-padded) with `input_lengths`
// int64 [S], both on the CPU: each series' context is exactly its true input,
// left-padded with NaN and cut to context_length. A horizon longer than the
// model's prediction_length is unrolled as the reference does (the median
// forecast appended to the context), each series only as far as its needed
// steps. Levels the model lacks are interpolated as the reference does.
// Returns float32 [G, S, H, levels] on the stack's device; the steps of a
// series past its needed steps are NaN. Series are forecast in groups of
// similar input length (a function of the task alone, so a model's forecasts
// do not depend on the other models of the stack). Throws
// ForecastDeadlineExceeded when the deadline passes between two forwards.
at::Tensor chronos_bolt_predict_quantiles(const ChronosBoltStack& stack, const at::Tensor& inputs,
                                          const at::Tensor& input_lengths,
                                          const QuantileForecastRequest& request);

// The most series one forward takes (per model); a task's series are split
// into equal groups of at most this many, sorted by input length.
constexpr int64_t kMaxSeriesPerForward = 32;

// Bytes a model is expected to hold at its peak while its stack forecasts
// `series` series (its weights and one forward's activations), for the memory
// budget that cuts stacks into chunks.
long long chronos_bolt_bytes_per_model(const ChronosBoltConfig& config, int64_t series);

// Chronos-Bolt's NativeForecaster: chronos_bolt_predict_quantiles over a
// stack of the models, on the task's inputs and lengths.
const NativeForecaster& chronos_bolt_forecaster();

}  // namespace crucible
