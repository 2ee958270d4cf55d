// WeightSetter against a fake Chain: the cadence, backoff after failures,
// a hung set_weights timing out, prompt stop, nothing set while the provider
// has nothing. Intervals are tens of milliseconds so the suite stays fast.
#include "crucible/validator/weight_setter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace crucible {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Records set_weights calls; can refuse the first calls or hang until released.
class FakeChain : public Chain {
 public:
  Block current_block() override { return 0; }
  uint64_t block_seed(Block block) override { return static_cast<uint64_t>(block); }
  Metagraph metagraph() override { return {}; }
  std::map<std::string, Commitment> commitments() override { return {}; }

  void set_weights(const WeightsSubmission& weights) override {
    std::unique_lock<std::mutex> lock(mutex_);
    calls_.push_back({Clock::now(), weights});
    const size_t call = calls_.size();
    changed_.notify_all();
    changed_.wait(lock, [this] { return !hang_; });
    if (call <= refusals_) throw ChainError("refused #" + std::to_string(call));
  }

  void refuse_first(size_t calls) {
    std::lock_guard<std::mutex> lock(mutex_);
    refusals_ = calls;
  }
  void hang(bool hang) {
    std::lock_guard<std::mutex> lock(mutex_);
    hang_ = hang;
    changed_.notify_all();
  }

  struct Call {
    Clock::time_point at;
    WeightsSubmission weights;
  };
  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Call> calls_;
  size_t refusals_ = 0;
  bool hang_ = false;
};

// Polls `done` every millisecond for up to two seconds.
template <typename Predicate>
bool wait_until(Predicate done) {
  const Clock::time_point start = Clock::now();
  while (!done()) {
    if (seconds_since(start) > 2) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class WeightSetterTest : public ::testing::Test {
 protected:
  WeightSetter::Log log() {
    return [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(log_mutex_);
      log_.push_back(line);
    };
  }
  std::vector<std::string> logged() {
    std::lock_guard<std::mutex> lock(log_mutex_);
    return log_;
  }

  const std::shared_ptr<FakeChain> chain_ = std::make_shared<FakeChain>();
  const WeightsSubmission weights_{{0, 2}, {0.25, 0.75}, 3};
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

TEST_F(WeightSetterTest, SetsTheProvidersWeightsAtTheCadence) {
  const Clock::time_point start = Clock::now();
  WeightSetter setter(
      chain_, [this] { return weights_; }, {0.02, 1, 0.01}, log());
  ASSERT_TRUE(wait_until([&] { return setter.successes() >= 4; }));
  setter.stop();
  const double elapsed = seconds_since(start);

  const std::vector<FakeChain::Call> calls = chain_->calls();
  // The first attempt is immediate, then one per 20 ms: no more than that.
  EXPECT_LE(calls.size(), static_cast<size_t>(elapsed / 0.02) + 1);
  EXPECT_LT(std::chrono::duration<double>(calls[0].at - start).count(), 0.5);
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].weights.uids, weights_.uids);
    EXPECT_EQ(calls[i].weights.weights, weights_.weights);
    EXPECT_EQ(calls[i].weights.version_key, 3);
    if (i > 0) {
      EXPECT_GE(std::chrono::duration<double>(calls[i].at - calls[i - 1].at).count(), 0.019);
    }
  }
  EXPECT_EQ(setter.attempts(), static_cast<int64_t>(calls.size()));
  // A call still running when stop() came is not counted.
  EXPECT_GE(setter.successes(), static_cast<int64_t>(calls.size()) - 1);
  EXPECT_EQ(setter.failures(), 0);
  EXPECT_EQ(setter.last_error(), "");
  EXPECT_EQ(logged().at(0), "weight setter: set weights for 2 uids");
}

