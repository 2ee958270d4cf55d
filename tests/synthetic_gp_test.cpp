// The synthetic GP dataset: determinism, the split rule and padding, and
// statistical checks that would catch a broken kernel (docs/scoring.md section 1).
#include "crucible/engine/data/synthetic_gp_torch.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "crucible/engine/data/gp_gram_torch.h"
#include "crucible/engine/device.h"

namespace crucible {
namespace {

const c10::Device kCpu(c10::kCPU);

SyntheticGpOptions small_options(uint64_t seed) {
  SyntheticGpOptions o;
  o.seed = seed;
  o.num_series = 30;
  o.length = 128;
  o.samples_per_kernel = 7;  // 5 kernels, the last one partly used
  return o;
}

TEST(SyntheticGp, SameSeedSameDataOtherSeedOtherData) {
  const TaskData a = generate_synthetic_gp(small_options(1), kCpu);
  const TaskData b = generate_synthetic_gp(small_options(1), kCpu);
  const TaskData c = generate_synthetic_gp(small_options(2), kCpu);
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.targets, b.targets);
  EXPECT_EQ(a.input_lengths, b.input_lengths);
  EXPECT_EQ(a.descriptions, b.descriptions);
  EXPECT_NE(a.inputs, c.inputs);
}

TEST(SyntheticGp, SplitRuleAndPaddingOnEverySeries) {
  const SyntheticGpOptions o = small_options(5);
  const TaskData t = generate_synthetic_gp(o, kCpu);
  ASSERT_EQ(t.num_series, o.num_series);
  int64_t widest_input = 0, widest_target = 0;
  for (int64_t s = 0; s < t.num_series; ++s) {
    const int64_t n_in = t.input_lengths[s], n_out = t.target_lengths[s];
    EXPECT_EQ(n_in + n_out, o.length);
    EXPECT_GE(n_in, static_cast<int64_t>(o.length * o.min_input_fraction));
    EXPECT_LE(n_in, static_cast<int64_t>(o.length * o.max_input_fraction));
    widest_input = std::max(widest_input, n_in);
    widest_target = std::max(widest_target, n_out);
    for (int64_t i = n_in; i < t.input_width; ++i) EXPECT_EQ(t.inputs[s * t.input_width + i], 0.f);
    for (int64_t i = n_out; i < t.target_width; ++i) {
      EXPECT_EQ(t.targets[s * t.target_width + i], 0.f);
    }
    EXPECT_FALSE(t.descriptions[s].empty());
  }
  EXPECT_EQ(t.input_width, widest_input);
  EXPECT_EQ(t.target_width, widest_target);
  // Series of one kernel share its description; the next kernel has its own.
  EXPECT_EQ(t.descriptions[0], t.descriptions[6]);
  EXPECT_NE(t.descriptions[6], t.descriptions[7]);
}

TEST(SyntheticGp, RefusesBadOptions) {
  SyntheticGpOptions o = small_options(1);
  o.length = 1;
  EXPECT_THROW(generate_synthetic_gp(o, kCpu), std::invalid_argument);
  o = small_options(1);
  o.min_input_fraction = 0.9;
  o.max_input_fraction = 0.5;
  EXPECT_THROW(generate_synthetic_gp(o, kCpu), std::invalid_argument);
}

TEST(KernelBank, CompositionsAreDeterministicAndVaried) {
  EXPECT_EQ(draw_composition(3, 4, 0).describe(), draw_composition(3, 4, 0).describe());
  EXPECT_NE(draw_composition(3, 4, 0).describe(), draw_composition(3, 4, 1).describe());
  for (uint32_t k = 0; k < 50; ++k) {
    const KernelComposition c = draw_composition(11, k, 0);
    EXPECT_GE(c.terms.size(), 2u);
    EXPECT_LE(c.terms.size(), 6u);
    EXPECT_EQ(c.ops.size(), c.terms.size() - 1);
  }
}

// The CPU Gram (plain loops, the CPU generator's) against the LibTorch one
// (the CUDA generator's), on 200 random compositions covering every family.
TEST(KernelBank, CpuAndTensorOpGramMatricesAgree) {
  const int64_t length = 97;
  const GramGrid grid = make_gram_grid(length, kCpu);
  at::Tensor cpu = at::empty({length, length}, at::kDouble);
  for (uint32_t k = 0; k < 200; ++k) {
    const KernelComposition c = draw_composition(21, k, 0);
    gram_matrix_cpu(c, length, cpu.data_ptr<double>());
    const at::Tensor ops = gram_matrix(c, grid);
    const double scale = ops.abs().max().item<double>();
    EXPECT_LE((cpu - ops).abs().max().item<double>(), 1e-12 * (1 + scale)) << c.describe();
  }
}

TEST(KernelBank, EveryFamilyGivesASymmetricPositiveSemidefiniteMatrix) {
  const GramGrid grid = make_gram_grid(64, kCpu);
  for (int f = 0; f < kKernelFamilies; ++f) {
    KernelTerm t;
    t.family = static_cast<KernelFamily>(f);
    t.p[0] = 0.3;
    t.p[1] = f == static_cast<int>(KernelFamily::kMatern) ? 1.5 : 2.0;
    t.p[2] = 0.2;
    t.p[3] = 0.1;
    const at::Tensor k = gram_matrix(KernelComposition{{t}, {}}, grid);
    EXPECT_TRUE(at::allclose(k, k.t(), 0, 1e-12)) << "family " << f;
    const double smallest = at::linalg_eigvalsh(k).min().item<double>();
    EXPECT_GT(smallest, -1e-8 * k.abs().max().item<double>()) << "family " << f;
  }
}

// Samples of a single kernel (the test's own sampler, independent of the
// generator's): [samples, L].
at::Tensor sample(const KernelTerm& term, int64_t length, int64_t samples) {
  const GramGrid grid = make_gram_grid(length, kCpu);
  const at::Tensor k = gram_matrix(KernelComposition{{term}, {}}, grid);
  const at::Tensor chol = at::linalg_cholesky(k + 1e-6 * at::eye(length, at::kDouble));
  at::manual_seed(17);
  return at::matmul(chol, at::randn({length, samples}, at::kDouble)).t();
}

TEST(KernelBank, RbfSampleCovarianceMatchesTheKernel) {
  KernelTerm rbf;
  rbf.family = KernelFamily::kRbf;
  rbf.variance = 1.0;
  rbf.p[0] = 0.1;
  const int64_t length = 64, samples = 20000;
  const at::Tensor x = sample(rbf, length, samples);
  for (int64_t d : {0, 3, 6, 12}) {
    const double tau = static_cast<double>(d) / (length - 1);
    const double expected = std::exp(-tau * tau / (2 * 0.1 * 0.1));
    const double measured = (x.select(1, 10) * x.select(1, 10 + d)).mean().item<double>();
    // Standard error of a product of unit normals is at most sqrt(2 / n) ~ 0.01.
    EXPECT_NEAR(measured, expected, 0.05) << "lag " << d;
  }
}

TEST(KernelBank, PeriodicSamplesRepeatAtThePeriod) {
  KernelTerm periodic;
  periodic.family = KernelFamily::kPeriodic;
  periodic.p[0] = 0.25;  // period: 16 steps of 1/64 on 65 points
  periodic.p[1] = 1.0;
  const at::Tensor x = sample(periodic, 65, 50);
  const at::Tensor shift = x.narrow(1, 0, 49) - x.narrow(1, 16, 49);
  EXPECT_LT(shift.abs().max().item<double>(), 1e-2 * x.abs().max().item<double>());
}

TEST(KernelBank, WhiteNoiseIsUncorrelated) {
  KernelTerm white;
  white.family = KernelFamily::kWhiteNoise;
  white.variance = 1.0;
  const at::Tensor x = sample(white, 32, 20000);
  const double neighbours = (x.select(1, 5) * x.select(1, 6)).mean().item<double>();
  const double variance = (x.select(1, 5) * x.select(1, 5)).mean().item<double>();
  EXPECT_NEAR(neighbours, 0.0, 0.05);
  EXPECT_NEAR(variance, 1.0, 0.05);
}

// Univariate, and grouped (2 targets, a past and a known covariate per
// group: the host assembly on the CUDA generator's latents).
TEST(SyntheticGp, CudaMatchesCpu) {
  if (!cuda_usable()) GTEST_SKIP() << "no CUDA device (or built without CUDA)";
  SyntheticGpOptions grouped = small_options(9);
  grouped.group_targets = 2;
  grouped.past_covariates = 1;
  grouped.known_covariates = 1;
  for (const SyntheticGpOptions& o : {small_options(9), grouped}) {
    const TaskData cpu = generate_synthetic_gp(o, kCpu);
    const TaskData gpu = generate_synthetic_gp(o, c10::Device(c10::kCUDA, 0));
    EXPECT_EQ(cpu.input_lengths, gpu.input_lengths);
    EXPECT_EQ(cpu.descriptions, gpu.descriptions);
    EXPECT_EQ(cpu.group_ids, gpu.group_ids);
    ASSERT_EQ(cpu.inputs.size(), gpu.inputs.size());
    for (size_t i = 0; i < cpu.inputs.size(); ++i) {
      EXPECT_NEAR(cpu.inputs[i], gpu.inputs[i], 1e-4 * (1 + std::fabs(cpu.inputs[i])));
    }
  }
}

}  // namespace
}  // namespace crucible
