// StopSignals and child_processes: a first SIGINT asks to stop, a second
// aborts with 128 + the signal; a child process is found and killed.
#include "crucible/validator/stop_signals.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

#include "crucible/validator/child_processes.h"

namespace crucible {
namespace {

bool wait_for(const std::atomic<bool>& flag) {
  for (int i = 0; i < 500 && !flag; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return flag;
}

TEST(StopSignalsTest, AFirstSignalRequestsAStop) {
  std::atomic<int> stopped_by{0};
  {
    StopSignals signals([&](int signal) { stopped_by = signal; }, [](int) {});
    EXPECT_FALSE(signals.requested());
    ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);  // to the process: the watcher takes it
    EXPECT_TRUE(wait_for(signals.requested()));
    for (int i = 0; i < 500 && stopped_by == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(stopped_by, SIGTERM);
  }
  // The previous mask is back: SIGINT is not blocked in this thread.
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  EXPECT_FALSE(sigismember(&mask, SIGINT));
}

TEST(StopSignalsDeathTest, ASecondSignalAbortsWith128PlusTheSignal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        StopSignals signals([](int) {}, [](int) { std::fputs("aborting\n", stderr); });
        ::kill(::getpid(), SIGINT);
        wait_for(signals.requested());
        ::kill(::getpid(), SIGINT);
        std::this_thread::sleep_for(std::chrono::seconds(10));
      },
      ::testing::ExitedWithCode(128 + SIGINT), "aborting");
}

TEST(ChildProcessesTest, AChildIsFoundAndKilled) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(child, 0);
  const std::vector<pid_t> children = child_processes();
  EXPECT_NE(std::find(children.begin(), children.end(), child), children.end());
  EXPECT_GE(signal_child_processes(SIGKILL), 1u);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

}  // namespace
}  // namespace crucible
