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

}  // namespace crucible
