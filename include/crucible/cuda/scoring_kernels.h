// Scoring kernels on the GPU: per-series win rates and bootstrap replicate
// means. Raw device pointers in, no LibTorch types. The engine sorts the
// replicate means and forms the bounds (engine/scoring/model_scoring_cuda.cpp).
#pragma once

#include <cstdint>

struct CUstream_st;

namespace crucible {

// losses: [models, series] double, NaN = missing, +inf = a valid worst value.
// column_rates: scratch [series, models]. win_rate: [models], the mean of the
// defined per-series rates (0 when none). Throws std::runtime_error on a launch error.
void launch_win_rates(const double* losses, int64_t num_models, int64_t num_series,
                      double* column_rates, double* win_rate, CUstream_st* stream);

// For each model: its finite losses in series order (finite_scratch [models,
// series], counts [models]), then `replicates` bootstrap means into
// means [models, replicates] (NaN for a model with fewer than 2 finite losses).
// Replicate r draws the same positions for every model with the same count
// (bootstrap_replicate_sum in scoring_math.h: keyed by seed, replicate, draw).
void launch_bootstrap_means(const double* losses, int64_t num_models, int64_t num_series,
                            uint64_t seed, int64_t replicates, double* finite_scratch,
                            int32_t* counts, double* means, CUstream_st* stream);

}  // namespace crucible
