// series_losses() on tensors: layouts, masking, sanitising, edge cases.
#include "crucible/engine/scoring/series_losses.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "crucible/engine/scoring/quantile_levels.h"

namespace crucible {
namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

at::Tensor full_lengths(const at::Tensor& targets) {
  return at::full({targets.size(0)}, targets.size(1), at::kLong);
}

TEST(SeriesLosses, CrpsMeanOverTheTrueLength) {
  // One model, two series, H = 3, Q = 2. Series 0 has length 2, series 1 is empty.
  const at::Tensor targets = at::tensor({1.f, 0.f, 99.f, 5.f, 5.f, 5.f}).view({2, 3});
  const at::Tensor forecasts =
      at::tensor({0.f, 2.f, 0.f, 0.f, 7.f, 7.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f}).view({1, 2, 3, 2});
  const at::Tensor lengths = at::tensor({2, 0}, at::kLong);
  const at::Tensor out = series_losses(LossMetric::kCrps, targets, forecasts, lengths, {});
  ASSERT_EQ(out.sizes(), (at::IntArrayRef{1, 2}));
  EXPECT_EQ(out.scalar_type(), at::kDouble);
  // Step 0: x = {0, 2}, y = 1 -> 0.5. Step 1: x = {0, 0}, y = 0 -> 0. Mean 0.25.
  EXPECT_DOUBLE_EQ(out[0][0].item<double>(), 0.25);
  EXPECT_TRUE(std::isnan(out[0][1].item<double>()));
}

TEST(SeriesLosses, FailedModelRowOfInfinityIsClamped) {
  const at::Tensor targets = at::zeros({3, 4});
  const at::Tensor forecasts = at::full({2, 3, 4, 9}, kInf);
  forecasts[0].fill_(0.f);
  const at::Tensor out =
      series_losses(LossMetric::kCrps, targets, forecasts, full_lengths(targets), {});
  for (int64_t j = 0; j < 3; ++j) {
    EXPECT_DOUBLE_EQ(out[0][j].item<double>(), 0.0);
    EXPECT_DOUBLE_EQ(out[1][j].item<double>(), 1e9);
  }
}

TEST(SeriesLosses, NonFiniteTargetsCountAsZero) {
  const at::Tensor targets = at::tensor({kNaN, -kInf}).view({1, 2});
  const at::Tensor forecasts = at::tensor({1.f, 3.f}).view({1, 1, 2, 1});
  const at::Tensor out =
      series_losses(LossMetric::kMae, targets, forecasts, full_lengths(targets), {0.5});
  EXPECT_DOUBLE_EQ(out[0][0].item<double>(), 2.0);  // (|1 - 0| + |3 - 0|) / 2
}

TEST(SeriesLosses, WqlIsNaNWhenTargetsAreAllZero) {
  const at::Tensor targets = at::zeros({1, 3});
  const at::Tensor forecasts = at::ones({1, 1, 3, 1});
  const at::Tensor out =
      series_losses(LossMetric::kWql, targets, forecasts, full_lengths(targets), {0.5});
  EXPECT_TRUE(std::isnan(out[0][0].item<double>()));
}

TEST(SeriesLosses, LayoutsWithAndWithoutModelAxis) {
  const at::Tensor f3 = at::rand({5, 7, 9});
  EXPECT_FALSE(as_model_forecasts(f3, 5, 7).has_model_axis);
  EXPECT_EQ(as_model_forecasts(f3, 5, 7).values.sizes(), (at::IntArrayRef{1, 5, 7, 9}));
  EXPECT_FALSE(as_model_forecasts(at::rand({5, 7, 1, 9}), 5, 7).has_model_axis);
  EXPECT_TRUE(as_model_forecasts(at::rand({2, 5, 7, 9}), 5, 7).has_model_axis);
  EXPECT_EQ(as_model_forecasts(at::rand({2, 5, 7, 1, 9}), 5, 7).values.sizes(),
            (at::IntArrayRef{2, 5, 7, 9}));
  EXPECT_THROW(as_model_forecasts(at::rand({5, 8, 9}), 5, 7), std::invalid_argument);
  EXPECT_THROW(as_model_forecasts(at::rand({2, 5, 7, 2, 9}), 5, 7), std::invalid_argument);
}

TEST(SeriesLosses, RefusesBadInputs) {
  const at::Tensor targets = at::zeros({2, 3});
  const at::Tensor forecasts = at::zeros({1, 2, 3, 9});
  const std::vector<double> levels = default_quantile_levels();
  EXPECT_THROW(
      series_losses(LossMetric::kCrps, targets, forecasts, at::tensor({4, 1}, at::kLong), levels),
      std::invalid_argument);  // length > H
  EXPECT_THROW(
      series_losses(LossMetric::kCrps, targets, forecasts, at::tensor({-1, 1}, at::kLong), levels),
      std::invalid_argument);
  EXPECT_THROW(
      series_losses(LossMetric::kCrps, targets, forecasts, at::tensor({1}, at::kLong), levels),
      std::invalid_argument);
  EXPECT_THROW(series_losses(LossMetric::kPinball, targets, forecasts, full_lengths(targets),
                             {0.1, 0.5, 0.9}),
               std::invalid_argument);  // Q != number of levels
  EXPECT_THROW(series_losses(LossMetric::kCrps, targets, at::zeros({1, 2, 3, 65}),
                             full_lengths(targets), {}),
               std::invalid_argument);  // Q over the kernel limit
  EXPECT_THROW(series_losses(LossMetric::kCrps, targets.to(at::kDouble), forecasts,
                             full_lengths(targets), {}),
               std::invalid_argument);
  EXPECT_THROW(parse_loss_metric("rmse"), std::invalid_argument);
  EXPECT_EQ(parse_loss_metric("wql"), LossMetric::kWql);
}

}  // namespace
}  // namespace crucible
