// A whole step of docs/scoring.md section 5 with worked numbers.
#include "crucible/validator/step_scorer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>

namespace crucible {
namespace {

const double kInf = std::numeric_limits<double>::infinity();

StepModelResult result(Uid uid, bool ok, double loss, double win, double composite,
                       Block block = 10, std::string hash = "") {
  return StepModelResult{uid, "hk" + std::to_string(uid), ok, loss, win, composite, block, hash};
}

CompetitionConfig competition(CompetitionId id, double share) {
  CompetitionConfig c;
  c.id = id;
  c.reward_share = share;
  return c;
}

TEST(StepScorer, EmaSoftmaxWeightsAndKeepRule) {
  ValidatorState state;
  const CompetitionConfig c0 = competition(0, 1.0);
  const std::vector<StepModelResult> results = {result(1, true, 0.2, 1.0, 1.0),
                                                result(2, true, 0.3, 0.5, 0.5),
                                                result(3, false, kInf, 0.0, 0.0)};
  const StepOutcome out = score_step(state, c0, {c0}, results, 100, 4);
  // EMA after one step: 0.2 * score -> 0.2, 0.1, 0 (uid 3 failed: never rewarded).
  // Softmax T = 0.1 over uids 1 and 2: e^2 / (e^2 + e^1) and e^1 / (e^2 + e^1).
  const double e2 = std::exp(2.0), e1 = std::exp(1.0);
  ASSERT_EQ(out.competition_weights.size(), 4u);
  EXPECT_DOUBLE_EQ(out.competition_weights[0], 0.0);
  EXPECT_NEAR(out.competition_weights[1], e2 / (e2 + e1), 1e-12);
  EXPECT_NEAR(out.competition_weights[2], e1 / (e2 + e1), 1e-12);
  EXPECT_DOUBLE_EQ(out.competition_weights[3], 0.0);
  EXPECT_EQ(out.subnet_weights, out.competition_weights);  // one competition, share 1
  // All three fit under sample_min = 10: the failed one is not kept (no
  // positive priority, no finite loss).
  EXPECT_EQ(out.kept, (std::vector<Uid>{1, 2}));
  EXPECT_EQ(state.active(0), (std::vector<Uid>{1, 2}));
  state.with_trackers([](ModelTracker& models, CompetitionEmaTracker& ema) {
    EXPECT_DOUBLE_EQ(*ema.ema(0, 1), 0.2);
    EXPECT_DOUBLE_EQ(*ema.ema(0, 3), 0.0);
    const auto history = models.history("hk3", 0);
    ASSERT_EQ(history.size(), 1u);
    EXPECT_TRUE(std::isinf(history[0].mean_loss));
    EXPECT_DOUBLE_EQ(history[0].winning_loss, 0.2);  // uid 1 won the step
    EXPECT_EQ(history[0].block, 100);
  });
}

TEST(StepScorer, SecondStepUsesTheLaterEmaFormula) {
  ValidatorState state;
  const CompetitionConfig c0 = competition(0, 1.0);
  score_step(state, c0, {c0}, {result(0, true, 0.1, 1.0, 1.0)}, 100, 1);
  score_step(state, c0, {c0}, {result(0, true, 0.1, 1.0, 0.5)}, 101, 1);
  state.with_trackers([](ModelTracker&, CompetitionEmaTracker& ema) {
    EXPECT_DOUBLE_EQ(*ema.ema(0, 0), 0.2 * 0.5 + 0.8 * 0.2);
  });
}

TEST(StepScorer, SubnetWeightsAggregateActiveCompetitions) {
  ValidatorState state;
  const CompetitionConfig a = competition(0, 0.7), b = competition(1, 0.3);
  score_step(state, a, {a, b}, {result(0, true, 0.1, 1.0, 1.0)}, 100, 2);
  const StepOutcome out = score_step(state, b, {a, b}, {result(1, true, 0.1, 1.0, 1.0)}, 101, 2);
  EXPECT_NEAR(out.subnet_weights[0], 0.7, 1e-12);
  EXPECT_NEAR(out.subnet_weights[1], 0.3, 1e-12);
}

TEST(StepScorer, CopyPenaltyLowersTheLaterCopy) {
  ValidatorState state;
  CompetitionConfig c0 = competition(0, 1.0);
  c0.copy_penalty.enabled = true;
  c0.copy_penalty.penalty = 0.5;
  const StepOutcome out = score_step(
      state, c0, {c0},
      {result(4, true, 0.2, 0.5, 0.8, 50, "same"), result(5, true, 0.2, 0.5, 0.8, 40, "same")}, 100,
      6);
  EXPECT_DOUBLE_EQ(out.step_scores[0], 0.4);  // uid 4 committed later: penalised
  EXPECT_DOUBLE_EQ(out.step_scores[1], 0.8);
}

TEST(StepScorer, WeightsAreANormalisedDistribution) {
  ValidatorState state;
  const CompetitionConfig c0 = competition(0, 1.0);
  std::vector<StepModelResult> results;
  for (Uid u = 0; u < 50; ++u)
    results.push_back(result(u, u % 7 != 0, 0.1 * u, 0.02 * u, 0.01 * u));
  const StepOutcome out = score_step(state, c0, {c0}, results, 100, 64);
  const double sum = std::accumulate(out.subnet_weights.begin(), out.subnet_weights.end(), 0.0);
  EXPECT_NEAR(sum, 1.0, 1e-12);
  for (double w : out.subnet_weights) EXPECT_TRUE(std::isfinite(w) && w >= 0.0);
  EXPECT_EQ(out.kept.size(), 10u);  // sample_min
}

}  // namespace
}  // namespace crucible
