// Dispatch of the per-series loss to the fused CUDA kernel.
#include <ATen/core/Tensor.h>

#include <stdexcept>

#include "crucible/engine/scoring/series_losses.h"

#ifdef CRUCIBLE_HAVE_CUDA
#include "crucible/cuda/series_loss_kernel.h"
#endif

namespace crucible {

void series_losses_cuda(const StepLossParams& params, const at::Tensor& targets,
                        const at::Tensor& forecasts, const at::Tensor& lengths, at::Tensor& out) {
#ifdef CRUCIBLE_HAVE_CUDA
  SeriesLossArgs args{};
  args.forecasts = forecasts.data_ptr<float>();
  args.targets = targets.data_ptr<float>();
  args.lengths = lengths.data_ptr<int64_t>();
  args.num_models = forecasts.size(0);
  args.num_series = targets.size(0);
  args.horizon = targets.size(1);
  args.params = params;
  args.out = out.data_ptr<double>();
  launch_series_loss(args, nullptr);
#else
  (void)params, (void)targets, (void)forecasts, (void)lengths, (void)out;
  throw std::runtime_error("crucible was built without CUDA kernels");
#endif
}

}  // namespace crucible
