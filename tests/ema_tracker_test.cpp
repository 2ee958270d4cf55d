// EMA updates, resets and resizing with worked numbers (docs/scoring.md section 5).
#include "crucible/validator/ema_tracker.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace crucible {
namespace {

const EmaParams kDefault{0.2, 0.2, 0.0};

TEST(EmaTracker, FirstAndLaterUpdates) {
  CompetitionEmaTracker ema;
  ema.update(0, 3, "hk3", 0.5, 100, kDefault);
  EXPECT_DOUBLE_EQ(*ema.ema(0, 3), 0.8 * 0.0 + 0.2 * 0.5);  // 0.1
  ema.update(0, 3, "hk3", 1.0, 101, kDefault);
  EXPECT_DOUBLE_EQ(*ema.ema(0, 3), 0.2 * 1.0 + 0.8 * 0.1);  // 0.28
  EXPECT_EQ(ema.raw_score(0, 3)->score, 1.0);
  EXPECT_EQ(ema.raw_score(0, 3)->block, 101);
  EXPECT_EQ(*ema.hotkey(3), "hk3");

  CompetitionEmaTracker with_baseline;
  with_baseline.update(1, 0, "a", 1.0, 5, EmaParams{0.5, 0.25, 0.4});
  EXPECT_DOUBLE_EQ(*with_baseline.ema(1, 0), 0.75 * 0.4 + 0.25 * 1.0);
  EXPECT_FALSE(with_baseline.ema(0, 0).has_value());  // per competition
}

TEST(EmaTracker, NonFiniteScoreCountsAsZero) {
  CompetitionEmaTracker ema;
  ema.update(0, 1, "a", std::numeric_limits<double>::quiet_NaN(), 1, kDefault);
  EXPECT_EQ(*ema.ema(0, 1), 0.0);
}

TEST(EmaTracker, EmasVectorHasNaNForMissing) {
  CompetitionEmaTracker ema;
  ema.update(0, 1, "a", 1.0, 1, kDefault);
  const std::vector<double> v = ema.emas(0, 3);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_DOUBLE_EQ(v[1], 0.2);
  EXPECT_TRUE(std::isnan(v[2]));
}

TEST(EmaTracker, ModelChangeResetsEmaEverywhereKeepsRaw) {
  CompetitionEmaTracker ema;
  ema.update(0, 2, "b", 1.0, 1, kDefault);
  ema.update(1, 2, "b", 1.0, 1, kDefault);
  ema.reset_uid(2);
  EXPECT_FALSE(ema.ema(0, 2).has_value());
  EXPECT_FALSE(ema.ema(1, 2).has_value());
  EXPECT_EQ(ema.raw_score(0, 2)->score, 1.0);
  ema.update(0, 2, "b", 0.5, 2, kDefault);  // starts again from the baseline
  EXPECT_DOUBLE_EQ(*ema.ema(0, 2), 0.1);
}

TEST(EmaTracker, HotkeyChangeAndDeregistrationReset) {
  CompetitionEmaTracker ema;
  ema.update(0, 0, "a", 1.0, 1, kDefault);
  ema.update(0, 1, "b", 1.0, 1, kDefault);
  ema.update(0, 2, "c", 1.0, 1, kDefault);
  // uid 1 re-registered by another hotkey; uid 2 is gone (neurons shrank to 2).
  EXPECT_EQ(ema.reset_changed_hotkeys({"a", "new"}), (std::vector<Uid>{1, 2}));
  EXPECT_TRUE(ema.ema(0, 0).has_value());
  EXPECT_FALSE(ema.ema(0, 1).has_value());
  EXPECT_FALSE(ema.hotkey(1).has_value());
  EXPECT_FALSE(ema.ema(0, 2).has_value());
}

TEST(EmaTracker, InactiveCompetitionsAreDropped) {
  CompetitionEmaTracker ema;
  ema.update(0, 0, "a", 1.0, 1, kDefault);
  ema.update(7, 0, "a", 1.0, 1, kDefault);
  ema.retain_competitions({7});
  EXPECT_EQ(ema.competitions(), (std::set<CompetitionId>{7}));
}

TEST(EmaTracker, ResizeKeepsHistoryOfRemainingUids) {
  CompetitionEmaTracker ema;
  ema.update(0, 1, "a", 1.0, 1, kDefault);
  ema.update(0, 5, "b", 1.0, 1, kDefault);
  ema.set_weights(0, {0.0, 1.0});
  ema.resize(4);
  EXPECT_EQ(ema.weights(0), (std::vector<double>{0.0, 1.0, 0.0, 0.0}));
  EXPECT_DOUBLE_EQ(*ema.ema(0, 1), 0.2);
  EXPECT_FALSE(ema.ema(0, 5).has_value());
  ema.resize(1);
  EXPECT_EQ(ema.weights(0), std::vector<double>{0.0});
}

TEST(EmaTracker, JsonRoundTrip) {
  CompetitionEmaTracker ema;
  ema.update(0, 1, "a", 0.3, 10, kDefault);
  ema.update(2, 4, "d", 0.9, 11, kDefault);
  ema.reset_uid(4);  // raw score without an EMA
  ema.set_weights(0, {0.25, 0.75});
  const CompetitionEmaTracker back = CompetitionEmaTracker::from_json(ema.to_json());
  EXPECT_TRUE(back == ema);
  EXPECT_DOUBLE_EQ(*back.ema(0, 1), *ema.ema(0, 1));
  EXPECT_FALSE(back.ema(2, 4).has_value());
  EXPECT_EQ(back.raw_score(2, 4)->block, 11);
  EXPECT_THROW(CompetitionEmaTracker::from_json(nlohmann::json{{"competitions", 3}}),
               std::runtime_error);
}

}  // namespace
}  // namespace crucible
