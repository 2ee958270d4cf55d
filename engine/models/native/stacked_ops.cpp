#include "crucible/engine/models/native/stacked_ops.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace crucible {
namespace {

// ACT2FN[activation] on one model's values: gelu (erf) or gelu_new (tanh).
at::Tensor activate(const at::Tensor& x, Activation activation) {
  if (activation == Activation::kGelu) return at::gelu(x);
  // NewGELUActivation: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
  const double c = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + at::tanh(c * (x + 0.044715 * at::pow(x, 3.0))));
}

}  // namespace

at::Tensor per_model_vector(const at::Tensor& weight, const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape.front() = weight.size(0);
  shape.back() = weight.size(-1);
  return weight.view(shape);
}

at::Tensor per_model_matmul(const at::Tensor& a, const at::Tensor& b) {
  std::vector<at::Tensor> products;
  products.reserve(a.size(0));
  for (int64_t g = 0; g < a.size(0); ++g) products.push_back(at::matmul(a[g], b[g]));
  return at::stack(products);
}

const at::Tensor& stacked_weight(const StackedWeights& weights, const std::string& name) {
  const auto found = weights.find(name);
  if (found == weights.end()) throw std::logic_error("stacked weights lack " + name);
  return found->second;
}

at::Tensor stacked_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  std::vector<int64_t> out_shape = x.sizes().vec();
  out_shape.back() = weight.size(1);
  const at::Tensor flat = x.reshape({x.size(0), -1, x.size(-1)});
  at::Tensor out = per_model_matmul(flat, weight.transpose(1, 2));
  if (bias.defined()) out.add_(bias.unsqueeze(1));
  return out.view(out_shape);
}

at::Tensor apply_activation(const at::Tensor& x, Activation activation) {
  if (activation == Activation::kRelu) return at::relu(x);  // exact: no per-model loop needed
  // Per model, like the matmuls: a CPU kernel computes the elements past its
  // last full vector with scalar erf / tanh, which round differently from the
  // vector ones, and where that tail falls depends on the tensor's size, so
  // on the stack's.
  std::vector<at::Tensor> activated;
  activated.reserve(x.size(0));
  for (int64_t g = 0; g < x.size(0); ++g) activated.push_back(activate(x[g], activation));
  return at::stack(activated);
}

at::Tensor stacked_rms_norm(const at::Tensor& x, const at::Tensor& weight, double epsilon) {
  const at::Tensor variance = x.pow(2).mean(-1, /*keepdim=*/true);
  return per_model_vector(weight, x) * (x * at::rsqrt(variance + epsilon));
}

at::Tensor stacked_residual_block(const StackedWeights& weights, const std::string& prefix,
                                  Activation activation, const at::Tensor& x) {
  const auto linear = [&](const at::Tensor& input, const std::string& layer) {
    return stacked_linear(input, stacked_weight(weights, prefix + layer + ".weight"),
                          stacked_weight(weights, prefix + layer + ".bias"));
  };
  const at::Tensor hidden = apply_activation(linear(x, "hidden_layer"), activation);
  return linear(hidden, "output_layer") + linear(x, "residual_layer");
}

at::Tensor left_padded_patches(const at::Tensor& x, int64_t size, int64_t stride) {
  const int64_t length = x.size(-1);
  at::Tensor padded = x;
  if (length % size != 0) {
    std::vector<int64_t> pad_shape = x.sizes().vec();
    pad_shape.back() = size - length % size;
    padded =
        at::cat({at::full(pad_shape, std::numeric_limits<float>::quiet_NaN(), x.options()), x}, -1);
  }
  return padded.unfold(-1, size, stride);
}

InstanceScale instance_scale(const at::Tensor& x) {
  constexpr double kEpsilon = 1e-5;  // InstanceNorm's default eps
  const at::Tensor loc = at::nan_to_num(at::nanmean(x, -1, /*keepdim=*/true), 0.0);
  at::Tensor scale =
      at::nan_to_num(at::nanmean((x - loc).square(), -1, /*keepdim=*/true).sqrt(), 1.0);
  scale = at::where(scale == 0, at::full({}, kEpsilon, scale.options()), scale);
  return {loc, scale};
}

}  // namespace crucible
