// The synthetic dataset of docs/scoring.md section 1: series sampled from Gaussian
// process priors whose kernel is a random sum/product of 2 to 6 kernels from a
// bank of twelve families, split into input and target. A pure function of the
// seed and the options. This is the CPU generator, plain C++ with LAPACK and
// BLAS (no LibTorch, so `crucible synth` starts fast); synthetic_gp_torch.h
// adds the CUDA one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crucible/engine/data/gp_kernel_bank.h"
#include "crucible/engine/data/task_data.h"

namespace crucible {

struct SyntheticGpOptions {
  uint64_t seed = 0;
  int64_t num_series = 100;  // S
  int64_t length = 1024;     // L
  int64_t samples_per_kernel = 50;
  double min_input_fraction = 0.5;
  double max_input_fraction = 0.95;
  int max_attempts = 20;  // redraws of a composition that is not positive definite
  // Rows of each group (multivariate_gp.h); num_series then counts groups.
  // The defaults (1, 0, 0) give the univariate task, each series its own group.
  int64_t group_targets = 1;
  int64_t past_covariates = 0;
  int64_t known_covariates = 0;
  double known_share = 0.8;  // share of a target's variance from the known covariates (when any)
  double past_share = 0.5;   // share of a past covariate's variance from its group's targets
};

constexpr int64_t kMaxGroupRows = 64;

// Throws std::invalid_argument for bad options (S < 1, L < 2, fractions not
// 0 < min <= max < 1, samples_per_kernel < 1, group_targets < 1, negative
// covariate counts, more than kMaxGroupRows rows per group, S x rows of 2^31
// or more, shares outside [0, 1]).
void check_synthetic_gp_options(const SyntheticGpOptions& options);

// Latent series s is sample s % samples_per_kernel of kernel slot
// s / samples_per_kernel; TaskData::descriptions holds each series' kernel as
// text. Univariate options: series s is latent s. Grouped options: the rows of
// group g are built from latents g * rows .. g * rows + rows - 1
// (assemble_gp_groups). Each slot's
// composition is drawn with attempt 0, 1, ... until its Gram matrix + 1e-6 I
// is positive definite. Throws as check_synthetic_gp_options does, and
// std::runtime_error when a slot is still not positive definite after
// max_attempts draws.
TaskData generate_synthetic_gp_cpu(const SyntheticGpOptions& options);

// Pieces both generators share.
constexpr double kGpJitter = 1e-6;
int64_t gp_rows_per_group(const SyntheticGpOptions& options);  // targets + covariates
bool gp_has_groups(const SyntheticGpOptions& options);         // more than one row per group
int64_t gp_latent_series(const SyntheticGpOptions& options);   // S x rows per group
int64_t gp_kernel_slots(const SyntheticGpOptions& options);
// Standard normals, [slots, L, samples_per_kernel] row-major; latent
// s = slot * n + j reads its own Philox stream (seed, s).
std::vector<double> gp_normal_draws(const SyntheticGpOptions& options);
// The input length of series (or group) `index`: Philox stream 3.
int64_t gp_split_point(const SyntheticGpOptions& options, int64_t index);
// The task from the latent samples [gp_latent_series, L] (row-major) and each
// slot's composition.
TaskData gp_task_from_samples(const SyntheticGpOptions& options, const float* samples,
                              const std::vector<KernelComposition>& compositions);
[[noreturn]] void throw_not_positive_definite(int64_t slot, int attempts);

}  // namespace crucible
