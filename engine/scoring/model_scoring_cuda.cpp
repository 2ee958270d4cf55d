// Dispatch of the win rate and the bootstrap to the CUDA kernels. The
// replicate means are sorted on the device; only the four order statistics
// per model the bounds need come back, and are interpolated here with the
// same function the CPU path uses.
#include <ATen/ATen.h>

#include <stdexcept>

#include "crucible/cuda/scoring_math.h"
#include "crucible/engine/scoring/model_scoring.h"

#ifdef CRUCIBLE_HAVE_CUDA
#include "crucible/cuda/scoring_kernels.h"
#endif

namespace crucible {

WinRatesAndBounds win_rates_and_bounds_cuda(const at::Tensor& losses,
                                            const ScoringOptions& options) {
#ifdef CRUCIBLE_HAVE_CUDA
  const int64_t models = losses.size(0), series = losses.size(1);
  const int64_t replicates = options.bootstrap_samples;
  const at::TensorOptions on_device = losses.options();

  at::Tensor column_rates = at::empty({series, models}, on_device);
  at::Tensor win_rate = at::empty({models}, on_device);
  launch_win_rates(losses.data_ptr<double>(), models, series, column_rates.data_ptr<double>(),
                   win_rate.data_ptr<double>(), nullptr);

  at::Tensor finite = at::empty({models, series}, on_device);
  at::Tensor counts = at::empty({models}, on_device.dtype(at::kInt));
  at::Tensor means = at::empty({models, replicates}, on_device);
  launch_bootstrap_means(losses.data_ptr<double>(), models, series, options.seed, replicates,
                         finite.data_ptr<double>(), counts.data_ptr<int32_t>(),
                         means.data_ptr<double>(), nullptr);

  const PercentilePosition lo_at = percentile_position(options.ci_alpha / 2, replicates);
  const PercentilePosition hi_at = percentile_position(1 - options.ci_alpha / 2, replicates);
  const at::Tensor columns =
      at::tensor(std::vector<int64_t>{lo_at.below, lo_at.above, hi_at.below, hi_at.above},
                 at::kLong)
          .to(losses.device());
  const at::Tensor order_stats =
      std::get<0>(at::sort(means, 1)).index_select(1, columns).cpu().contiguous();
  const at::Tensor counts_cpu = counts.cpu();
  const at::Tensor win_rate_cpu = win_rate.cpu();

  WinRatesAndBounds result;
  result.win_rate.assign(win_rate_cpu.data_ptr<double>(), win_rate_cpu.data_ptr<double>() + models);
  result.ci_lo.assign(static_cast<size_t>(models), quiet_nan());
  result.ci_hi.assign(static_cast<size_t>(models), quiet_nan());
  const double* stats = order_stats.data_ptr<double>();
  for (int64_t u = 0; u < models; ++u) {
    if (counts_cpu.data_ptr<int32_t>()[u] < 2) continue;
    const double* s = stats + u * 4;
    result.ci_lo[static_cast<size_t>(u)] = interpolate_order_statistics(s[0], s[1], lo_at.weight);
    result.ci_hi[static_cast<size_t>(u)] = interpolate_order_statistics(s[2], s[3], hi_at.weight);
  }
  return result;
#else
  (void)losses, (void)options;
  throw std::runtime_error("crucible was built without CUDA kernels");
#endif
}

}  // namespace crucible
