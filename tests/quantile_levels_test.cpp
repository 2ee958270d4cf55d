#include "crucible/engine/scoring/quantile_levels.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace crucible {
namespace {

TEST(QuantileLevels, DefaultIsTenthsAndMedianIsFifth) {
  const std::vector<double> levels = default_quantile_levels();
  ASSERT_EQ(levels.size(), 9u);
  EXPECT_DOUBLE_EQ(levels.front(), 0.1);
  EXPECT_DOUBLE_EQ(levels.back(), 0.9);
  EXPECT_EQ(median_level_index(levels), 4);
}

TEST(QuantileLevels, ParseSortsAndDeduplicates) {
  EXPECT_EQ(parse_quantile_levels("0.9,0.1,0.5,0.1"), (std::vector<double>{0.1, 0.5, 0.9}));
  EXPECT_EQ(median_level_index({0.2, 0.4, 0.6, 0.9}), 1);  // tie between 0.4 and 0.6: lower
  EXPECT_EQ(median_level_index({0.1}), 0);
}

TEST(QuantileLevels, RejectsBadLevels) {
  EXPECT_THROW(parse_quantile_levels("0.1,0"), std::invalid_argument);
  EXPECT_THROW(parse_quantile_levels("1"), std::invalid_argument);
  EXPECT_THROW(parse_quantile_levels("1.5"), std::invalid_argument);
  EXPECT_THROW(parse_quantile_levels("0.1,abc"), std::invalid_argument);
  EXPECT_THROW(parse_quantile_levels("0.1x"), std::invalid_argument);
  EXPECT_THROW(parse_quantile_levels("nan"), std::invalid_argument);
  EXPECT_THROW(parse_quantile_levels(""), std::invalid_argument);
}

}  // namespace
}  // namespace crucible
