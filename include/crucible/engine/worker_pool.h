// Runs commands as child processes, a few at a time, each with a wall-clock
// timeout (then SIGKILL) and an optional address-space limit: how `crucible
// eval` isolates untrusted models (one worker process per model). Plain POSIX.
#pragma once

#include <string>
#include <vector>

namespace crucible {

struct WorkerOutcome {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it (SIGKILL after a timeout too)
  bool timed_out = false;
  double seconds = 0.0;
  std::string last_error;  // the last non-empty line it wrote to stderr
};

struct WorkerPoolOptions {
  int max_parallel = 1;
  double timeout_seconds = 120.0;
  long long memory_limit_bytes = 0;  // RLIMIT_AS of each child; 0 = none
};

// Runs every command (argv[0] is the executable path) and returns their
// outcomes in order. Never throws for a failing command; throws
// std::runtime_error only when no process can be started at all.
std::vector<WorkerOutcome> run_workers(const std::vector<std::vector<std::string>>& commands,
                                       const WorkerPoolOptions& options);

// The path of the running executable (/proc/self/exe).
std::string current_executable();

}  // namespace crucible
