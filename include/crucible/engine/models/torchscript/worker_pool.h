// Long-lived worker processes that each run many jobs, with a wall-clock
// timeout per job (then SIGKILL and a fresh worker), an optional
// address-space limit per worker and a memory budget across the jobs in
// flight: how `crucible eval` and the validator isolate untrusted models.
// Plain POSIX; no LibTorch.
//
// The worker protocol, one line per message:
//   worker -> pool   "ready"          once, after its start-up (loading, reading the task)
//   pool -> worker   <request>        one job
//   worker -> pool   <reply>          the job's result; a reply that starts with neither
//                                     "ok" nor "refused" (nothing of the model ran) retires
//                                     the worker (it is replaced), so a model that failed
//                                     cannot leave state behind for the next
// The pool closes a worker's stdin when no job is left; the worker then exits.
#pragma once

#include <string>
#include <vector>

namespace crucible {

struct WorkerJob {
  std::string request;            // one line, no '\n'
  long long footprint_bytes = 0;  // estimated memory while it runs (for the budget)
};

struct JobOutcome {
  enum class Status {
    kReplied,   // `reply` holds the worker's line
    kTimedOut,  // no reply within the timeout: the worker was killed
    kDied,      // the worker exited or was killed by a signal first
  };
  Status status = Status::kDied;
  std::string reply;
  int exit_code = -1;      // kDied by exit
  int signal = 0;          // kDied by a signal
  double seconds = 0.0;    // from handing the job to a ready worker to its end
  std::string last_error;  // kDied / kTimedOut: the last non-empty line the worker wrote to stderr
};

struct WorkerPoolOptions {
  int max_workers = 1;
  double timeout_seconds = 120.0;          // per job
  double startup_timeout_seconds = 120.0;  // from spawn to "ready"
  long long memory_limit_bytes = 0;        // RLIMIT_AS of each worker; 0 = none
  // All jobs end within this many seconds of the start: then the jobs in
  // flight are killed and those not started are not run (both kTimedOut,
  // last_error says why). 0 = no bound.
  double total_timeout_seconds = 0.0;
  // Jobs run at once only while the sum of their footprints stays within the
  // budget (a job larger than the whole budget still runs, alone). 0 = none.
  long long memory_budget_bytes = 0;
  // Where the folder of the workers' stderr files is made (removed at the end).
  std::string work_dir = "/tmp";
};

// Runs the jobs, in order of admission as given (callers sort largest-first),
// on up to max_workers workers started from `worker_command` (argv[0] is the
// executable path). Returns one outcome per job, in the jobs' order. Never
// throws for a misbehaving worker; throws std::runtime_error only when no
// worker can be started at all (no temporary folder, no pipes). Ignores
// SIGPIPE in this process (a worker may die while a request is written).
std::vector<JobOutcome> run_jobs(const std::vector<std::string>& worker_command,
                                 const std::vector<WorkerJob>& jobs,
                                 const WorkerPoolOptions& options);

// The path of the running executable (/proc/self/exe).
std::string current_executable();

// The smallest per-worker memory limit (RLIMIT_AS) a worker can start under
// on this machine, estimated from the calling process, which is the same
// binary with the same libraries and threads: its address space now plus
// 512 MiB for the task and a model. 0 when /proc/self/status cannot be read.
long long minimum_worker_memory_limit_bytes();

}  // namespace crucible
