// Scores to weights, subnet aggregation, the keep rule and the optional rules
// (docs/scoring.md sections 5 and 6), worked by hand.
#include "crucible/validator/rewards.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace crucible {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

RewardConfig with_strategy(RewardStrategy strategy) {
  RewardConfig config;
  config.strategy = strategy;
  return config;
}

void expect_weights(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-12) << i;
}

TEST(Rewards, SoftmaxOverRewardedUidsOnly) {
  // T = 0.1: only 0.5 and 0.3 are rewarded; exp(5) / (exp(5) + exp(3)) =
  // 1 / (1 + e^-2) = 0.8807970779..., the other 1 / (1 + e^2) = 0.1192029220...
  const auto w = competition_weights({0.5, 0.3, 0.0, -1.0, kNaN}, RewardConfig{});
  const double e5 = std::exp(5.0), e3 = std::exp(3.0);
  expect_weights(w, {e5 / (e5 + e3), e3 / (e5 + e3), 0.0, 0.0, 0.0});
  EXPECT_NEAR(w[0], 0.8807970779778823, 1e-12);
}

TEST(Rewards, SoftmaxWithHugeScoresStaysFinite) {
  // exp((1e308 - 1e308) / 0.1) = 1 twice; exp((1 - 1e308) / 0.1) = 0; +inf is
  // not rewarded.
  expect_weights(competition_weights({1e308, 1e308, 1.0, kInf}, RewardConfig{}),
                 {0.5, 0.5, 0.0, 0.0});
}

TEST(Rewards, LinearIsProportional) {
  // Rewarded: 2 and 6 -> 2/8 and 6/8; NaN, +inf and -3 get nothing.
  expect_weights(competition_weights({2.0, 0.0, 6.0, kNaN, kInf, -3.0},
                                     with_strategy(RewardStrategy::kLinear)),
                 {0.25, 0.0, 0.75, 0.0, 0.0, 0.0});
}

TEST(Rewards, RankedDecayTiesShareARank) {
  // decay 0.5. uid 1 (0.4) rank 0; uids 0 and 2 (0.2, tied) rank 1; uid 3
  // (0.1) rank 3 (three scores above it) -> 1, 1/2, 1/2, 1/8; sum 17/8.
  RewardConfig config = with_strategy(RewardStrategy::kRankedDecay);
  config.decay = 0.5;
  expect_weights(competition_weights({0.2, 0.4, 0.2, 0.1, 0.0}, config),
                 {4.0 / 17, 8.0 / 17, 4.0 / 17, 1.0 / 17, 0.0});
  // The same scores under other uids get the same weights.
  const std::vector<double> swapped = competition_weights({0.4, 0.2, 0.1, 0.2, 0.0}, config);
  EXPECT_EQ(swapped[1], swapped[3]);
}

TEST(Rewards, ExponentTwo) {
  // Linear {1, 3} -> 1/4, 3/4; squared 1/16, 9/16; renormalised 1/10, 9/10.
  RewardConfig config = with_strategy(RewardStrategy::kLinear);
  config.exponent = 2.0;
  expect_weights(competition_weights({1.0, 3.0}, config), {0.1, 0.9});
}

TEST(Rewards, FirstPlaceBoostTwo) {
  // Linear {1, 1, 2} -> 1/4, 1/4, 1/2; uid 2 doubled -> 1/4, 1/4, 1; /1.5.
  RewardConfig config = with_strategy(RewardStrategy::kLinear);
  config.first_place_boost = 2.0;
  expect_weights(competition_weights({1.0, 1.0, 2.0}, config), {1.0 / 6, 1.0 / 6, 2.0 / 3});
  // A tie for first: both are boosted, whatever the uids. Linear 0.4, 0.4,
  // 0.2 -> 0.8, 0.8, 0.2 -> 4/9, 4/9, 1/9.
  expect_weights(competition_weights({1.0, 1.0, 0.5}, config), {4.0 / 9, 4.0 / 9, 1.0 / 9});
}

