// Gram matrices with LibTorch ops (the CUDA path; the formulas are those of
// gp_kernel_bank.cpp's gram_matrix_cpu).
//
// Stationary kernels (functions of tau = |x - x'|) are evaluated on the L lags
// only and expanded to [L, L] by indexing when a non-stationary term joins
// them: a sum or product of stationary kernels stays a vector of L values.
#include "crucible/engine/data/gp_gram_torch.h"

#include <ATen/ATen.h>

#include <cmath>

namespace crucible {
namespace {

constexpr double kPi = 3.141592653589793;

// A Gram matrix as lag values [L] (stationary) or a full [L, L] matrix.
// Full matrices are combined in place: a fresh [L, L] tensor per operation
// costs more (allocation, page faults) than the arithmetic.
struct Gram {
  bool stationary;
  at::Tensor values;
};

at::Tensor full(const Gram& g, const GramGrid& grid) {
  return g.stationary ? g.values.index({grid.lag_index}) : g.values;
}

// a op b, reusing a's (or b's) storage when it is a full matrix.
Gram combine(Gram a, Gram b, char op, const GramGrid& grid) {
  if (a.stationary && b.stationary) {
    return {true, op == '+' ? a.values.add_(b.values) : a.values.mul_(b.values)};
  }
  if (a.stationary) std::swap(a, b);  // a is full now; + and x commute
  const at::Tensor other = full(b, grid);
  return {false, op == '+' ? a.values.add_(other) : a.values.mul_(other)};
}

at::Tensor rbf(const at::Tensor& tau, double lengthscale) {
  return at::exp(-tau.square() / (2 * lengthscale * lengthscale));
}

at::Tensor periodic(const at::Tensor& tau, double period, double lengthscale) {
  return at::exp(-2 * at::sin(kPi * tau / period).square() / (lengthscale * lengthscale));
}

at::Tensor matern(const at::Tensor& tau, double lengthscale, double nu) {
  const at::Tensor r = tau / lengthscale;
  if (nu == 0.5) return at::exp(-r);
  if (nu == 1.5) return (1 + std::sqrt(3.0) * r) * at::exp(-std::sqrt(3.0) * r);
  return (1 + std::sqrt(5.0) * r + 5.0 / 3.0 * r.square()) * at::exp(-std::sqrt(5.0) * r);
}

// The family's Gram times its variance. Stationary families work on the L
// lags; the others build one [L, L] matrix and update it in place.
Gram term_gram(const KernelTerm& t, const GramGrid& grid) {
  const at::Tensor& tau = grid.lags;
  const at::Tensor& x = grid.x;
  switch (t.family) {
    case KernelFamily::kPeriodic:
      return {true, t.variance * periodic(tau, t.p[0], t.p[1])};
    case KernelFamily::kRbf:
      return {true, t.variance * rbf(tau, t.p[0])};
    case KernelFamily::kRationalQuadratic:
      return {true,
              t.variance * at::pow(1 + tau.square() / (2 * t.p[1] * t.p[0] * t.p[0]), -t.p[1])};
    case KernelFamily::kMatern:
      return {true, t.variance * matern(tau, t.p[0], t.p[1])};
    case KernelFamily::kWhiteNoise:
      return {true, t.variance * (tau == 0).to(at::kDouble)};
    case KernelFamily::kConstant:
      return {true, at::full_like(tau, t.variance)};
    case KernelFamily::kDotProduct:
      return {false, at::outer(x, x).add_(t.p[0] * t.p[0]).mul_(t.variance)};
    case KernelFamily::kChangePoint: {
      const at::Tensor s = at::sigmoid((x - t.p[0]) / t.p[1]);
      at::Tensor before = at::outer(s, s).mul_(full({true, rbf(tau, t.p[2])}, grid));
      const at::Tensor after = at::outer(1 - s, 1 - s).mul_(full({true, rbf(tau, t.p[3])}, grid));
      return {false, before.add_(after).mul_(t.variance)};
    }
    case KernelFamily::kLocallyPeriodic:
      return {true, t.variance * periodic(tau, t.p[0], t.p[1]) * rbf(tau, t.p[2])};
    case KernelFamily::kPolynomial: {  // degree 2 or 3: products, not pow
      const at::Tensor base = at::outer(x, x).add_(t.p[0]);
      at::Tensor power = base.square();
      if (t.p[1] == 3.0) power.mul_(base);
      return {false, power.mul_(t.variance)};
    }
    case KernelFamily::kArcCosine: {
      // Inputs (bias, x): |v| |v'| J1(theta) / pi with J1 = sin + (pi - theta) cos
      // and sin(theta) = sqrt(1 - cos^2) on [0, pi].
      const double b2 = t.p[0] * t.p[0];
      const at::Tensor norm = at::sqrt(b2 + x.square());
      at::Tensor norms = at::outer(norm, norm);
      at::Tensor cosine = at::outer(x, x).add_(b2).div_(norms).clamp_(-1.0, 1.0);
      at::Tensor j1 = at::acos(cosine).neg_().add_(kPi).mul_(cosine);
      j1.add_(cosine.square_().neg_().add_(1.0).clamp_min_(0.0).sqrt_());
      return {false, j1.mul_(norms).mul_(t.variance / kPi)};
    }
    case KernelFamily::kSpectral:
      return {true, t.variance * at::cos(2 * kPi * tau / t.p[0]) * rbf(tau, t.p[1])};
  }
  return {true, at::zeros_like(tau)};
}

}  // namespace

GramGrid make_gram_grid(int64_t length, const c10::Device& device) {
  const at::TensorOptions f64 = at::TensorOptions().dtype(at::kDouble).device(device);
  GramGrid grid;
  grid.x = at::linspace(0.0, 1.0, length, f64);
  grid.lags = at::arange(length, f64) / static_cast<double>(length - 1);
  const at::Tensor i = at::arange(length, f64.dtype(at::kLong));
  grid.lag_index = (i.unsqueeze(1) - i.unsqueeze(0)).abs();
  return grid;
}

at::Tensor gram_matrix(const KernelComposition& composition, const GramGrid& grid) {
  Gram result = term_gram(composition.terms.front(), grid);
  for (size_t i = 1; i < composition.terms.size(); ++i) {
    result = combine(result, term_gram(composition.terms[i], grid), composition.ops[i - 1], grid);
  }
  return full(result, grid);
}

}  // namespace crucible
