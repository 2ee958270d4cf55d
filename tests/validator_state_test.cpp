// Queues and thread safety; the concurrency test is the one ThreadSanitizer
// checks in `make test` (see the Makefile's tsan step).
#include "crucible/validator/validator_state.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace crucible {
namespace {

TEST(ValidatorState, PendingMovesToActiveAndIsReplaced) {
  ValidatorState state;
  state.add_pending(0, 5);
  state.add_pending(0, 2);
  state.add_pending(0, 5);
  state.add_pending(1, 9);
  EXPECT_EQ(state.pending(0), (std::vector<Uid>{2, 5}));
  EXPECT_EQ(state.pending_count(), 3u);
  EXPECT_EQ(state.take_pending(0), (std::vector<Uid>{2, 5}));
  EXPECT_TRUE(state.pending(0).empty());
  state.add_pending(0, 7);
  EXPECT_EQ(state.take_pending(0), (std::vector<Uid>{2, 5, 7}));
  state.replace_active(0, {5});
  EXPECT_EQ(state.active(0), std::vector<Uid>{5});
  EXPECT_EQ(state.active_count(), 1u);
}

TEST(ValidatorState, RetainDropsInactiveCompetitionsEverywhere) {
  ValidatorState state;
  state.add_pending(0, 1);
  state.add_pending(3, 1);
  state.with_trackers([](ModelTracker&, CompetitionEmaTracker& ema) {
    ema.update(3, 1, "hk", 1.0, 1, EmaParams{});
  });
  state.retain_competitions({0});
  EXPECT_TRUE(state.pending(3).empty());
  EXPECT_EQ(state.pending(0), std::vector<Uid>{1});
  state.with_trackers(
      [](ModelTracker&, CompetitionEmaTracker& ema) { EXPECT_TRUE(ema.competitions().empty()); });
}

TEST(ValidatorState, SnapshotRestoreRoundTrip) {
  ValidatorState state;
  state.add_pending(0, 4);
  state.take_pending(0);
  state.add_pending(0, 6);
  state.with_trackers([](ModelTracker& models, CompetitionEmaTracker& ema) {
    models.set_model("hk", ModelMetadata{"ns/a:c::0", 3, ""});
    ema.update(0, 4, "hk", 0.5, 3, EmaParams{});
  });
  const ValidatorStateSnapshot snap = state.snapshot();
  ValidatorState copy;
  copy.restore(snap.queues, snap.ema, snap.models);
  EXPECT_EQ(copy.snapshot().queues, snap.queues);
  EXPECT_EQ(copy.snapshot().ema, snap.ema);
  EXPECT_EQ(copy.snapshot().models, snap.models);
  // A malformed part changes nothing.
  EXPECT_THROW(copy.restore(nlohmann::json{{"competitions", "x"}}, nullptr, nullptr),
               std::runtime_error);
  EXPECT_EQ(copy.active(0), std::vector<Uid>{4});
}

TEST(ValidatorState, ConcurrentQueueingStepsAndSnapshots) {
  ValidatorState state;
  std::atomic<bool> stop{false};
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&state, p] {
      for (int i = 0; i < 2000; ++i) state.add_pending(i % 3, p * 10000 + i);
    });
  }
  size_t taken = 0;  // by the stepper; every uid queued is distinct
  std::thread stepper([&] {
    while (!stop) {
      for (CompetitionId c = 0; c < 3; ++c) {
        const std::vector<Uid> active = state.take_pending(c);
        taken += active.size();
        state.with_trackers([&](ModelTracker&, CompetitionEmaTracker& ema) {
          for (Uid uid : active) ema.update(c, uid % 256, "hk", 0.5, 1, EmaParams{});
        });
        state.replace_active(c, {});
      }
    }
  });
  std::thread saver([&] {  // snapshots race with everything above (ThreadSanitizer checks)
    do {
      state.snapshot();
    } while (!stop);
  });
  for (std::thread& t : producers) t.join();
  stop = true;
  stepper.join();
  saver.join();
  // Each queued uid was taken by exactly one step or is still pending.
  size_t pending = 0;
  for (CompetitionId c = 0; c < 3; ++c) pending += state.take_pending(c).size();
  EXPECT_EQ(taken + pending, 8000u);
}

}  // namespace
}  // namespace crucible