TEST(Rewards, MinWeightOverFourRewardedUids) {
  // Linear {7, 1, 1, 1, 0} -> 0.7, 0.1, 0.1, 0.1; floor 0.2 -> 0.7, 0.2, 0.2,
  // 0.2 (sum 1.3) -> 7/13, 2/13, 2/13, 2/13; uid 4 is not rewarded, no floor.
  RewardConfig config = with_strategy(RewardStrategy::kLinear);
  config.min_weight = 0.2;
  expect_weights(competition_weights({7.0, 1.0, 1.0, 1.0, 0.0}, config),
                 {7.0 / 13, 2.0 / 13, 2.0 / 13, 2.0 / 13, 0.0});
}

TEST(Rewards, ExponentThenBoostThenMinWeight) {
  // Linear {1, 3} -> exponent 2: 1/10, 9/10 -> boost 2 on uid 1: 1/10, 18/10
  // -> 1/19, 18/19 -> floor 0.2: 1/5, 18/19 (sum 109/95) -> 19/109, 90/109.
  RewardConfig config = with_strategy(RewardStrategy::kLinear);
  config.exponent = 2.0;
  config.first_place_boost = 2.0;
  config.min_weight = 0.2;
  expect_weights(competition_weights({1.0, 3.0}, config), {19.0 / 109, 90.0 / 109});
}

TEST(Rewards, NothingPositiveGivesAllZero) {
  for (RewardStrategy strategy :
       {RewardStrategy::kSoftmax, RewardStrategy::kLinear, RewardStrategy::kRankedDecay}) {
    RewardConfig config = with_strategy(strategy);
    config.min_weight = 0.2;
    config.first_place_boost = 2.0;
    expect_weights(competition_weights({0.0, -1.0, kNaN, -kInf, kInf}, config),
                   {0.0, 0.0, 0.0, 0.0, 0.0});
    EXPECT_TRUE(competition_weights({}, config).empty());
  }
}

TEST(Rewards, SoftmaxAllNeuronsGivesEveryUidWeight) {
  // Values 0.5, 0, 0, 0 (NaN and -1 count as 0); T = 0.1 -> e^5 and three e^0.
  const auto config = with_strategy(RewardStrategy::kSoftmaxAllNeurons);
  const double e5 = std::exp(5.0);
  const double sum = e5 + 3.0;
  expect_weights(competition_weights({0.5, 0.0, kNaN, -1.0}, config),
                 {e5 / sum, 1.0 / sum, 1.0 / sum, 1.0 / sum});
  // Nothing positive: uniform rather than all zero.
  expect_weights(competition_weights({0.0, -kInf}, config), {0.5, 0.5});
  EXPECT_TRUE(competition_weights({}, config).empty());
}

// Every strategy and option combination on random vectors mixing NaN, +-inf,
// negatives, zeros, +-1e300 and tiny values: finite, >= 0, sum 1 within 1e-12
// exactly when some uid is rewarded (any uid at all for kSoftmaxAllNeurons),
// otherwise all 0; unrewarded uids get 0 outside kSoftmaxAllNeurons.
TEST(Rewards, PropertyFiniteNonNegativeSumOneOrZero) {
  std::mt19937 rng(20240611);
  const std::vector<double> specials = {kNaN,   kInf,  -kInf,  -1.0,   0.0,    1e300,
                                        -1e300, 1e308, 1e-300, 5e-324, -5e-324};
  std::uniform_int_distribution<size_t> size_dist(0, 300);
  std::uniform_int_distribution<size_t> special_dist(0, specials.size() - 1);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::bernoulli_distribution use_special(0.3);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<double> scores(size_dist(rng));
    bool any_rewarded = false;
    for (double& s : scores) {
      s = use_special(rng) ? specials[special_dist(rng)] : unit(rng);
      any_rewarded = any_rewarded || (std::isfinite(s) && s > 0.0);
    }
    for (RewardStrategy strategy :
         {RewardStrategy::kSoftmax, RewardStrategy::kLinear, RewardStrategy::kRankedDecay,
          RewardStrategy::kSoftmaxAllNeurons}) {
      for (double exponent : {1.0, 0.5, 3.0}) {
        for (double boost : {1.0, 2.0}) {
          for (double min_weight : {0.0, 0.2}) {
            RewardConfig config = with_strategy(strategy);
            config.temperature = trial % 2 == 0 ? 0.1 : 1e-3;
            config.decay = trial % 3 == 0 ? 0.9 : 0.5;
            config.exponent = exponent;
            config.first_place_boost = boost;
            config.min_weight = min_weight;
            const auto w = competition_weights(scores, config);
            ASSERT_EQ(w.size(), scores.size());
            const bool all_neurons = strategy == RewardStrategy::kSoftmaxAllNeurons;
            double sum = 0.0;
            for (size_t uid = 0; uid < w.size(); ++uid) {
              ASSERT_TRUE(std::isfinite(w[uid])) << trial << " uid " << uid;
              ASSERT_GE(w[uid], 0.0) << trial << " uid " << uid;
              if (!all_neurons && !(std::isfinite(scores[uid]) && scores[uid] > 0.0)) {
                ASSERT_EQ(w[uid], 0.0) << trial << " uid " << uid;
              }
              sum += w[uid];
            }
            const bool expect_weight = all_neurons ? !scores.empty() : any_rewarded;
            ASSERT_NEAR(sum, expect_weight ? 1.0 : 0.0, 1e-12) << trial;
          }
        }
      }
    }
  }
}