TEST_F(WeightSetterTest, BacksOffExponentiallyAfterFailuresThenSucceeds) {
  chain_->refuse_first(3);
  WeightSetter setter(
      chain_, [this] { return weights_; }, {10, 1, 0.02}, log());
  ASSERT_TRUE(wait_until([&] { return setter.successes() == 1; }));
  setter.stop();
  const std::vector<FakeChain::Call> calls = chain_->calls();
  ASSERT_EQ(calls.size(), 4u);
  const double expected_gaps[] = {0.02, 0.04, 0.08};
  for (size_t i = 1; i < calls.size(); ++i) {
    const double gap = std::chrono::duration<double>(calls[i].at - calls[i - 1].at).count();
    EXPECT_GE(gap, expected_gaps[i - 1] - 0.001);
    EXPECT_LT(gap, 1.0);  // a retry, not the 10 s interval
  }
  EXPECT_EQ(setter.attempts(), 4);
  EXPECT_EQ(setter.failures(), 3);
  EXPECT_EQ(setter.last_error(), "set_weights failed: refused #3");
  const std::vector<std::string> lines = logged();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "weight setter: set_weights failed: refused #1; retrying in 0.02 s");
  EXPECT_EQ(lines[1], "weight setter: set_weights failed: refused #2; retrying in 0.04 s");
  EXPECT_EQ(lines[2], "weight setter: set_weights failed: refused #3; retrying in 0.08 s");
  EXPECT_EQ(lines[3], "weight setter: set weights for 2 uids");
}

TEST_F(WeightSetterTest, BackoffIsCappedAtTheInterval) {
  chain_->refuse_first(1000);
  WeightSetter setter(
      chain_, [this] { return weights_; }, {0.05, 1, 0.02}, log());
  ASSERT_TRUE(wait_until([&] { return setter.failures() >= 4; }));
  setter.stop();
  const std::vector<std::string> lines = logged();
  const char* waits[] = {"0.02 s", "0.04 s", "0.05 s", "0.05 s"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(lines.at(i), "weight setter: set_weights failed: refused #" + std::to_string(i + 1) +
                               "; retrying in " + waits[i]);
  }
}

TEST_F(WeightSetterTest, HungAttemptTimesOutIsCountedAndBlocksNoLaterAttempt) {
  chain_->hang(true);
  WeightSetter setter(
      chain_, [this] { return weights_; }, {10, 0.05, 0.03}, log());
  ASSERT_TRUE(wait_until([&] { return setter.failures() == 1; }));
  EXPECT_EQ(setter.last_error(),
            "set_weights did not return within 0.05 s; left running in the background");
  // The retry finds the hung call still running and does not start another.
  ASSERT_TRUE(wait_until([&] { return setter.failures() == 2; }));
  EXPECT_EQ(setter.last_error(),
            "the previous set_weights call, which timed out, is still running");
  EXPECT_EQ(chain_->calls().size(), 1u);

  chain_->hang(false);  // the hung call returns; the next retry goes through
  ASSERT_TRUE(wait_until([&] { return setter.successes() == 1; }));
  setter.stop();
  EXPECT_EQ(chain_->calls().size(), 2u);
  EXPECT_EQ(setter.attempts(), setter.failures() + 1);
}

TEST_F(WeightSetterTest, StopIsPromptDuringAHungAttemptWhichKeepsTheChainAlive) {
  chain_->hang(true);
  auto setter = std::make_unique<WeightSetter>(
      chain_, [this] { return weights_; }, WeightSetter::Options{10, 10, 10}, log());
  ASSERT_TRUE(wait_until([&] { return chain_->calls().size() == 1; }));
  const Clock::time_point start = Clock::now();
  setter.reset();
  EXPECT_LT(seconds_since(start), 0.5);
  EXPECT_EQ(chain_.use_count(), 2);  // the test and the abandoned call
  chain_->hang(false);
  EXPECT_TRUE(wait_until([&] { return chain_.use_count() == 1; }));
}

