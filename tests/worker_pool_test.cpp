// Long-lived worker processes with timeouts, replacement and a memory budget:
// the isolation `crucible eval` relies on. The workers here are shell scripts
// that speak the pool's line protocol.
#include "crucible/engine/models/torchscript/worker_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>

namespace crucible {
namespace {

std::vector<std::string> shell_worker(const std::string& body) {
  return {"/bin/sh", "-c", "echo ready; while read line; do " + body + "; done"};
}

std::vector<WorkerJob> jobs_of(const std::vector<std::string>& requests) {
  std::vector<WorkerJob> jobs;
  for (const std::string& r : requests) jobs.push_back({r, 0});
  return jobs;
}

using Status = JobOutcome::Status;

TEST(WorkerPool, ReportsRepliesTimeoutsCrashesAndExits) {
  const std::vector<std::string> worker = shell_worker(
      "case \"$line\" in ok*) echo \"$line\";; sleep) sleep 10;; segv) kill -SEGV $$;;"
      " exit) echo first >&2; echo bye >&2; exit 3;; *) echo \"failed: $line\";; esac");
  WorkerPoolOptions options;
  options.max_workers = 2;
  options.timeout_seconds = 0.5;
  const std::vector<JobOutcome> out =
      run_jobs(worker, jobs_of({"ok 1", "sleep", "segv", "exit", "boom", "ok 2"}), options);
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[0].status, Status::kReplied);
  EXPECT_EQ(out[0].reply, "ok 1");
  EXPECT_EQ(out[1].status, Status::kTimedOut);
  EXPECT_GE(out[1].seconds, 0.5);
  EXPECT_LT(out[1].seconds, 5.0);
  EXPECT_EQ(out[2].status, Status::kDied);
  EXPECT_EQ(out[2].signal, SIGSEGV);
  EXPECT_EQ(out[3].status, Status::kDied);
  EXPECT_EQ(out[3].exit_code, 3);
  EXPECT_EQ(out[3].last_error, "bye");
  EXPECT_EQ(out[4].status, Status::kReplied);
  EXPECT_EQ(out[4].reply, "failed: boom");
  EXPECT_EQ(out[5].status, Status::kReplied);
  EXPECT_EQ(out[5].reply, "ok 2");
}

TEST(WorkerPool, ReusesAWorkerUntilAReplyIsNeitherOkNorRefused) {
  // Each reply names the worker's pid: "ok <pid>", "refused <pid>" or "no <pid>".
  const std::vector<std::string> worker = shell_worker("echo \"$line $$\"");
  WorkerPoolOptions options;
  const std::vector<JobOutcome> out =
      run_jobs(worker, jobs_of({"ok", "refused", "ok", "no", "ok"}), options);
  ASSERT_EQ(out.size(), 5u);
  const auto pid = [&](size_t i) { return out[i].reply.substr(out[i].reply.find(' ') + 1); };
  EXPECT_EQ(pid(0), pid(1));
  EXPECT_EQ(pid(1), pid(2));  // a refusal ran nothing: the worker stays
  EXPECT_EQ(pid(2), pid(3));
  EXPECT_NE(pid(3), pid(4));  // the worker that said "no" was replaced
}

TEST(WorkerPool, AWorkerThatCannotStartFailsEachJobOnce) {
  WorkerPoolOptions options;
  options.max_workers = 2;
  const std::vector<JobOutcome> out =
      run_jobs({"/nonexistent/worker"}, jobs_of({"a", "b", "c"}), options);
  ASSERT_EQ(out.size(), 3u);
  for (const JobOutcome& o : out) {
    EXPECT_EQ(o.status, Status::kDied);
    EXPECT_EQ(o.exit_code, 127);
  }
}

TEST(WorkerPool, AWorkerThatNeverGetsReadyTimesOut) {
  WorkerPoolOptions options;
  options.startup_timeout_seconds = 0.3;
  const std::vector<JobOutcome> out =
      run_jobs({"/bin/sh", "-c", "sleep 10"}, jobs_of({"a"}), options);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, Status::kTimedOut);
  EXPECT_EQ(out[0].last_error, "the worker did not start in time");
}

TEST(WorkerPool, MemoryBudgetKeepsLargeJobsApart) {
  // Each job replies with its start and end times in nanoseconds.
  const std::vector<std::string> worker =
      shell_worker("s=$(date +%s%N); sleep 0.3; echo \"ok $s $(date +%s%N)\"");
  std::vector<WorkerJob> jobs = {{"a", 60}, {"b", 60}, {"c", 30}};
  WorkerPoolOptions options;
  options.max_workers = 3;
  options.memory_budget_bytes = 100;
  const std::vector<JobOutcome> out = run_jobs(worker, jobs, options);
  ASSERT_EQ(out.size(), 3u);
  long long start[3], end[3];
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(out[i].status, Status::kReplied) << out[i].last_error;
    ASSERT_EQ(std::sscanf(out[i].reply.c_str(), "ok %lld %lld", &start[i], &end[i]), 2);
  }
  EXPECT_GE(start[1], end[0]);  // 60 + 60 > 100: never at once
  EXPECT_LT(start[2], end[1]);  // 60 + 30 <= 100: b and c overlap
}

TEST(WorkerPool, TheTotalTimeoutEndsTheJobsInFlightAndSkipsTheRest) {
  const std::vector<std::string> worker =
      shell_worker("case \"$line\" in ok*) echo ok;; *) sleep 10;; esac");
  WorkerPoolOptions options;
  options.timeout_seconds = 60.0;
  options.total_timeout_seconds = 0.5;
  const auto start = std::chrono::steady_clock::now();
  const std::vector<JobOutcome> out = run_jobs(worker, jobs_of({"ok", "sleep", "ok"}), options);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].status, Status::kReplied);
  for (size_t i : {1, 2}) {
    EXPECT_EQ(out[i].status, Status::kTimedOut);
    EXPECT_EQ(out[i].last_error, "the time for all models ran out");
  }
}

TEST(WorkerPool, MemoryLimitStopsAnAllocation) {
  WorkerPoolOptions options;
  options.memory_limit_bytes = 64LL << 20;  // 64 MiB of address space for python: far too little
  const std::vector<JobOutcome> out = run_jobs(
      {"/bin/sh", "-c", "echo ready; read line; exec /usr/bin/python3 -c 'x = bytearray(1 << 30)'"},
      jobs_of({"a"}), options);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, Status::kDied);
  EXPECT_NE(out[0].exit_code, 0);
}

}  // namespace
}  // namespace crucible
