// Child processes with timeouts: the isolation `crucible eval` relies on.
#include "crucible/engine/worker_pool.h"

#include <gtest/gtest.h>

#include <csignal>

namespace crucible {
namespace {

TEST(WorkerPool, ReportsExitSignalTimeoutAndStderr) {
  const std::vector<std::vector<std::string>> commands = {
      {"/bin/true"},           {"/bin/sh", "-c", "echo first >&2; echo boom >&2; exit 3"},
      {"/bin/sleep", "10"},    {"/bin/sh", "-c", "kill -SEGV $$"},
      {"/nonexistent/worker"},
  };
  WorkerPoolOptions options;
  options.max_parallel = 2;
  options.timeout_seconds = 0.5;
  const std::vector<WorkerOutcome> out = run_workers(commands, options);
  ASSERT_EQ(out.size(), commands.size());
  EXPECT_EQ(out[0].exit_code, 0);
  EXPECT_EQ(out[1].exit_code, 3);
  EXPECT_EQ(out[1].last_error, "boom");
  EXPECT_TRUE(out[2].timed_out);
  EXPECT_EQ(out[2].signal, SIGKILL);
  EXPECT_LT(out[2].seconds, 5.0);
  EXPECT_EQ(out[3].signal, SIGSEGV);
  EXPECT_FALSE(out[3].timed_out);
  EXPECT_EQ(out[4].exit_code, 127);
}

TEST(WorkerPool, MemoryLimitStopsAnAllocation) {
  WorkerPoolOptions options;
  options.memory_limit_bytes = 64LL << 20;  // 64 MiB of address space for python: far too little
  const std::vector<WorkerOutcome> out = run_workers(
      {{"/bin/sh", "-c", "exec /usr/bin/python3 -c 'x = bytearray(1 << 30)'"}}, options);
  EXPECT_NE(out[0].exit_code, 0);
}

}  // namespace
}  // namespace crucible
