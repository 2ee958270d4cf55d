// The CPU bootstrap: the AVX2 lanes must equal the scalar function bit for
// bit (the scalar function is what the CUDA kernel runs).
#include "crucible/engine/bootstrap_cpu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace crucible {
namespace {

std::vector<double> losses(uint32_t m) {
  std::vector<double> x(m);
  for (uint32_t i = 0; i < m; ++i) x[i] = std::sin(0.7 * i) * 3.0 + i * 1e-3;
  return x;
}

TEST(BootstrapCpu, SimdLanesEqualScalar) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "no AVX2 on this processor";
  const BootstrapKey keys[] = {{0, 0}, {0xdeadbeefcafef00dULL, -5}, {42, int64_t{1} << 40}};
  for (uint32_t m : {1u, 2u, 3u, 5u, 8u, 1000u, 1023u}) {
    const std::vector<double> x = losses(m);
    for (const BootstrapKey& key : keys) {
      for (int64_t replicates : {1, 7, 8, 9, 67}) {
        std::vector<double> simd(replicates), scalar(replicates);
        bootstrap_means_cpu(x.data(), m, key, replicates, simd.data(), true);
        bootstrap_means_cpu(x.data(), m, key, replicates, scalar.data(), false);
        EXPECT_EQ(simd, scalar) << "m=" << m << " replicates=" << replicates;
      }
    }
  }
}

TEST(BootstrapCpu, MeansStayWithinTheData) {
  const std::vector<double> x = {1.0, 2.0, 5.0};
  std::vector<double> means(64);
  bootstrap_means_cpu(x.data(), 3, BootstrapKey{9, 1}, 64, means.data());
  double lowest = means[0], highest = means[0];
  for (double v : means) {
    EXPECT_GE(v, 1.0);
    EXPECT_LE(v, 5.0);
    lowest = std::fmin(lowest, v);
    highest = std::fmax(highest, v);
  }
  EXPECT_LT(lowest, highest);  // the replicates differ
}

TEST(BootstrapCpu, ReplicateDependsOnlyOnItsKey) {
  // Replicate 11 of a run of 20 equals replicate 11 of a run of 12.
  const std::vector<double> x = losses(100);
  std::vector<double> long_run(20), short_run(12);
  bootstrap_means_cpu(x.data(), 100, BootstrapKey{3, 4}, 20, long_run.data());
  bootstrap_means_cpu(x.data(), 100, BootstrapKey{3, 4}, 12, short_run.data());
  EXPECT_EQ(long_run[11], short_run[11]);
  std::vector<double> other_uid(12);
  bootstrap_means_cpu(x.data(), 100, BootstrapKey{3, 5}, 12, other_uid.data());
  EXPECT_NE(other_uid[11], short_run[11]);
}

}  // namespace
}  // namespace crucible
