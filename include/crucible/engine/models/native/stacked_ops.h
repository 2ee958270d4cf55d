// The stacked building blocks of native forwards: every weight carries a
// leading model axis G and every activation is [G, ...]. Matrix products
// and GELU activations run model by model, with each model's own shapes, so
// a model's values are the same bits whatever shares its stack; the other
// operations run over the whole stack.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

#include "crucible/engine/models/native/activation.h"

namespace crucible {

// G models' weights by their transformers names, each [G, <shape>] float32 on
// one device.
using StackedWeights = std::map<std::string, at::Tensor>;

// The weight called `name`; throws std::logic_error when the stack lacks it
// (inspection guarantees every tensor the config implies is there).
const at::Tensor& stacked_weight(const StackedWeights& weights, const std::string& name);

// nn.Linear per model: x [G, ..., in], weight [G, out, in], bias [G, out] or
// undefined -> [G, ..., out].
at::Tensor stacked_linear(const at::Tensor& x, const at::Tensor& weight,
                          const at::Tensor& bias = at::Tensor());

// ACT2FN[name]: relu, gelu_new (NewGELUActivation, the tanh form), gelu (erf).
at::Tensor apply_activation(const at::Tensor& x, Activation activation);

// Reshapes a weight [G, d] so it broadcasts over x [G, ..., d].
at::Tensor per_model_vector(const at::Tensor& weight, const at::Tensor& x);

// a [G, ...] @ b [G, ...] (matmul broadcasting within a model), one model
// at a time: a model's product is then the same computation (same shapes,
// same kernel) alone and in a stack of any size, so its forecasts do not
// depend on which models share its stack. One batched GEMM over G does not
// give that: BLAS builds pick the kernel by batch size (with LibTorch 2.11's
// MKL a model's forecasts differed between G = 1 and G = 3).
at::Tensor per_model_matmul(const at::Tensor& a, const at::Tensor& b);

// The blocks chronos' models share (chronos_bolt.py, whose pieces chronos2
// imports, and T5's layer norm, which Chronos2LayerNorm copies).

// T5LayerNorm / Chronos2LayerNorm (RMS norm, no mean, no bias):
// weight * x / sqrt(mean(x^2) + eps), x [G, ..., d], weight [G, d].
at::Tensor stacked_rms_norm(const at::Tensor& x, const at::Tensor& weight, double epsilon);

// ResidualBlock without layer norm: output_layer(act(hidden_layer(x))) +
// residual_layer(x), the layers named `prefix` + "hidden_layer" etc.
at::Tensor stacked_residual_block(const StackedWeights& weights, const std::string& prefix,
                                  Activation activation, const at::Tensor& x);

// Patch.forward: left-pads the last axis with NaN to a multiple of `size`,
// then cuts it into windows of `size` at `stride`: [..., T] -> [..., N, size].
at::Tensor left_padded_patches(const at::Tensor& x, int64_t size, int64_t stride);

// The location and scale of InstanceNorm.forward without loc_scale, over the
// last axis of x [..., T]: the NaN-ignoring mean (0 for an empty row) and
// population standard deviation (1 for an empty row, 1e-5 for a constant
// one), each [..., 1].
struct InstanceScale {
  at::Tensor loc, scale;
};
InstanceScale instance_scale(const at::Tensor& x);

}  // namespace crucible
