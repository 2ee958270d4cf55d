// Gap, separation and composite worked by hand (docs/scoring.md section 4, 3-5).
#include "crucible/engine/scoring/score_aggregates.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace crucible {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(AggregateGap, HandWorked) {
  // lo = {1, 2, 4}, hi = {2, 3, 6}.
  // gap0 = ((2-2) + (2-4)) / 2 = -1; gap1 = ((3-1) + (3-4)) / 2 = 0.5;
  // gap2 = ((6-1) + (6-2)) / 2 = 4.5.
  const auto gaps = aggregate_gaps({1, 2, 4}, {2, 3, 6});
  EXPECT_DOUBLE_EQ(gaps[0], -1.0);
  EXPECT_DOUBLE_EQ(gaps[1], 0.5);
  EXPECT_DOUBLE_EQ(gaps[2], 4.5);
}

TEST(AggregateGap, IgnoresNaNTermsAndDefaultsToZero) {
  // Model 1 has no CI: its own gap has no term (0), and it adds none to others.
  const auto gaps = aggregate_gaps({1, kNaN, 4}, {2, kNaN, 6});
  EXPECT_DOUBLE_EQ(gaps[0], 2.0 - 4.0);
  EXPECT_DOUBLE_EQ(gaps[1], 0.0);
  EXPECT_DOUBLE_EQ(gaps[2], 6.0 - 1.0);
  EXPECT_DOUBLE_EQ(aggregate_gaps({1}, {2})[0], 0.0);
}

TEST(AggregateGap, EqualBoundsGiveBitIdenticalGapsInAnyOrder) {
  // Models 0 and 3 have equal bounds; summed in row (or uid) order their gaps
  // would be 0.264 and 0.26399999999999996. They must get the same bits, and
  // a permutation of the models permutes the gaps exactly.
  const std::vector<double> lo = {0.43, 0.39, 0.72, 0.43, 0.95, kNaN, 0.54};
  const std::vector<double> hi = {0.87, 0.66, 0.76, 0.87, 1.41, kNaN, 0.86};
  const auto gaps = aggregate_gaps(lo, hi);
  EXPECT_EQ(gaps[0], gaps[3]);
  const std::vector<size_t> order = {3, 6, 1, 4, 0, 5, 2};
  std::vector<double> lo_p, hi_p;
  for (size_t k : order) {
    lo_p.push_back(lo[k]);
    hi_p.push_back(hi[k]);
  }
  const auto permuted = aggregate_gaps(lo_p, hi_p);
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(permuted[i], gaps[order[i]]) << i;
}

TEST(Separation, BestOneWorstZero) {
  const auto sep = separation_scores({-1.0, 0.5, 4.5});
  EXPECT_DOUBLE_EQ(sep[0], 1.0);
  EXPECT_DOUBLE_EQ(sep[1], (0.5 - 4.5) / (-1.0 - 4.5));
  EXPECT_DOUBLE_EQ(sep[2], 0.0);
}

TEST(Separation, DegenerateCasesGiveOne) {
  EXPECT_EQ(separation_scores({3.0}), std::vector<double>{1.0});
  EXPECT_EQ(separation_scores({2.0, 2.0, 2.0 + 1e-15}), (std::vector<double>{1.0, 1.0, 1.0}));
}

TEST(Composite, ProductWithNaNAsZero) {
  const auto c = composite_scores({0.5, kNaN, 1.0}, {0.5, 1.0, kNaN});
  EXPECT_DOUBLE_EQ(c[0], 0.25);
  EXPECT_EQ(c[1], 0.0);
  EXPECT_EQ(c[2], 0.0);
}

}  // namespace
}  // namespace crucible
