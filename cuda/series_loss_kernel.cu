// Fused per-series loss: sanitise, per-step loss (CRPS, pinball, WQL, MAE,
// MSE), masked mean over the true target length, for all models x series in
// one launch. The step math is crucible::step_loss (loss_math.h), the same
// function the CPU reference loop in engine/scoring/series_losses_cpu.cpp calls; the GPU test
// (tests/gpu_agreement_test.cpp) compares the two.
//
// Layout: one warp per (model, series). Lane l handles steps l, l+32, ...; a
// warp reads 32 consecutive steps of q floats, a contiguous span. The partial
// sums are reduced with shuffles, so the result may differ from the CPU's
// sequential sum in the last bits (stated tolerance: 1e-12 relative).
#include "crucible/cuda/series_loss_kernel.h"

#include "cuda_check.h"

namespace crucible {
namespace {

constexpr int kWarp = 32;
constexpr int kThreadsPerBlock = 256;

__device__ double warp_sum(double v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

template <LossMetric kMetric, int kQuantiles>
__global__ void series_loss_kernel(SeriesLossArgs a) {
  const int64_t thread = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t pair = thread / kWarp;  // model * num_series + series
  const int lane = threadIdx.x % kWarp;
  if (pair >= a.num_models * a.num_series) return;  // the whole warp leaves together

  const int64_t series = pair % a.num_series;
  const int64_t n = a.lengths[series];
  double scratch[kMaxQuantiles];
  const StepSums sums = sum_steps<kMetric, kQuantiles>(
      a.params, a.forecasts + pair * a.horizon * a.params.num_quantiles,
      a.targets + series * a.horizon, n, lane, kWarp, scratch);
  const double numerator = warp_sum(sums.numerator);
  const double weight = warp_sum(sums.weight);
  if (lane == 0) a.out[pair] = finish_series_loss(numerator, weight, n);
}

// The default nine levels get a kernel with q fixed at compile time.
template <LossMetric kMetric>
void launch(const SeriesLossArgs& args, unsigned blocks, CUstream_st* stream) {
  if (args.params.num_quantiles == kDefaultQuantileCount) {
    series_loss_kernel<kMetric, kDefaultQuantileCount>
        <<<blocks, kThreadsPerBlock, 0, stream>>>(args);
  } else {
    series_loss_kernel<kMetric, 0><<<blocks, kThreadsPerBlock, 0, stream>>>(args);
  }
}

}  // namespace

void launch_series_loss(const SeriesLossArgs& args, CUstream_st* stream) {
  const int64_t threads = args.num_models * args.num_series * kWarp;
  if (threads == 0) return;
  const int64_t blocks = (threads + kThreadsPerBlock - 1) / kThreadsPerBlock;
  const unsigned grid = static_cast<unsigned>(blocks);
  switch (args.params.metric) {
    case LossMetric::kCrps:
      launch<LossMetric::kCrps>(args, grid, stream);
      break;
    case LossMetric::kPinball:
      launch<LossMetric::kPinball>(args, grid, stream);
      break;
    case LossMetric::kWql:
      launch<LossMetric::kWql>(args, grid, stream);
      break;
    case LossMetric::kMae:
      launch<LossMetric::kMae>(args, grid, stream);
      break;
    case LossMetric::kMse:
      launch<LossMetric::kMse>(args, grid, stream);
      break;
  }
  throw_on_cuda_error(cudaGetLastError(), "series_loss_kernel launch");
}

}  // namespace crucible
