#include "crucible/engine/data/synthetic_gp_torch.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>

#include "crucible/engine/data/gp_gram_torch.h"

namespace crucible {
namespace {

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
    batch.diagonal(0, 1, 2).add_(kGpJitter);
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

}  // namespace

TaskData generate_synthetic_gp(const SyntheticGpOptions& o, const c10::Device& device) {
  if (device.is_cpu()) return generate_synthetic_gp_cpu(o);
  check_synthetic_gp_options(o);
  const int64_t n = o.samples_per_kernel;
  const int64_t kernels = gp_kernel_slots(o);
  const GramGrid grid = make_gram_grid(o.length, device);
  std::vector<KernelComposition> compositions(static_cast<size_t>(kernels));
  const at::Tensor factors = factor_kernels(o, kernels, grid, compositions);

  std::vector<double> draws = gp_normal_draws(o);
  const at::Tensor normals =
      at::from_blob(draws.data(), {kernels, o.length, n}, at::kDouble).to(device);
  // [K, L, L] x [K, L, n] -> [K, L, n] -> series-major [K * n, L], the latent rows.
  const at::Tensor samples = at::matmul(factors, normals)
                                 .permute({0, 2, 1})
                                 .reshape({kernels * n, o.length})
                                 .narrow(0, 0, gp_latent_series(o))
                                 .to(at::kFloat)
                                 .cpu()
                                 .contiguous();
  return gp_task_from_samples(o, samples.data_ptr<float>(), compositions);
}

}  // namespace crucible
