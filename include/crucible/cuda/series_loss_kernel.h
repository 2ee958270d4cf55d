// The fused per-series loss on the GPU: one launch computes the loss of every
// (model, series) pair. Raw device pointers in, no LibTorch types.
#pragma once

#include <cstdint>

#include "crucible/cuda/loss_math.h"

struct CUstream_st;

namespace crucible {

struct SeriesLossArgs {
  const float* forecasts;  // [models, series, horizon, quantiles], contiguous
  const float* targets;    // [series, horizon], contiguous
  const int64_t* lengths;  // [series], each in [0, horizon]
  int64_t num_models;
  int64_t num_series;
  int64_t horizon;
  StepLossParams params;  // params.levels points to device memory
  double* out;            // [models, series]
};

// Enqueues the kernel on `stream`; throws std::runtime_error on a launch error.
void launch_series_loss(const SeriesLossArgs& args, CUstream_st* stream);

}  // namespace crucible
