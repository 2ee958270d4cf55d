#include "crucible/engine/scoring/bootstrap_cpu.h"

#include "crucible/cuda/scoring_math.h"

namespace crucible {

bool cpu_has_avx2() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

void bootstrap_means_cpu(const double* finite, uint32_t m, uint64_t seed, int64_t replicates,
                         double* means, bool allow_simd) {
  int64_t r = 0;
#if defined(__x86_64__)
  if (allow_simd && cpu_has_avx2()) {
    for (; r + 8 <= replicates; r += 8) {
      bootstrap_sums_avx2(finite, m, seed, static_cast<uint32_t>(r), means + r);
      for (int lane = 0; lane < 8; ++lane) means[r + lane] /= m;
    }
  }
#else
  (void)allow_simd;
#endif
  for (; r < replicates; ++r) {
    means[r] = bootstrap_replicate_sum(finite, m, seed, static_cast<uint32_t>(r)) / m;
  }
}

}  // namespace crucible