TEST(SubnetWeights, TwoCompetitionsWithSharesAndThreshold) {
  // 0.7 * {0.5, 0.5, 0} + 0.3 * {0, 0.1, 0.9} over 4 uids = {0.35, 0.38, 0.27, 0}.
  const std::vector<CompetitionContribution> contributions = {{0.7, {0.5, 0.5, 0.0}},
                                                              {0.3, {0.0, 0.1, 0.9}}};
  expect_weights(subnet_weights(contributions, 4), {0.35, 0.38, 0.27, 0.0});
  // Threshold 0.2 zeroes the second competition's 0.1 first:
  // {0.35, 0.35, 0.27, 0} / 0.97.
  expect_weights(subnet_weights(contributions, 4, 0.2),
                 {0.35 / 0.97, 0.35 / 0.97, 0.27 / 0.97, 0.0});
}

TEST(SubnetWeights, PadsShortAndTruncatesLongWeights) {
  // {0.2, 0.3, 0.5} over 2 neurons -> {0.2, 0.3} / 0.5; {1} over 3 -> {1, 0, 0}.
  expect_weights(subnet_weights({{1.0, {0.2, 0.3, 0.5}}}, 2), {0.4, 0.6});
  expect_weights(subnet_weights({{1.0, {1.0}}}, 3), {1.0, 0.0, 0.0});
}

TEST(SubnetWeights, BadValuesContributeNothing) {
  // NaN, +inf and negative weights count as 0; NaN, +inf and negative shares
  // drop the whole contribution.
  const std::vector<CompetitionContribution> contributions = {{0.5, {kNaN, 1.0, kInf, -1.0}},
                                                              {kNaN, {1.0, 0.0, 0.0, 0.0}},
                                                              {kInf, {1.0, 0.0, 0.0, 0.0}},
                                                              {-0.5, {1.0, 0.0, 0.0, 0.0}}};
  expect_weights(subnet_weights(contributions, 4), {0.0, 1.0, 0.0, 0.0});
}

TEST(SubnetWeights, AllZeroStaysZero) {
  expect_weights(subnet_weights({{0.6, {0.0, 0.0}}, {0.4, {}}}, 3), {0.0, 0.0, 0.0});
  expect_weights(subnet_weights({}, 2), {0.0, 0.0});
  EXPECT_TRUE(subnet_weights({{1.0, {1.0}}}, 0).empty());
}

EvaluatedModel model(Uid uid, double mean_loss, double win_rate, Block block = 0,
                     const std::string& hash = "", double score = 1.0) {
  EvaluatedModel m;
  m.uid = uid;
  m.block = block;
  m.content_hash = hash;
  m.mean_loss = mean_loss;
  m.win_rate = win_rate;
  m.score = score;
  return m;
}

