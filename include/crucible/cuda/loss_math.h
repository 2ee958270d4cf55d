// Per-time-step loss math shared by the CPU loop (engine/scoring/series_losses_cpu.cpp) and the
// fused CUDA kernel (cuda/series_loss_kernel.cu). docs/scoring.md section 3.
//
// A series loss is sum_t numerator(t) / denominator, t < n. For every metric
// but WQL the denominator is n; WQL divides by sum_t |y_t|. step_loss() returns
// the numerator of one step; the callers sum steps in double.
#pragma once

#include <cmath>
#include <cstdint>

#include "crucible/cuda/host_device.h"

namespace crucible {

// Metric identifiers; the numbers are part of the kernel ABI.
enum class LossMetric : int32_t { kCrps = 0, kPinball = 1, kWql = 2, kMae = 3, kMse = 4 };

// Largest number of forecast values per step the kernels accept (a local array).
constexpr int kMaxQuantiles = 64;

// The default quantile count (levels 0.1 .. 0.9); loops get a fixed-q version.
constexpr int kDefaultQuantileCount = 9;

constexpr double kForecastClamp = 1e9;

CRUCIBLE_HD inline bool is_finite_value(double v) { return v - v == 0.0; }

// A non-finite target becomes 0.
CRUCIBLE_HD inline double sanitize_target(float y) {
  const double v = y;
  return is_finite_value(v) ? v : 0.0;
}

// NaN and +inf forecasts become +1e9, -inf becomes -1e9.
CRUCIBLE_HD inline double sanitize_forecast(float x) {
  const double v = x;
  if (is_finite_value(v)) return v;
  return v < 0.0 ? -kForecastClamp : kForecastClamp;
}

// Sorts x[0..q) ascending (q is small: quantile forecasts).
CRUCIBLE_HD inline void insertion_sort(double* x, int q) {
  for (int i = 1; i < q; ++i) {
    const double key = x[i];
    int k = i - 1;
    while (k >= 0 && x[k] > key) {
      x[k + 1] = x[k];
      --k;
    }
    x[k + 1] = key;
  }
}

// CRPS of the empirical distribution of sorted x[0..q) at observation y:
//   (1/q) sum_i |x_i - y| - (1/(2 q^2)) sum_i sum_k |x_i - x_k|,
// with the pairwise sum over sorted values equal to 2 sum_i (2i - q - 1) x_i
// (i counted from 1), so the whole is O(q).
CRUCIBLE_HD inline double crps_sorted(const double* x, int q, double y) {
  double abs_error = 0.0;
  double spread = 0.0;
  for (int i = 0; i < q; ++i) {
    abs_error += fabs(x[i] - y);  // branch-free: y falls anywhere among the x_i
    spread += static_cast<double>(2 * i + 1 - q) * x[i];
  }
  return abs_error / q - spread / (static_cast<double>(q) * q);
}

// Pinball loss of the forecast x at level `level` for observation y:
// level * d when d = y - x >= 0, else (level - 1) * d; the larger of the two
// either way, which needs no branch.
CRUCIBLE_HD inline double pinball(double x, double level, double y) {
  const double d = y - x;
  return fmax(level * d, (level - 1.0) * d);
}

// CRPS of one step from raw forecast values fc[0..q): sanitised into
// `scratch`, sorted only when out of order (quantile forecasts arrive sorted).
CRUCIBLE_HD inline double crps_step(const float* fc, int q, double y, double* scratch) {
  bool ascending = true;
  for (int i = 0; i < q; ++i) {
    scratch[i] = sanitize_forecast(fc[i]);
    ascending &= i == 0 || scratch[i - 1] <= scratch[i];
  }
  if (!ascending) insertion_sort(scratch, q);
  return crps_sorted(scratch, q, y);
}

// Everything a step needs to know about the task besides the data.
struct StepLossParams {
  LossMetric metric;
  int32_t num_quantiles;  // q: forecast values per step
  int32_t median_index;   // index of the level nearest 0.5 (MAE, MSE)
  const double* levels;   // q quantile levels (pinball, WQL); may be null for CRPS
};

// The quantile count of a step: kQuantiles when it is fixed at compile time
// (> 0, so the loops over q unroll), else the run-time p.num_quantiles.
template <int kQuantiles>
CRUCIBLE_HD inline int quantile_count(const StepLossParams& p) {
  return kQuantiles > 0 ? kQuantiles : p.num_quantiles;
}

// Numerator contribution of one time step: raw forecast values fc[0..q) and
// raw target y, sanitised here. `scratch` holds at least q doubles. The metric
// is a template argument so the loops over steps carry no switch.
template <LossMetric kMetric, int kQuantiles = 0>
CRUCIBLE_HD inline double step_loss(const StepLossParams& p, const float* fc, float y_raw,
                                    double* scratch) {
  const double y = sanitize_target(y_raw);
  const int q = quantile_count<kQuantiles>(p);
  if constexpr (kMetric == LossMetric::kCrps) {
    return crps_step(fc, q, y, scratch);
  } else if constexpr (kMetric == LossMetric::kPinball || kMetric == LossMetric::kWql) {
    double sum = 0.0;
    for (int i = 0; i < q; ++i) sum += pinball(sanitize_forecast(fc[i]), p.levels[i], y);
    // WQL (GluonTS convention) weighs the pinball loss by 2.
    return (kMetric == LossMetric::kWql ? 2.0 : 1.0) * sum / q;
  } else if constexpr (kMetric == LossMetric::kMae) {
    return fabs(sanitize_forecast(fc[p.median_index]) - y);
  } else {
    const double d = sanitize_forecast(fc[p.median_index]) - y;
    return d * d;
  }
}

// Denominator contribution of one step: 1, or |y| for WQL.
template <LossMetric kMetric>
CRUCIBLE_HD inline double step_weight(float y_raw) {
  if constexpr (kMetric == LossMetric::kWql) {
    return fabs(sanitize_target(y_raw));
  } else {
    return 1.0;
  }
}

// Sums of step_loss and step_weight over steps t = first, first + stride, ...
// below n of one series (forecast [H, q], target [H]). The CPU calls it with
// (0, 1), a CUDA lane with (lane, 32).
struct StepSums {
  double numerator;
  double weight;
};

template <LossMetric kMetric, int kQuantiles = 0>
CRUCIBLE_HD inline StepSums sum_steps(const StepLossParams& p, const float* forecast,
                                      const float* target, int64_t n, int64_t first, int64_t stride,
                                      double* scratch) {
  const int q = quantile_count<kQuantiles>(p);
  StepSums sums{0.0, 0.0};
  for (int64_t t = first; t < n; t += stride) {
    sums.numerator += step_loss<kMetric, kQuantiles>(p, forecast + t * q, target[t], scratch);
    sums.weight += step_weight<kMetric>(target[t]);
  }
  return sums;
}

// Series loss from the summed numerators and weights over n steps; NaN when
// the series is empty (n = 0) or, for WQL, when sum |y| is 0.
CRUCIBLE_HD inline double finish_series_loss(double numerator, double weight, int64_t n) {
  if (n <= 0 || !(weight > 0.0)) return quiet_nan();
  return numerator / weight;
}

}  // namespace crucible
