// score_models(): win rate by hand, bootstrap properties, determinism,
// permutation invariance and the degenerate cases of docs/scoring.md section 4.
#include "crucible/engine/model_scoring.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace crucible {
namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

at::Tensor matrix(std::vector<double> values, int64_t rows) {
  const int64_t cols = static_cast<int64_t>(values.size()) / rows;
  return at::tensor(values, at::kDouble).view({rows, cols});
}

TEST(WinRate, HandWorked) {
  // Column 0: {1, 2, 3}: rates 1, 0.5, 0. Column 1: {NaN, 5, inf}: model 0 absent,
  // rates -, 1, 0. Column 2: {4, 4, NaN}: a tie, rates 0, 0, -.
  // Means: model 0 (1 + 0) / 2 = 0.5; model 1 (0.5 + 1 + 0) / 3 = 0.5; model 2 0.
  const at::Tensor losses = matrix({1, kNaN, 4, 2, 5, 4, 3, kInf, kNaN}, 3);
  const ModelScores s = score_models(losses, {0, 1, 2}, ScoringOptions{});
  EXPECT_EQ(s.win_rate, (std::vector<double>{0.5, 0.5, 0.0}));
}

TEST(WinRate, LonelyAndMissingEntries) {
  // Column 0 has one present value (rate 0 there); column 1 is all NaN.
  const at::Tensor losses = matrix({1, kNaN, kNaN, kNaN}, 2);
  const ModelScores s = score_models(losses, {0, 1}, ScoringOptions{});
  EXPECT_EQ(s.win_rate, (std::vector<double>{0.0, 0.0}));
  const ModelScores single = score_models(matrix({1, 2, 3}, 1), {7}, ScoringOptions{});
  EXPECT_EQ(single.win_rate, std::vector<double>{0.0});
  EXPECT_EQ(single.sep_score, std::vector<double>{1.0});
}

TEST(Bootstrap, FewerThanTwoFiniteLossesGiveNaNBounds) {
  const at::Tensor losses = matrix({1, kInf, kNaN, 2, 3, 4}, 2);
  const ModelScores s = score_models(losses, {0, 1}, ScoringOptions{});
  EXPECT_TRUE(std::isnan(s.ci_lo[0]) && std::isnan(s.ci_hi[0]));
  EXPECT_TRUE(std::isfinite(s.ci_lo[1]) && s.ci_lo[1] <= s.ci_hi[1]);
  EXPECT_DOUBLE_EQ(s.agg_gap[0], 0.0);  // no defined term
}

TEST(Bootstrap, ConstantLossesGiveAPointInterval) {
  const ModelScores s = score_models(matrix({2, 2, 2, 2}, 1), {3}, ScoringOptions{});
  EXPECT_DOUBLE_EQ(s.ci_lo[0], 2.0);
  EXPECT_DOUBLE_EQ(s.ci_hi[0], 2.0);
}

TEST(Bootstrap, ConvergesToTheNormalLimit) {
  // m = 400 losses, B = 20000: the percentile bounds approach
  // mean -+ z * sd / sqrt(m) (the bootstrap distribution of the mean).
  const int64_t m = 400;
  std::vector<double> x(m);
  for (int64_t i = 0; i < m; ++i) x[i] = std::pow(static_cast<double>(i % 37), 1.3);
  const double mean = std::accumulate(x.begin(), x.end(), 0.0) / m;
  double var = 0.0;
  for (double v : x) var += (v - mean) * (v - mean);
  const double half_width = 1.959963984540054 * std::sqrt(var / m) / std::sqrt(double(m));
  ScoringOptions options;
  options.seed = 12345;
  options.bootstrap_samples = 20000;
  const ModelScores s = score_models(matrix(x, 1), {0}, options);
  EXPECT_NEAR((s.ci_hi[0] - s.ci_lo[0]) / 2, half_width, 0.02 * half_width);
  EXPECT_NEAR((s.ci_hi[0] + s.ci_lo[0]) / 2, mean, 0.02 * half_width);
}

TEST(Scoring, DeterministicAndSeeded) {
  const at::Tensor losses = at::rand({6, 50}, at::kDouble);
  ScoringOptions options;
  options.seed = 99;
  const ModelScores a = score_models(losses, {0, 1, 2, 3, 4, 5}, options);
  const ModelScores b = score_models(losses, {0, 1, 2, 3, 4, 5}, options);
  EXPECT_EQ(a.ci_lo, b.ci_lo);
  EXPECT_EQ(a.composite, b.composite);
  options.seed = 100;
  const ModelScores c = score_models(losses, {0, 1, 2, 3, 4, 5}, options);
  EXPECT_NE(a.ci_lo, c.ci_lo);
}

TEST(Scoring, PermutingRowsWithUidsPermutesOutputs) {
  at::Tensor losses = at::rand({7, 40}, at::kDouble);
  losses[2][5] = kNaN;
  losses[4].fill_(kInf);
  const std::vector<int64_t> uids = {10, 3, 77, 5, 12, 40, 8};
  const std::vector<int64_t> order = {6, 2, 0, 5, 1, 3, 4};
  std::vector<int64_t> permuted_uids;
  for (int64_t r : order) permuted_uids.push_back(uids[r]);
  ScoringOptions options;
  options.seed = 7;
  const ModelScores base = score_models(losses, uids, options);
  const ModelScores perm =
      score_models(losses.index_select(0, at::tensor(order, at::kLong)), permuted_uids, options);
  for (size_t i = 0; i < order.size(); ++i) {
    const size_t r = static_cast<size_t>(order[i]);
    EXPECT_EQ(perm.win_rate[i], base.win_rate[r]);
    EXPECT_EQ(perm.agg_gap[i], base.agg_gap[r]);
    EXPECT_EQ(perm.composite[i], base.composite[r]);
    if (!std::isnan(base.ci_lo[r])) {
      EXPECT_EQ(perm.ci_lo[i], base.ci_lo[r]);
    }
  }
}

TEST(Scoring, RefusesBadInputs) {
  const at::Tensor losses = at::rand({2, 3}, at::kDouble);
  EXPECT_THROW(score_models(losses, {1, 1}, ScoringOptions{}), std::invalid_argument);
  EXPECT_THROW(score_models(losses, {1}, ScoringOptions{}), std::invalid_argument);
  EXPECT_THROW(score_models(at::rand({2, 3, 1}, at::kDouble), {0, 1}, ScoringOptions{}),
               std::invalid_argument);
  ScoringOptions bad;
  bad.bootstrap_samples = 0;
  EXPECT_THROW(score_models(losses, {0, 1}, bad), std::invalid_argument);
  bad = ScoringOptions{};
  bad.ci_alpha = 1.0;
  EXPECT_THROW(score_models(losses, {0, 1}, bad), std::invalid_argument);
}

}  // namespace
}  // namespace crucible
