#include "crucible/validator/model_tracker.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace crucible {
namespace {

TEST(ModelTracker, SetModelReportsChanges) {
  ModelTracker tracker;
  const ModelMetadata first{"ns/a:c1:h:0", 100, ""};
  EXPECT_TRUE(tracker.set_model("hk", first));
  EXPECT_FALSE(tracker.set_model("hk", first));
  EXPECT_TRUE(tracker.set_model("hk", ModelMetadata{"ns/a:c2:h:0", 120, ""}));
  EXPECT_EQ(tracker.model("hk")->block, 120);
  EXPECT_FALSE(tracker.model("other").has_value());
}

TEST(ModelTracker, HistoryIsBoundedOldestDropped) {
  ModelTracker tracker(3);
  for (Block b = 1; b <= 5; ++b) {
    tracker.record_evaluation("hk", 0, EvaluationRecord{b, 0.1 * b, 1, 0.1});
  }
  tracker.record_evaluation("hk", 1, EvaluationRecord{9, 0.5, 9, 0.5});
  const auto history = tracker.history("hk", 0);
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history.front().block, 3);
  EXPECT_EQ(history.back().block, 5);
  EXPECT_EQ(*tracker.last_evaluated_block("hk"), 9);
  EXPECT_FALSE(tracker.last_evaluated_block("nobody").has_value());
}

TEST(ModelTracker, RetainDropsHotkeysThatLeft) {
  ModelTracker tracker;
  tracker.set_model("a", ModelMetadata{"ns/a:c::0", 1, ""});
  tracker.set_model("b", ModelMetadata{"ns/b:c::0", 1, ""});
  tracker.retain_hotkeys({"b"});
  EXPECT_FALSE(tracker.model("a").has_value());
  EXPECT_TRUE(tracker.model("b").has_value());
}

TEST(ModelTracker, JsonRoundTripKeepsInfiniteLosses) {
  ModelTracker tracker(4);
  tracker.set_model("hk", ModelMetadata{"ns/a:c:h:0", 7, "abc="});
  const double inf = std::numeric_limits<double>::infinity();
  tracker.record_evaluation("hk", 0, EvaluationRecord{10, inf, 8, 0.25});
  const ModelTracker back = ModelTracker::from_json(tracker.to_json(), 4);
  EXPECT_TRUE(back == tracker);
  EXPECT_TRUE(std::isinf(back.history("hk", 0)[0].mean_loss));
  EXPECT_EQ(back.model("hk")->content_hash, "abc=");
  EXPECT_THROW(ModelTracker::from_json(nlohmann::json::object()), std::runtime_error);
}

}  // namespace
}  // namespace crucible
