// The CPU bootstrap: the AVX2 lanes must equal the scalar function bit for
// bit (the scalar function is what the CUDA kernel runs), and the draws are
// those of the numpy oracle's Philox.
#include "crucible/engine/scoring/bootstrap_cpu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <utility>
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
  const uint64_t seeds[] = {0, 0xdeadbeefcafef00dULL, 42};
  for (uint32_t m : {1u, 2u, 3u, 5u, 8u, 1000u, 1023u}) {
    const std::vector<double> x = losses(m);
    for (uint64_t seed : seeds) {
      for (int64_t replicates : {1, 7, 8, 9, 67}) {
        std::vector<double> simd(replicates), scalar(replicates);
        bootstrap_means_cpu(x.data(), m, seed, replicates, simd.data(), true);
        bootstrap_means_cpu(x.data(), m, seed, replicates, scalar.data(), false);
        EXPECT_EQ(simd, scalar) << "m=" << m << " replicates=" << replicates;
      }
    }
  }
}

TEST(BootstrapCpu, MeansStayWithinTheData) {
  const std::vector<double> x = {1.0, 2.0, 5.0};
  std::vector<double> means(64);
  bootstrap_means_cpu(x.data(), 3, 9, 64, means.data());
  double lowest = means[0], highest = means[0];
  for (double v : means) {
    EXPECT_GE(v, 1.0);
    EXPECT_LE(v, 5.0);
    lowest = std::fmin(lowest, v);
    highest = std::fmax(highest, v);
  }
  EXPECT_LT(lowest, highest);  // the replicates differ
}

TEST(BootstrapCpu, ReplicateDependsOnlyOnSeedAndIndex) {
  // Replicate 11 of a run of 20 equals replicate 11 of a run of 12.
  const std::vector<double> x = losses(100);
  std::vector<double> long_run(20), short_run(12);
  bootstrap_means_cpu(x.data(), 100, 3, 20, long_run.data());
  bootstrap_means_cpu(x.data(), 100, 3, 12, short_run.data());
  EXPECT_EQ(long_run[11], short_run[11]);
  std::vector<double> other_seed(12);
  bootstrap_means_cpu(x.data(), 100, 4, 12, other_seed.data());
  EXPECT_NE(other_seed[11], short_run[11]);
}

TEST(BootstrapCpu, DrawsMatchTheNumpyOracle) {
  // Losses 10^i: a replicate's sum spells how often it drew each index, one
  // decimal digit each. Expected sums from tests/python/oracle.py
  // (bootstrap_indices(5, 10, seed), its own numpy Philox4x32-10); the first 8
  // replicates run in AVX2 lanes where available, the last 2 in scalar code.
  const std::vector<double> x = {1, 10, 100, 1000, 10000};
  const std::vector<std::pair<uint64_t, std::vector<double>>> cases = {
      {42, {11111, 212, 11300, 3200, 21020, 1022, 11111, 13100, 12011, 221}},
      {0xdeadbeefcafef00dULL,
       {11012, 11102, 13010, 10202, 11012, 11210, 12020, 13001, 11120, 20210}}};
  for (const auto& [seed, sums] : cases) {
    for (bool simd : {true, false}) {
      std::vector<double> means(sums.size());
      bootstrap_means_cpu(x.data(), 5, seed, static_cast<int64_t>(sums.size()), means.data(), simd);
      for (size_t r = 0; r < sums.size(); ++r) {
        EXPECT_EQ(means[r], sums[r] / 5) << "seed " << seed << " replicate " << r;
      }
    }
  }
}

}  // namespace
}  // namespace crucible