TEST(KeepRule, WeightPriorityBeatsWinRate) {
  // Priorities: uid 0 w 0.0009 < 0.001 -> win rate 0.9; uid 1 w 0.001 -> 1.001;
  // uid 3 w 0.5 -> 1.5; uid 2 win rate 0.95. Top 2: uids 3 and 1.
  const std::vector<EvaluatedModel> models = {model(0, 1.0, 0.9), model(1, 1.0, 0.0),
                                              model(2, 1.0, 0.95), model(3, 1.0, 0.0)};
  EXPECT_EQ(models_to_keep(models, {0.0009, 0.001, 0.0, 0.5}, 2), (std::vector<Uid>{1, 3}));
}

TEST(KeepRule, WinRatePriorityWithMissingWeights) {
  // No weights: priorities are the win rates 0.1, 0.7, 0.3 -> uids 1 and 2.
  const std::vector<EvaluatedModel> models = {model(0, 0.5, 0.1), model(1, 2.0, 0.7),
                                              model(2, 3.0, 0.3)};
  EXPECT_EQ(models_to_keep(models, {}, 2), (std::vector<Uid>{1, 2}));
}

TEST(KeepRule, FillsWithLowestFiniteLoss) {
  // Only uid 4 has a positive priority; two more by loss: uid 7 (0.5), then
  // uid 2 (0.8); uid 5 failed (+inf) and uid 6 (NaN) are never filled.
  const std::vector<EvaluatedModel> models = {model(2, 0.8, 0.0),  model(4, 2.0, 0.6),
                                              model(5, kInf, 0.0), model(6, kNaN, kNaN),
                                              model(7, 0.5, 0.0),  model(8, 0.9, 0.0)};
  EXPECT_EQ(models_to_keep(models, {}, 3), (std::vector<Uid>{2, 4, 7}));
}

TEST(KeepRule, SampleMinLargerThanModels) {
  // All with a positive priority or a finite loss are kept; the failed uid 1
  // (no win rate, +inf loss) is not.
  const std::vector<EvaluatedModel> models = {model(3, 1.0, 0.0), model(1, kInf, 0.0),
                                              model(0, kInf, 0.4)};
  EXPECT_EQ(models_to_keep(models, {}, 10), (std::vector<Uid>{0, 3}));
  EXPECT_TRUE(models_to_keep(models, {}, 0).empty());
  EXPECT_TRUE(models_to_keep({}, {}, 10).empty());
}

TEST(KeepRule, TiesGoToLowerUid) {
  // Equal win rates 0.5 for uids 9, 3, 6 -> 3 and 6 by priority; with
  // sample_min 1 and no priorities, equal losses 1.0 for 8 and 2 -> 2.
  const std::vector<EvaluatedModel> by_priority = {model(9, 1.0, 0.5), model(3, 1.0, 0.5),
                                                   model(6, 1.0, 0.5)};
  EXPECT_EQ(models_to_keep(by_priority, {}, 2), (std::vector<Uid>{3, 6}));
  const std::vector<EvaluatedModel> by_loss = {model(8, 1.0, 0.0), model(2, 1.0, 0.0)};
  EXPECT_EQ(models_to_keep(by_loss, {}, 1), (std::vector<Uid>{2}));
}

std::vector<double> scores_of(const std::vector<EvaluatedModel>& models) {
  std::vector<double> scores;
  for (const EvaluatedModel& m : models) scores.push_back(m.score);
  return scores;
}

TEST(Epsilon, FixedEpsilon) {
  // epsilon 0.1. Block 10 (loss 1.0) is first: kept. Block 20 (0.95) must be
  // below 0.9 * 1.0: zeroed. Block 30 (0.85) must be below 0.9 and
  // 0.9 * 0.95 = 0.855: kept. Input order does not matter.
  EpsilonConfig config{true, 0.1, 0.1, 0};
  std::vector<EvaluatedModel> models = {model(2, 0.85, 0, 30), model(0, 1.0, 0, 10),
                                        model(1, 0.95, 0, 20)};
  apply_epsilon_advantage(models, config, 100);
  EXPECT_EQ(scores_of(models), (std::vector<double>{1.0, 1.0, 0.0}));
}

