// score_models(): win rate by hand, bootstrap properties, determinism,
// permutation invariance, uid independence (identical losses, identical bits)
// and the degenerate cases of docs/scoring.md section 4.
#include "crucible/engine/scoring/model_scoring.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <utility>

namespace crucible {
namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

at::Tensor matrix(std::vector<double> values, int64_t rows) {
  const int64_t cols = static_cast<int64_t>(values.size()) / rows;
  return at::tensor(values, at::kDouble).view({rows, cols});
}

uint64_t bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Every score of model i in `a` has the bits of model j in `b` (NaN included).
void expect_same_bits(const ModelScores& a, size_t i, const ModelScores& b, size_t j) {
  using Field = std::vector<double> ModelScores::*;
  const std::pair<const char*, Field> fields[] = {
      {"win_rate", &ModelScores::win_rate},   {"ci_lo", &ModelScores::ci_lo},
      {"ci_hi", &ModelScores::ci_hi},         {"agg_gap", &ModelScores::agg_gap},
      {"sep_score", &ModelScores::sep_score}, {"composite", &ModelScores::composite}};
  for (const auto& [name, field] : fields) {
    EXPECT_EQ(bits((a.*field)[i]), bits((b.*field)[j]))
        << name << ": " << (a.*field)[i] << " (row " << i << ") vs " << (b.*field)[j] << " (row "
        << j << ")";
  }
}

// Ten models over 80 series, a round as the validator sees it: three copies of
// one model (rows 0, 4, 7), two of another with other NaN/+inf places and so
// another m (rows 2, 8), two failed models (+inf everywhere, rows 6, 9), a
// model with one finite loss (row 5) and two others.
at::Tensor realistic_losses() {
  at::manual_seed(19);
  at::Tensor losses = at::rand({10, 80}, at::kDouble) * 2 + 0.5;
  losses.masked_fill_(at::rand({10, 80}) < 0.1, kNaN);
  losses.masked_fill_(at::rand({10, 80}) < 0.05, kInf);
  losses[5].fill_(kNaN);
  losses[5][17] = 0.9;
  losses[9].fill_(kInf);
  losses[6].copy_(losses[9]);
  losses[4].copy_(losses[0]);
  losses[7].copy_(losses[0]);
  losses[8].copy_(losses[2]);
  return losses;
}

const std::vector<std::vector<size_t>> kCopies = {{0, 4, 7}, {2, 8}, {6, 9}};

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

TEST(Scoring, IdenticalLossesGetIdenticalScoresWhateverTheUids) {
  // Issue 19: with draws keyed by uid, copies of one model got composites
  // from 0.0958 to 0. Now copies get the same bits under any uids and row order.
  const at::Tensor losses = realistic_losses();
  const std::vector<std::vector<int64_t>> orders = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
                                                    {9, 4, 1, 7, 0, 6, 3, 8, 5, 2},
                                                    {7, 8, 6, 5, 4, 3, 2, 1, 0, 9}};
  const std::vector<std::vector<int64_t>> uid_sets = {{500, 3, 77, 12, 9001, 41, 0, 18, 64, 2},
                                                      {0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
                                                      {1 << 20, 255, 256, 7, 6, 5, 4, 3, 2, 1}};
  ScoringOptions options;
  options.seed = 0x5eed1915ULL;
  const ModelScores first = score_models(losses, uid_sets[0], options);
  EXPECT_NE(first.ci_lo[0], first.ci_lo[2]);  // different models, different bounds
  EXPECT_GT(first.win_rate[0], 0.0);
  for (size_t run = 0; run < orders.size(); ++run) {
    const std::vector<int64_t>& order = orders[run];
    const ModelScores s =
        score_models(losses.index_select(0, at::tensor(order, at::kLong)), uid_sets[run], options);
    std::vector<size_t> row_of(order.size());  // row of original model r in this run
    for (size_t i = 0; i < order.size(); ++i) row_of[static_cast<size_t>(order[i])] = i;
    for (const std::vector<size_t>& copies : kCopies) {
      for (size_t c : copies) {
        SCOPED_TRACE("run " + std::to_string(run) + ", copy " + std::to_string(c));
        expect_same_bits(s, row_of[c], first, copies[0]);
        EXPECT_TRUE(std::isfinite(s.ci_lo[row_of[c]]) || c == 6 || c == 9);
      }
    }
  }
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
  const at::Tensor permuted_losses = losses.index_select(0, at::tensor(order, at::kLong));
  const ModelScores perm = score_models(permuted_losses, permuted_uids, options);
  // Uids left in place: only the labels differ, the scores follow the rows.
  const ModelScores relabelled = score_models(permuted_losses, uids, options);
  EXPECT_EQ(perm.uids, permuted_uids);
  EXPECT_EQ(relabelled.uids, uids);
  for (size_t i = 0; i < order.size(); ++i) {
    SCOPED_TRACE("row " + std::to_string(i));
    expect_same_bits(perm, i, base, static_cast<size_t>(order[i]));
    expect_same_bits(relabelled, i, base, static_cast<size_t>(order[i]));
  }
}

TEST(Scoring, SwappingTwoUidsSwapsOnlyTheLabels) {
  const at::Tensor losses = realistic_losses();
  std::vector<int64_t> uids = {500, 3, 77, 12, 9001, 41, 0, 18, 64, 2};
  ScoringOptions options;
  options.seed = 11;
  const ModelScores before = score_models(losses, uids, options);
  std::swap(uids[1], uids[3]);
  const ModelScores after = score_models(losses, uids, options);
  EXPECT_EQ(after.uids, uids);
  for (size_t i = 0; i < uids.size(); ++i) expect_same_bits(after, i, before, i);
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
