// CPU reference of the win rate and the bootstrap bounds. Same per-element
// math as cuda/scoring_kernels.cu (scoring_math.h) and the same summation
// order, so the results are bit-identical to the GPU's.
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "crucible/cuda/scoring_math.h"
#include "crucible/engine/scoring/bootstrap_cpu.h"
#include "crucible/engine/scoring/model_scoring.h"

namespace crucible {
namespace {

// rates[j * U + u]: model u's win rate in series j, NaN where u's loss is NaN.
// Per column, sorting the present values turns each count into a binary search.
std::vector<double> column_rates(const double* losses, int64_t models, int64_t series) {
  std::vector<double> rates(static_cast<size_t>(models * series));
  at::parallel_for(0, series, 16, [&](int64_t begin, int64_t end) {
    std::vector<double> present;
    for (int64_t j = begin; j < end; ++j) {
      present.clear();
      for (int64_t u = 0; u < models; ++u) {
        const double v = losses[u * series + j];
        if (!is_nan_value(v)) present.push_back(v);
      }
      std::sort(present.begin(), present.end());
      const int64_t n = static_cast<int64_t>(present.size());
      for (int64_t u = 0; u < models; ++u) {
        const double mine = losses[u * series + j];
        double& rate = rates[static_cast<size_t>(j * models + u)];
        if (is_nan_value(mine)) {
          rate = quiet_nan();
          continue;
        }
        const int64_t not_worse =
            std::upper_bound(present.begin(), present.end(), mine) - present.begin();
        rate = column_win_rate(n - not_worse, n);
      }
    }
  });
  return rates;
}

std::vector<double> mean_rates(const std::vector<double>& rates, int64_t models, int64_t series) {
  std::vector<double> win_rate(static_cast<size_t>(models));
  for (int64_t u = 0; u < models; ++u) {
    double sum = 0.0;
    int64_t defined = 0;
    for (int64_t j = 0; j < series; ++j) {
      const double r = rates[static_cast<size_t>(j * models + u)];
      if (!is_nan_value(r)) {
        sum += r;
        ++defined;
      }
    }
    win_rate[static_cast<size_t>(u)] = defined > 0 ? sum / static_cast<double>(defined) : 0.0;
  }
  return win_rate;
}

}  // namespace

WinRatesAndBounds win_rates_and_bounds_cpu(const at::Tensor& losses,
                                           const ScoringOptions& options) {
  const int64_t models = losses.size(0), series = losses.size(1);
  const double* data = losses.data_ptr<double>();
  WinRatesAndBounds result;
  result.win_rate = mean_rates(column_rates(data, models, series), models, series);
  result.ci_lo.assign(static_cast<size_t>(models), quiet_nan());
  result.ci_hi.assign(static_cast<size_t>(models), quiet_nan());

  const int64_t replicates = options.bootstrap_samples;
  const PercentilePosition lo_at = percentile_position(options.ci_alpha / 2, replicates);
  const PercentilePosition hi_at = percentile_position(1 - options.ci_alpha / 2, replicates);
  at::parallel_for(0, models, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> finite, means(static_cast<size_t>(replicates));
    for (int64_t u = begin; u < end; ++u) {
      finite.clear();
      for (int64_t j = 0; j < series; ++j) {
        const double v = data[u * series + j];
        if (std::isfinite(v)) finite.push_back(v);
      }
      const uint32_t m = static_cast<uint32_t>(finite.size());
      if (m < 2) continue;
      bootstrap_means_cpu(finite.data(), m, options.seed, replicates, means.data());
      std::sort(means.begin(), means.end());
      result.ci_lo[static_cast<size_t>(u)] =
          interpolate_order_statistics(means[static_cast<size_t>(lo_at.below)],
                                       means[static_cast<size_t>(lo_at.above)], lo_at.weight);
      result.ci_hi[static_cast<size_t>(u)] =
          interpolate_order_statistics(means[static_cast<size_t>(hi_at.below)],
                                       means[static_cast<size_t>(hi_at.above)], hi_at.weight);
    }
  });
  return result;
}

}  // namespace crucible
