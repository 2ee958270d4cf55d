// Hand-worked cases for the per-step loss math (docs/scoring.md section 3).
#include "crucible/cuda/loss_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace crucible {
namespace {

double crps_step(std::vector<float> forecast, float y) {
  std::vector<double> scratch(forecast.size());
  const StepLossParams p{LossMetric::kCrps, static_cast<int32_t>(forecast.size()), 0, nullptr};
  return step_loss<LossMetric::kCrps>(p, forecast.data(), y, scratch.data());
}

// The definition, term by term, for comparison with the sorted O(Q) form.
double crps_by_definition(const std::vector<double>& x, double y) {
  const double q = static_cast<double>(x.size());
  double abs_error = 0.0, pairs = 0.0;
  for (double a : x) {
    abs_error += std::fabs(a - y);
    for (double b : x) pairs += std::fabs(a - b);
  }
  return abs_error / q - pairs / (2 * q * q);
}

TEST(Crps, HandWorkedCases) {
  // Q = 2, x = {0, 2}, y = 1: (1/2)(1 + 1) - (1/8)(2 + 2) = 0.5.
  EXPECT_DOUBLE_EQ(crps_step({0.f, 2.f}, 1.f), 0.5);
  // Q = 1 is the absolute error.
  EXPECT_DOUBLE_EQ(crps_step({3.f}, 1.f), 2.0);
  // All-equal forecasts: no spread, CRPS = |x - y|.
  EXPECT_DOUBLE_EQ(crps_step({2.f, 2.f, 2.f}, 5.f), 3.0);
  // Q = 3, x = {1, 2, 4}, y = 2: (1/3)(1 + 0 + 2) - (1/18)(2 * (1 + 3 + 2)) = 1 - 2/3.
  EXPECT_DOUBLE_EQ(crps_step({4.f, 1.f, 2.f}, 2.f), 1.0 - 2.0 / 3.0);
}

TEST(Crps, SortedFormMatchesTheDefinition) {
  const std::vector<std::vector<double>> cases = {
      {0.1, -3.0, 2.5, 2.5, 7.0}, {1.0}, {-1.0, -1.0}, {5, 4, 3, 2, 1, 0, -1, -2, -3}};
  for (const auto& x : cases) {
    std::vector<double> sorted = x;
    insertion_sort(sorted.data(), static_cast<int>(sorted.size()));
    for (double y : {-10.0, 0.0, 2.5, 11.0}) {
      EXPECT_NEAR(crps_sorted(sorted.data(), static_cast<int>(sorted.size()), y),
                  crps_by_definition(x, y), 1e-12);
    }
  }
}

TEST(Sanitize, NonFiniteValuesAreReplaced) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(sanitize_target(nan), 0.0);
  EXPECT_EQ(sanitize_target(-inf), 0.0);
  EXPECT_EQ(sanitize_target(2.5f), 2.5);
  EXPECT_EQ(sanitize_forecast(nan), 1e9);
  EXPECT_EQ(sanitize_forecast(inf), 1e9);
  EXPECT_EQ(sanitize_forecast(-inf), -1e9);
  // A NaN forecast against a NaN target: |1e9 - 0|.
  EXPECT_DOUBLE_EQ(crps_step({nan}, nan), 1e9);
}

TEST(Pinball, HandWorked) {
  EXPECT_DOUBLE_EQ(pinball(1.0, 0.9, 3.0), 0.9 * 2.0);  // under-forecast
  EXPECT_DOUBLE_EQ(pinball(5.0, 0.9, 3.0), 0.1 * 2.0);  // over-forecast
  const std::vector<double> levels = {0.25, 0.75};
  const std::vector<float> forecast = {0.f, 4.f};
  const StepLossParams pin{LossMetric::kPinball, 2, 0, levels.data()};
  std::vector<double> scratch(2);
  // y = 1: 0.25 * 1 and 0.25 * 3, mean = 0.5.
  EXPECT_DOUBLE_EQ(step_loss<LossMetric::kPinball>(pin, forecast.data(), 1.f, scratch.data()), 0.5);
  const StepLossParams wql{LossMetric::kWql, 2, 0, levels.data()};
  EXPECT_DOUBLE_EQ(step_loss<LossMetric::kWql>(wql, forecast.data(), 1.f, scratch.data()), 1.0);
  EXPECT_DOUBLE_EQ(step_weight<LossMetric::kWql>(-3.f), 3.0);
  EXPECT_DOUBLE_EQ(step_weight<LossMetric::kCrps>(-3.f), 1.0);
}

TEST(MedianErrors, UseTheMedianIndex) {
  const std::vector<float> forecast = {0.f, 4.f, 9.f};
  std::vector<double> scratch(3);
  const StepLossParams mae{LossMetric::kMae, 3, 1, nullptr};
  const StepLossParams mse{LossMetric::kMse, 3, 1, nullptr};
  EXPECT_DOUBLE_EQ(step_loss<LossMetric::kMae>(mae, forecast.data(), 1.f, scratch.data()), 3.0);
  EXPECT_DOUBLE_EQ(step_loss<LossMetric::kMse>(mse, forecast.data(), 1.f, scratch.data()), 9.0);
}

TEST(SeriesLoss, SumStepsHonoursStartAndStride) {
  // Q = 1, so each step's CRPS is |x - y|: 1, 2, 3, 4 against y = 0.
  const std::vector<float> forecast = {1.f, 2.f, 3.f, 4.f};
  const std::vector<float> target = {0.f, 0.f, 0.f, 0.f};
  const StepLossParams p{LossMetric::kCrps, 1, 0, nullptr};
  double scratch[1];
  const StepSums all =
      sum_steps<LossMetric::kCrps>(p, forecast.data(), target.data(), 4, 0, 1, scratch);
  EXPECT_DOUBLE_EQ(all.numerator, 10.0);
  EXPECT_DOUBLE_EQ(all.weight, 4.0);
  const StepSums odd =
      sum_steps<LossMetric::kCrps>(p, forecast.data(), target.data(), 3, 1, 2, scratch);
  EXPECT_DOUBLE_EQ(odd.numerator, 2.0);  // only t = 1 is below n = 3
  EXPECT_DOUBLE_EQ(odd.weight, 1.0);
}

TEST(SeriesLoss, EmptySeriesAndZeroWeightAreNaN) {
  EXPECT_TRUE(std::isnan(finish_series_loss(0.0, 0.0, 0)));
  EXPECT_TRUE(std::isnan(finish_series_loss(1.0, 0.0, 3)));
  EXPECT_DOUBLE_EQ(finish_series_loss(6.0, 3.0, 3), 2.0);
}

}  // namespace
}  // namespace crucible
