// The CPU synthetic GP generator: per kernel slot, the Gram matrix
// (gram_matrix_cpu), its Cholesky factor (LAPACK dpotrf) and the samples
// (BLAS dtrmm of the factor with the normal draws); then the split.
#include "crucible/engine/data/synthetic_gp.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "crucible/engine/data/counter_rng.h"
#include "crucible/engine/data/multivariate_gp.h"

// LAPACK's Cholesky (Fortran symbol); liblapack.so.3 is OpenBLAS's here.
extern "C" void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);

namespace crucible {
namespace {

// Independent Philox streams of one seed (draw_composition uses stream 1).
constexpr uint32_t kNormalStream = 2;
constexpr uint32_t kSplitStream = 3;

// Factors `matrix` (row-major, symmetric) in place: afterwards its lower
// triangle holds L with L L^T = matrix. Returns false when it is not positive
// definite or not finite. (Row-major lower = column-major upper: dpotrf 'U'.)
bool cholesky_lower_in_place(double* matrix, int n) {
  int info = 0;
  dpotrf_("U", &n, matrix, &n, &info);
  if (info != 0) return false;
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(matrix[static_cast<size_t>(i) * n + i])) return false;
  }
  return true;
}

}  // namespace

void check_synthetic_gp_options(const SyntheticGpOptions& o) {
  if (o.num_series < 1) throw std::invalid_argument("series must be at least 1");
  if (o.length < 2) throw std::invalid_argument("length must be at least 2");
  if (o.samples_per_kernel < 1) {
    throw std::invalid_argument("samples per kernel must be at least 1");
  }
  if (!(o.min_input_fraction > 0.0 && o.min_input_fraction <= o.max_input_fraction &&
        o.max_input_fraction < 1.0)) {
    throw std::invalid_argument("input fractions must satisfy 0 < min <= max < 1");
  }
  if (o.group_targets < 1) throw std::invalid_argument("group targets must be at least 1");
  if (o.past_covariates < 0 || o.known_covariates < 0) {
    throw std::invalid_argument("covariate counts must not be negative");
  }
  if (o.group_targets > kMaxGroupRows || o.past_covariates > kMaxGroupRows ||
      o.known_covariates > kMaxGroupRows || gp_rows_per_group(o) > kMaxGroupRows) {
    throw std::invalid_argument("a group has at most " + std::to_string(kMaxGroupRows) +
                                " rows (targets + covariates)");
  }
  if (o.num_series >= (int64_t{1} << 31) / gp_rows_per_group(o)) {
    throw std::invalid_argument("series x rows per group must be below 2^31");
  }
  if (!(o.known_share >= 0.0 && o.known_share <= 1.0 && o.past_share >= 0.0 &&
        o.past_share <= 1.0)) {
    throw std::invalid_argument("known and past shares must be in [0, 1]");
  }
}

int64_t gp_rows_per_group(const SyntheticGpOptions& o) {
  return o.group_targets + o.past_covariates + o.known_covariates;
}

bool gp_has_groups(const SyntheticGpOptions& o) { return gp_rows_per_group(o) > 1; }

int64_t gp_latent_series(const SyntheticGpOptions& o) {
  return o.num_series * gp_rows_per_group(o);
}

int64_t gp_kernel_slots(const SyntheticGpOptions& o) {
  return (gp_latent_series(o) + o.samples_per_kernel - 1) / o.samples_per_kernel;
}

int64_t gp_split_point(const SyntheticGpOptions& o, int64_t index) {
  CounterRng rng(o.seed, kSplitStream, static_cast<uint32_t>(index));
  const double fraction = rng.uniform(o.min_input_fraction, o.max_input_fraction);
  return std::clamp(static_cast<int64_t>(o.length * fraction), int64_t{1}, o.length - 1);
}

std::vector<double> gp_normal_draws(const SyntheticGpOptions& o) {
  const int64_t n = o.samples_per_kernel, length = o.length;
  const int64_t series = gp_kernel_slots(o) * n;
  std::vector<double> z(static_cast<size_t>(series * length));
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < series; ++s) {
    CounterRng rng(o.seed, kNormalStream, static_cast<uint32_t>(s));
    const int64_t slot = s / n, j = s % n;
    for (int64_t i = 0; i < length; ++i) {
      z[static_cast<size_t>((slot * length + i) * n + j)] = rng.normal();
    }
  }
  return z;
}

TaskData gp_task_from_samples(const SyntheticGpOptions& o, const float* samples,
                              const std::vector<KernelComposition>& compositions) {
  if (gp_has_groups(o)) return assemble_gp_groups(o, samples, compositions);
  std::vector<std::vector<float>> contexts, targets;
  std::vector<std::string> descriptions;
  for (int64_t s = 0; s < o.num_series; ++s) {
    const int64_t split = gp_split_point(o, s);
    const float* row = samples + s * o.length;
    contexts.emplace_back(row, row + split);
    targets.emplace_back(row + split, row + o.length);
    descriptions.push_back(compositions[static_cast<size_t>(s / o.samples_per_kernel)].describe());
  }
  return pad_task(contexts, targets, std::move(descriptions));
}

void throw_not_positive_definite(int64_t slot, int attempts) {
  throw std::runtime_error("kernel " + std::to_string(slot) + " is not positive definite after " +
                           std::to_string(attempts) + " draws");
}

TaskData generate_synthetic_gp_cpu(const SyntheticGpOptions& o) {
  check_synthetic_gp_options(o);
  const int64_t slots = gp_kernel_slots(o), n = o.samples_per_kernel, length = o.length;
  const int len = static_cast<int>(length);
  std::vector<KernelComposition> compositions(static_cast<size_t>(slots));
  std::vector<double> z = gp_normal_draws(o);  // becomes the samples, slot by slot
  std::vector<double> matrix(static_cast<size_t>(length * length));

  for (int64_t slot = 0; slot < slots; ++slot) {
    for (int attempt = 0;; ++attempt) {
      if (attempt == o.max_attempts) throw_not_positive_definite(slot, attempt);
      compositions[slot] =
          draw_composition(o.seed, static_cast<uint32_t>(slot), static_cast<uint32_t>(attempt));
      gram_matrix_cpu(compositions[slot], length, matrix.data());
      for (int64_t i = 0; i < length; ++i) matrix[static_cast<size_t>(i * length + i)] += kGpJitter;
      if (cholesky_lower_in_place(matrix.data(), len)) break;
    }
    // z_slot [L, n] := L z_slot, L the lower triangle of `matrix`.
    cblas_dtrmm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, len,
                static_cast<int>(n), 1.0, matrix.data(), len, z.data() + slot * length * n,
                static_cast<int>(n));
  }

  // [slots, L, n] -> series-major float [latents, L].
  const int64_t latents = gp_latent_series(o);
  std::vector<float> samples(static_cast<size_t>(latents * length));
  for (int64_t s = 0; s < latents; ++s) {
    const int64_t slot = s / n, j = s % n;
    for (int64_t i = 0; i < length; ++i) {
      samples[static_cast<size_t>(s * length + i)] =
          static_cast<float>(z[static_cast<size_t>((slot * length + i) * n + j)]);
    }
  }
  return gp_task_from_samples(o, samples.data(), compositions);
}

}  // namespace crucible
