// Scoring kernels: NaN-aware per-series win rates and Philox bootstrap means.
// The per-element math is in scoring_math.h, shared with the CPU reference in
// engine/scoring/model_scoring_cpu.cpp; every result here is bit-identical to the CPU's
// (integer counts, sums in the same sequential order, no FMA contraction).
#include <cmath>

#include "crucible/cuda/scoring_kernels.h"
#include "crucible/cuda/scoring_math.h"

#include "cuda_check.h"

namespace crucible {
namespace {

constexpr int kThreadsPerBlock = 256;

unsigned blocks_for(int64_t threads) {
  return static_cast<unsigned>((threads + kThreadsPerBlock - 1) / kThreadsPerBlock);
}

// One thread per (series j, model u): count the present values in column j and
// those strictly worse than model u's; rates[j][u] is NaN when u's is missing.
__global__ void column_rates_kernel(const double* losses, int64_t models, int64_t series,
                                    double* rates) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= models * series) return;
  const int64_t j = index / models;
  const int64_t u = index % models;
  const double mine = losses[u * series + j];
  if (is_nan_value(mine)) {
    rates[index] = quiet_nan();
    return;
  }
  int64_t present = 0, worse = 0;
  for (int64_t k = 0; k < models; ++k) {
    const double other = losses[k * series + j];
    present += is_nan_value(other) ? 0 : 1;
    worse += mine < other ? 1 : 0;
  }
  rates[index] = column_win_rate(worse, present);
}

// One thread per model: mean of its defined column rates, in series order.
__global__ void mean_rates_kernel(const double* rates, int64_t models, int64_t series,
                                  double* win_rate) {
  const int64_t u = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (u >= models) return;
  double sum = 0.0;
  int64_t defined = 0;
  for (int64_t j = 0; j < series; ++j) {
    const double r = rates[j * models + u];
    if (!is_nan_value(r)) {
      sum += r;
      ++defined;
    }
  }
  win_rate[u] = defined > 0 ? sum / static_cast<double>(defined) : 0.0;
}

// One thread per model: its finite losses, left-packed in series order.
__global__ void compact_finite_kernel(const double* losses, int64_t models, int64_t series,
                                      double* finite, int32_t* counts) {
  const int64_t u = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (u >= models) return;
  int32_t m = 0;
  for (int64_t j = 0; j < series; ++j) {
    const double v = losses[u * series + j];
    if (isfinite(v)) finite[u * series + m++] = v;
  }
  counts[u] = m;
}

// One thread per (model, replicate): the replicate's mean.
__global__ void bootstrap_means_kernel(const double* finite, const int32_t* counts, int64_t models,
                                       int64_t series, uint64_t seed, int64_t replicates,
                                       double* means) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= models * replicates) return;
  const int64_t u = index / replicates;
  const uint32_t replicate = static_cast<uint32_t>(index % replicates);
  const int32_t m = counts[u];
  if (m < 2) {
    means[index] = quiet_nan();
    return;
  }
  const double sum =
      bootstrap_replicate_sum(finite + u * series, static_cast<uint32_t>(m), seed, replicate);
  means[index] = sum / m;
}

}  // namespace

void launch_win_rates(const double* losses, int64_t num_models, int64_t num_series,
                      double* column_rates, double* win_rate, CUstream_st* stream) {
  if (num_models == 0) return;
  if (num_series > 0) {
    column_rates_kernel<<<blocks_for(num_models * num_series), kThreadsPerBlock, 0, stream>>>(
        losses, num_models, num_series, column_rates);
    throw_on_cuda_error(cudaGetLastError(), "column_rates_kernel launch");
  }
  mean_rates_kernel<<<blocks_for(num_models), kThreadsPerBlock, 0, stream>>>(
      column_rates, num_models, num_series, win_rate);
  throw_on_cuda_error(cudaGetLastError(), "mean_rates_kernel launch");
}

void launch_bootstrap_means(const double* losses, int64_t num_models, int64_t num_series,
                            uint64_t seed, int64_t replicates, double* finite_scratch,
                            int32_t* counts, double* means, CUstream_st* stream) {
  if (num_models == 0) return;
  compact_finite_kernel<<<blocks_for(num_models), kThreadsPerBlock, 0, stream>>>(
      losses, num_models, num_series, finite_scratch, counts);
  throw_on_cuda_error(cudaGetLastError(), "compact_finite_kernel launch");
  if (replicates == 0) return;
  bootstrap_means_kernel<<<blocks_for(num_models * replicates), kThreadsPerBlock, 0, stream>>>(
      finite_scratch, counts, num_models, num_series, seed, replicates, means);
  throw_on_cuda_error(cudaGetLastError(), "bootstrap_means_kernel launch");
}

}  // namespace crucible
