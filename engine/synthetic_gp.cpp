#include "crucible/engine/synthetic_gp.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <stdexcept>

#include "crucible/engine/counter_rng.h"
#include "crucible/engine/gp_kernel_bank.h"

namespace crucible {
namespace {

// Independent Philox streams of one seed (draw_composition uses stream 1).
constexpr uint32_t kNormalStream = 2;
constexpr uint32_t kSplitStream = 3;
constexpr double kJitter = 1e-6;

void check_options(const SyntheticGpOptions& o) {
  if (o.num_series < 1) throw std::invalid_argument("series must be at least 1");
  if (o.length < 2) throw std::invalid_argument("length must be at least 2");
  if (o.samples_per_kernel < 1)
    throw std::invalid_argument("samples per kernel must be at least 1");
  if (!(o.min_input_fraction > 0.0 && o.min_input_fraction <= o.max_input_fraction &&
        o.max_input_fraction < 1.0)) {
    throw std::invalid_argument("input fractions must satisfy 0 < min <= max < 1");
  }
}

// Cholesky factors [K, L, L] of every kernel slot's Gram matrix + jitter; a
// slot whose matrix is not positive definite (or not finite) is redrawn with
// the next attempt number. All slots still to factor go in one batch, built
// in place.
at::Tensor factor_kernels(const SyntheticGpOptions& o, int64_t kernels, const GramGrid& grid,
                          std::vector<KernelComposition>& compositions) {
  std::vector<uint32_t> attempts(static_cast<size_t>(kernels), 0);
  at::Tensor factors;  // the first batch's result; redrawn slots are copied in
  std::vector<int64_t> pending_slots(static_cast<size_t>(kernels));
  for (int64_t k = 0; k < kernels; ++k) pending_slots[static_cast<size_t>(k)] = k;

  while (!pending_slots.empty()) {
    const int64_t count = static_cast<int64_t>(pending_slots.size());
    at::Tensor batch = at::empty({count, o.length, o.length}, grid.x.options());
    for (int64_t i = 0; i < count; ++i) {
      const int64_t k = pending_slots[static_cast<size_t>(i)];
      compositions[k] = draw_composition(o.seed, static_cast<uint32_t>(k), attempts[k]);
      batch[i].copy_(gram_matrix(compositions[k], grid));
    }
    batch.diagonal(0, 1, 2).add_(kJitter);
    const auto [chol, info] = at::linalg_cholesky_ex(batch);
    // A NaN anywhere in a matrix reaches its factor's diagonal.
    const at::Tensor ok = (info == 0).logical_and(chol.diagonal(0, 1, 2).isfinite().all(1)).cpu();
    if (!factors.defined()) factors = chol;
    std::vector<int64_t> failed;
    for (int64_t i = 0; i < count; ++i) {
      const int64_t k = pending_slots[static_cast<size_t>(i)];
      if (ok[i].item<bool>()) {
        if (!factors.is_same(chol)) factors[k].copy_(chol[i]);
      } else if (++attempts[k] >= static_cast<uint32_t>(o.max_attempts)) {
        throw std::runtime_error("kernel " + std::to_string(k) +
                                 " is not positive definite after " +
                                 std::to_string(o.max_attempts) + " draws");
      } else {
        failed.push_back(k);
      }
    }
    pending_slots = std::move(failed);
  }
  return factors;
}

// Standard normals [K, L, n]: series s = k * n + j reads stream (seed, s).
at::Tensor normal_draws(const SyntheticGpOptions& o, int64_t kernels) {
  const int64_t n = o.samples_per_kernel, length = o.length;
  at::Tensor z = at::empty({kernels, length, n}, at::kDouble);
  double* data = z.data_ptr<double>();
  at::parallel_for(0, kernels * n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      CounterRng rng(o.seed, kNormalStream, static_cast<uint32_t>(s));
      const int64_t k = s / n, j = s % n;
      for (int64_t i = 0; i < length; ++i) data[(k * length + i) * n + j] = rng.normal();
    }
  });
  return z;
}

}  // namespace

TaskData generate_synthetic_gp(const SyntheticGpOptions& o, const c10::Device& device) {
  check_options(o);
  const int64_t n = o.samples_per_kernel;
  const int64_t kernels = (o.num_series + n - 1) / n;
  const GramGrid grid = make_gram_grid(o.length, device);
  std::vector<KernelComposition> compositions(static_cast<size_t>(kernels));
  const at::Tensor factors = factor_kernels(o, kernels, grid, compositions);

  // [K, L, L] x [K, L, n] -> [K, L, n] -> series-major [K * n, L], first S rows.
  const at::Tensor samples = at::matmul(factors, normal_draws(o, kernels).to(device))
                                 .permute({0, 2, 1})
                                 .reshape({kernels * n, o.length})
                                 .narrow(0, 0, o.num_series)
                                 .to(at::kFloat)
                                 .cpu()
                                 .contiguous();

  std::vector<std::vector<float>> contexts, targets;
  std::vector<std::string> descriptions;
  const float* data = samples.data_ptr<float>();
  for (int64_t s = 0; s < o.num_series; ++s) {
    CounterRng rng(o.seed, kSplitStream, static_cast<uint32_t>(s));
    const double fraction = rng.uniform(o.min_input_fraction, o.max_input_fraction);
    const int64_t split =
        std::clamp(static_cast<int64_t>(o.length * fraction), int64_t{1}, o.length - 1);
    const float* row = data + s * o.length;
    contexts.emplace_back(row, row + split);
    targets.emplace_back(row + split, row + o.length);
    descriptions.push_back(compositions[static_cast<size_t>(s / n)].describe());
  }
  return pad_task(contexts, targets, std::move(descriptions));
}

}  // namespace crucible
