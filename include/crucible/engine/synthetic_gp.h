// The synthetic dataset of SCORING.md section 1: series sampled from Gaussian
// process priors whose kernel is a random sum/product of 2 to 6 kernels from a
// bank of twelve families, split into input and target. A pure function of the
// seed and the options; computed on the CPU or a CUDA device with LibTorch
// (batched Gram matrices, one batched Cholesky, one batched matmul).
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

#include "crucible/engine/task_data.h"

namespace crucible {

struct SyntheticGpOptions {
  uint64_t seed = 0;
  int64_t num_series = 100;  // S
  int64_t length = 1024;     // L
  int64_t samples_per_kernel = 50;
  double min_input_fraction = 0.5;
  double max_input_fraction = 0.95;
  int max_attempts = 20;  // redraws of a composition that is not positive definite
};

// Series s is sample s % samples_per_kernel of kernel s / samples_per_kernel;
// TaskData::descriptions holds each series' kernel as text.
// Throws std::invalid_argument for bad options (S < 1, L < 2, fractions not
// 0 < min <= max < 1, samples_per_kernel < 1) and std::runtime_error when a
// kernel is still not positive definite after max_attempts draws.
TaskData generate_synthetic_gp(const SyntheticGpOptions& options, const c10::Device& device);

}  // namespace crucible
