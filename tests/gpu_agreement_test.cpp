// The CUDA kernels against the CPU reference on the same data, over awkward
// sizes and non-finite inputs (the faiss pattern). Skipped without a device.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <tuple>
#include <vector>

#include "crucible/engine/device.h"
#include "crucible/engine/scoring/model_scoring.h"
#include "crucible/engine/scoring/quantile_levels.h"
#include "crucible/engine/scoring/series_losses.h"

namespace crucible {
namespace {

constexpr const char* kNoCuda = "no CUDA device (or built without CUDA)";

uint64_t bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

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
  EXPECT_EQ(cpu.agg_gap, gpu.agg_gap);
  EXPECT_EQ(cpu.sep_score, gpu.sep_score);
  EXPECT_EQ(cpu.composite, gpu.composite);
}

INSTANTIATE_TEST_SUITE_P(Sizes, ScoringAgreement,
                         ::testing::Values(std::make_tuple(1, 1, 1), std::make_tuple(2, 3, 7),
                                           std::make_tuple(33, 100, 100),
                                           std::make_tuple(256, 1000, 257)));

// Copies of models (the same loss row under other uids) among distinct ones,
// with NaN, +inf and different finite counts: the GPU gives the CPU's bits for
// every score, and every copy gets the bits of its original.
TEST(CopiedModels, BitIdenticalOnCpuAndGpu) {
  if (!cuda_usable()) GTEST_SKIP() << kNoCuda;
  for (int64_t u : {10, 300}) {
    at::manual_seed(u);
    at::Tensor losses = at::rand({u, 200}, at::kDouble) + 0.25;
    losses.masked_fill_(at::rand({u, 200}) < 0.1, std::numeric_limits<double>::quiet_NaN());
    losses.masked_fill_(at::rand({u, 200}) < 0.05, std::numeric_limits<double>::infinity());
    std::vector<int64_t> source(static_cast<size_t>(u)), uids;
    for (int64_t r = 0; r < u; ++r) {
      source[static_cast<size_t>(r)] = r % 4 == 3 ? r % 3 : r;  // every 4th row copies row 0-2
      uids.push_back((r * 37) % 1009);
    }
    losses = losses.index_select(0, at::tensor(source, at::kLong));
    ScoringOptions options;
    options.seed = (uint64_t{0x19} << 40) | static_cast<uint64_t>(u);
    const ModelScores cpu = score_models(losses, uids, options);
    const ModelScores gpu = score_models(losses.cuda(), uids, options);
    for (const std::vector<double> ModelScores::*field :
         {&ModelScores::win_rate, &ModelScores::ci_lo, &ModelScores::ci_hi, &ModelScores::agg_gap,
          &ModelScores::sep_score, &ModelScores::composite}) {
      for (size_t r = 0; r < source.size(); ++r) {
        const size_t original = static_cast<size_t>(source[r]);
        EXPECT_EQ(bits((gpu.*field)[r]), bits((cpu.*field)[r])) << "U=" << u << " row " << r;
        EXPECT_EQ(bits((cpu.*field)[r]), bits((cpu.*field)[original]))
            << "U=" << u << " row " << r << " copies row " << original;
      }
    }
  }
}

}  // namespace
}  // namespace crucible