TEST(Epsilon, DecayingEpsilon) {
  // start 0.1, end 0, over 100 blocks. Earlier model at block 0, loss 1.0.
  // At block 60: eps = 0.1 - 0.1 * 0.6 = 0.04, bar 0.96: 0.99 loses, 0.95 wins.
  // At block 150: eps = end = 0 (age capped at 100), bar 1.0: 0.99 wins.
  EpsilonConfig config{true, 0.1, 0.0, 100};
  auto later_score = [&](double later_loss, Block current_block) {
    std::vector<EvaluatedModel> models = {model(0, 1.0, 0, 0), model(1, later_loss, 0, 50)};
    apply_epsilon_advantage(models, config, current_block);
    EXPECT_EQ(models[0].score, 1.0);
    return models[1].score;
  };
  EXPECT_EQ(later_score(0.99, 60), 0.0);
  EXPECT_EQ(later_score(0.95, 60), 1.0);
  EXPECT_EQ(later_score(0.99, 150), 1.0);
}

TEST(Epsilon, EqualBlocksLowerUidIsEarlier) {
  // Same block: uid 2 is earlier; uid 5 (same loss) must be below 0.99.
  EpsilonConfig config{true, 0.01, 0.01, 0};
  std::vector<EvaluatedModel> models = {model(5, 1.0, 0, 10), model(2, 1.0, 0, 10)};
  apply_epsilon_advantage(models, config, 10);
  EXPECT_EQ(scores_of(models), (std::vector<double>{0.0, 1.0}));
}

TEST(Epsilon, FailedAndNaNLosses) {
  // A failed earlier model (+inf) sets no bar: uid 1 (0.5) keeps its score.
  // A failed (+inf) or NaN later model never beats: zeroed. A failed model
  // with no earlier model keeps its score.
  EpsilonConfig config{true, 0.1, 0.1, 0};
  std::vector<EvaluatedModel> models = {model(0, kInf, 0, 1), model(1, 0.5, 0, 2),
                                        model(2, kInf, 0, 3), model(3, kNaN, 0, 4)};
  apply_epsilon_advantage(models, config, 10);
  EXPECT_EQ(scores_of(models), (std::vector<double>{1.0, 1.0, 0.0, 0.0}));
  std::vector<EvaluatedModel> alone = {model(0, kInf, 0, 1)};
  apply_epsilon_advantage(alone, config, 10);
  EXPECT_EQ(alone[0].score, 1.0);
}

TEST(Epsilon, DisabledHasNoEffect) {
  std::vector<EvaluatedModel> models = {model(0, 1.0, 0, 1), model(1, 2.0, 0, 2)};
  apply_epsilon_advantage(models, EpsilonConfig{}, 10);
  EXPECT_EQ(scores_of(models), (std::vector<double>{1.0, 1.0}));
}

TEST(CopyPenalty, AllButEarliestOfIdenticalHashes) {
  // Hash "h" at blocks 30, 10, 20: the block-10 model keeps 1.0, the others
  // get 0.5. "u" is unique; empty hashes are never grouped.
  CopyPenaltyConfig config{true, 0.5};
  std::vector<EvaluatedModel> models = {model(0, 1.0, 0, 30, "h"), model(1, 1.0, 0, 10, "h"),
                                        model(2, 1.0, 0, 20, "h"), model(3, 1.0, 0, 5, "u"),
                                        model(4, 1.0, 0, 1, ""),   model(5, 1.0, 0, 2, "")};
  apply_copy_penalty(models, config);
  EXPECT_EQ(scores_of(models), (std::vector<double>{0.5, 1.0, 0.5, 1.0, 1.0, 1.0}));
}

TEST(CopyPenalty, EqualBlocksLowerUidIsEarliest) {
  CopyPenaltyConfig config{true, 0.25};
  std::vector<EvaluatedModel> models = {model(7, 1.0, 0, 10, "h", 0.8),
                                        model(3, 1.0, 0, 10, "h", 0.8)};
  apply_copy_penalty(models, config);
  EXPECT_EQ(scores_of(models), (std::vector<double>{0.2, 0.8}));
}

TEST(CopyPenalty, DisabledHasNoEffect) {
  std::vector<EvaluatedModel> models = {model(0, 1.0, 0, 1, "h"), model(1, 1.0, 0, 2, "h")};
  apply_copy_penalty(models, CopyPenaltyConfig{});
  EXPECT_EQ(scores_of(models), (std::vector<double>{1.0, 1.0}));
}

}  // namespace
}  // namespace crucible