TEST_F(WeightSetterTest, StopIsPromptDuringTheInterval) {
  WeightSetter setter(
      chain_, [this] { return weights_; }, {10, 1, 1}, log());
  ASSERT_TRUE(wait_until([&] { return setter.successes() == 1; }));
  const Clock::time_point start = Clock::now();
  setter.stop();
  setter.stop();  // idempotent
  EXPECT_LT(seconds_since(start), 0.5);
  EXPECT_EQ(chain_->calls().size(), 1u);
}

TEST_F(WeightSetterTest, NothingIsSetWhileTheProviderHasNothing) {
  std::atomic<int> asked{0};
  WeightSetter setter(
      chain_,
      [&asked]() -> std::optional<WeightsSubmission> {
        ++asked;
        return std::nullopt;
      },
      {0.02, 1, 0.01}, log());
  ASSERT_TRUE(wait_until([&] { return asked >= 3; }));
  setter.stop();
  EXPECT_TRUE(chain_->calls().empty());
  EXPECT_EQ(setter.attempts(), 0);
  EXPECT_EQ(setter.failures(), 0);
  EXPECT_TRUE(logged().empty());
}

TEST_F(WeightSetterTest, TheFirstWeightsGoOutSoonNotAnIntervalLater) {
  std::atomic<int> asked{0};
  WeightSetter setter(
      chain_,
      [&]() -> std::optional<WeightsSubmission> {
        if (++asked < 3) return std::nullopt;  // no step scored yet
        return weights_;
      },
      {3600, 1, 0.01}, log());
  ASSERT_TRUE(wait_until([&] { return setter.successes() == 1; }));
  setter.stop();
  EXPECT_EQ(asked, 3);
}

TEST_F(WeightSetterTest, ProviderExceptionIsAFailedAttempt) {
  WeightSetter setter(
      chain_,
      []() -> std::optional<WeightsSubmission> { throw std::runtime_error("no scores yet"); },
      {10, 1, 10}, log());
  ASSERT_TRUE(wait_until([&] { return setter.failures() == 1; }));
  EXPECT_EQ(setter.attempts(), 1);
  EXPECT_EQ(setter.last_error(), "the weights provider failed: no scores yet");
  EXPECT_TRUE(chain_->calls().empty());
}

TEST_F(WeightSetterTest, RejectsNonPositiveOptions) {
  const auto provider = [this] { return weights_; };
  EXPECT_THROW(WeightSetter(chain_, provider, {0, 1, 1}), std::invalid_argument);
  EXPECT_THROW(WeightSetter(chain_, provider, {1, -1, 1}), std::invalid_argument);
  EXPECT_THROW(WeightSetter(chain_, provider, {1, 1, std::nan("")}), std::invalid_argument);
  EXPECT_THROW(WeightSetter(nullptr, provider, {1, 1, 1}), std::invalid_argument);
}

TEST_F(WeightSetterTest, HeldWeightsAreNotSetUntilTheHoldClears) {
  std::atomic<bool> stale{true};
  WeightSetter setter(
      chain_, [this] { return weights_; }, {0.02, 1, 0.01}, log(),
      [&stale] {
        return stale ? std::string("chain stale: the bridge last synced 400 s ago") : "";
      });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(chain_->calls().empty());
  EXPECT_EQ(setter.attempts(), 0);
  EXPECT_EQ(setter.failures(), 0);
  stale = false;
  ASSERT_TRUE(wait_until([&] { return setter.successes() >= 1; }));
  setter.stop();
  const std::vector<std::string> lines = logged();
  ASSERT_GE(lines.size(), 3u);
  // The hold is logged once, not once per retry.
  EXPECT_EQ(lines[0], "weight setter: weights held: chain stale: the bridge last synced 400 s ago");
  EXPECT_EQ(lines[1], "weight setter: weights no longer held");
  EXPECT_EQ(lines[2], "weight setter: set weights for 2 uids");
}

}  // namespace
}  // namespace crucible
