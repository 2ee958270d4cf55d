// The CUDA kernels against the CPU reference on the same data, over awkward
// sizes and non-finite inputs (the faiss pattern). Skipped without a device.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>
#include <tuple>

#include "crucible/engine/device.h"
#include "crucible/engine/model_scoring.h"
#include "crucible/engine/quantile_levels.h"
#include "crucible/engine/series_losses.h"

namespace crucible {
namespace {

constexpr const char* kNoCuda = "no CUDA device (or built without CUDA)";

// Random forecasts with NaN / +-inf sprinkled in, and random lengths.
std::tuple<at::Tensor, at::Tensor, at::Tensor> loss_case(int64_t u, int64_t s, int64_t h,
                                                         int64_t q) {
  at::manual_seed(u * 1000 + s * 10 + q);
  at::Tensor targets = at::randn({s, h});
  at::Tensor forecasts = at::randn({u, s, h, q});
  const at::Tensor mask = at::rand({u, s, h, q}) < 0.01;
  forecasts.masked_fill_(mask, std::numeric_limits<float>::quiet_NaN());
  forecasts.masked_fill_(at::rand({u, s, h, q}) < 0.005, -std::numeric_limits<float>::infinity());
  targets.masked_fill_(at::rand({s, h}) < 0.01, std::numeric_limits<float>::infinity());
  const at::Tensor lengths = at::randint(0, h + 1, {s}, at::kLong);
  return {targets, forecasts, lengths};
}

class LossAgreement : public ::testing::TestWithParam<std::tuple<int, int, int, int, int>> {};

TEST_P(LossAgreement, CudaMatchesCpu) {
  if (!cuda_usable()) GTEST_SKIP() << kNoCuda;
  const auto [u, s, h, q, metric] = GetParam();
  auto [targets, forecasts, lengths] = loss_case(u, s, h, q);
  std::vector<double> levels;
  for (int i = 1; i <= q; ++i) levels.push_back(static_cast<double>(i) / (q + 1));
  const auto m = static_cast<LossMetric>(metric);
  const at::Tensor cpu = series_losses(m, targets, forecasts, lengths, levels);
  const at::Tensor gpu =
      series_losses(m, targets.cuda(), forecasts.cuda(), lengths.cuda(), levels).cpu();
  EXPECT_TRUE(at::equal(cpu.isnan(), gpu.isnan()));
  EXPECT_TRUE(at::allclose(cpu.nan_to_num(0), gpu.nan_to_num(0), 1e-12, 0.0));
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, LossAgreement,
    ::testing::Values(std::make_tuple(1, 1, 1, 1, 0), std::make_tuple(3, 17, 33, 9, 0),
                      std::make_tuple(2, 5, 100, 64, 0), std::make_tuple(4, 31, 65, 9, 1),
                      std::make_tuple(4, 31, 65, 9, 2), std::make_tuple(4, 31, 65, 9, 3),
                      std::make_tuple(4, 31, 65, 7, 4), std::make_tuple(16, 64, 512, 9, 0)));

class ScoringAgreement : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(ScoringAgreement, CudaIsBitIdenticalToCpu) {
  if (!cuda_usable()) GTEST_SKIP() << kNoCuda;
  const auto [u, s, b] = GetParam();
  at::manual_seed(u + s + b);
  at::Tensor losses = at::rand({u, s}, at::kDouble);
  losses.masked_fill_(at::rand({u, s}) < 0.05, std::numeric_limits<double>::quiet_NaN());
  losses.masked_fill_(at::rand({u, s}) < 0.05, std::numeric_limits<double>::infinity());
  losses.masked_fill_(at::rand({u, s}) < 0.3, 0.5);  // ties
  std::vector<int64_t> uids;
  for (int i = 0; i < u; ++i) uids.push_back(1000 - 7 * i);
  ScoringOptions options;
  options.seed = 0xfeedbeefULL * static_cast<uint64_t>(u);
  options.bootstrap_samples = b;
  const ModelScores cpu = score_models(losses, uids, options);
  const ModelScores gpu = score_models(losses.cuda(), uids, options);
  EXPECT_EQ(cpu.win_rate, gpu.win_rate);
  for (size_t i = 0; i < cpu.uids.size(); ++i) {
    EXPECT_EQ(std::isnan(cpu.ci_lo[i]), std::isnan(gpu.ci_lo[i]));
    if (!std::isnan(cpu.ci_lo[i])) {
      EXPECT_EQ(cpu.ci_lo[i], gpu.ci_lo[i]);
      EXPECT_EQ(cpu.ci_hi[i], gpu.ci_hi[i]);
    }
  }
  EXPECT_EQ(cpu.composite, gpu.composite);
}

INSTANTIATE_TEST_SUITE_P(Sizes, ScoringAgreement,
                         ::testing::Values(std::make_tuple(1, 1, 1), std::make_tuple(2, 3, 7),
                                           std::make_tuple(33, 100, 100),
                                           std::make_tuple(256, 1000, 257)));

}  // namespace
}  // namespace crucible
