#include "crucible/engine/models/torchscript/worker_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "crucible/common/files.h"

namespace crucible {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxLineBytes = 64 * 1024;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string last_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  return last;
}

struct Worker {
  pid_t pid = -1;
  int to_worker = -1;    // the worker's stdin
  int from_worker = -1;  // the worker's stdout
  std::string stderr_path;
  std::string buffer;  // what it wrote after its last complete line
  bool ready = false;
  Clock::time_point spawned;
  long job = -1;  // the job in flight, -1 = none
  Clock::time_point job_started;
};

// fork + exec with pipes on stdin and stdout and stderr to a file. Only
// async-signal-safe calls between fork and exec. Returns pid -1 on failure.
Worker spawn(const std::vector<std::string>& command, const std::string& stderr_path,
             long long memory_limit) {
  Worker w;
  w.stderr_path = stderr_path;
  w.spawned = Clock::now();
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return w;
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return w;
  }
  std::vector<char*> argv;
  for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    if (err >= 0) ::dup2(err, 2);
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    ::sigaction(SIGPIPE, &default_action, nullptr);
    if (memory_limit > 0) {
      const rlimit limit{static_cast<rlim_t>(memory_limit), static_cast<rlim_t>(memory_limit)};
      ::setrlimit(RLIMIT_AS, &limit);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  if (pid < 0) {
    ::close(in[1]);
    ::close(out[0]);
    return w;
  }
  w.pid = pid;
  w.to_worker = in[1];
  w.from_worker = out[0];
  return w;
}

// Ends a worker: closes its pipes, waits up to `grace` seconds for it to exit
// by itself, then kills it. Fills the exit code or signal of `outcome`.
void reap(Worker& w, double grace, JobOutcome* outcome) {
  if (w.to_worker >= 0) ::close(w.to_worker);
  if (w.from_worker >= 0) ::close(w.from_worker);
  w.to_worker = w.from_worker = -1;
  int status = 0;
  const Clock::time_point start = Clock::now();
  pid_t done = ::waitpid(w.pid, &status, WNOHANG);
  while (done == 0 && seconds_since(start) < grace) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    done = ::waitpid(w.pid, &status, WNOHANG);
  }
  if (done == 0) {
    ::kill(w.pid, SIGKILL);
    done = ::waitpid(w.pid, &status, 0);
  }
  if (outcome != nullptr && done == w.pid) {
    if (WIFEXITED(status)) outcome->exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) outcome->signal = WTERMSIG(status);
  }
  if (outcome != nullptr) outcome->last_error = last_line_of(w.stderr_path);
  std::remove(w.stderr_path.c_str());
}

void write_line(int fd, const std::string& line) {
  const std::string text = line + "\n";
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the worker is gone; its end of the pipe reports it
    written += static_cast<size_t>(n);
  }
}

class Pool {
 public:
  Pool(const std::vector<std::string>& command, const std::vector<WorkerJob>& jobs,
       const WorkerPoolOptions& options)
      : command_(command),
        jobs_(jobs),
        options_(options),
        outcomes_(jobs.size()),
        folder_("crucible-workers", options.work_dir) {}

  ~Pool() {
    for (Worker& w : workers_) reap(w, 2.0, nullptr);
  }

  std::vector<JobOutcome> run() {
    const Clock::time_point start = Clock::now();
    while (next_ < jobs_.size() || busy() > 0) {
      if (options_.total_timeout_seconds > 0 &&
          seconds_since(start) > options_.total_timeout_seconds) {
        end_all("the time for all models ran out");
        break;
      }
      spawn_needed();
      assign_jobs();
      wait_for_output();
      check_deadlines();
    }
    return outcomes_;
  }

 private:
  size_t busy() const {
    size_t n = 0;
    for (const Worker& w : workers_) n += w.job >= 0;
    return n;
  }

  // One worker per job waiting, up to max_workers.
  void spawn_needed() {
    const size_t idle = workers_.size() - busy();
    size_t waiting = jobs_.size() - next_;
    for (size_t n = idle; n < waiting && workers_.size() < max_workers(); ++n) {
      Worker w = spawn(command_, folder_.path() + "/" + std::to_string(spawned_++) + ".err",
                       options_.memory_limit_bytes);
      if (w.pid < 0) {
        if (workers_.empty()) throw std::runtime_error("cannot start a worker process");
        return;
      }
      workers_.push_back(w);
    }
  }

  size_t max_workers() const { return static_cast<size_t>(std::max(1, options_.max_workers)); }

  bool admits(const WorkerJob& job) const {
    if (options_.memory_budget_bytes <= 0 || busy() == 0) return true;
    long long in_flight = 0;
    for (const Worker& w : workers_) {
      if (w.job >= 0) in_flight += jobs_[static_cast<size_t>(w.job)].footprint_bytes;
    }
    return in_flight + job.footprint_bytes <= options_.memory_budget_bytes;
  }

  void assign_jobs() {
    for (Worker& w : workers_) {
      if (next_ >= jobs_.size() || !admits(jobs_[next_])) return;
      if (!w.ready || w.job >= 0) continue;
      w.job = static_cast<long>(next_++);
      w.job_started = Clock::now();
      write_line(w.to_worker, jobs_[static_cast<size_t>(w.job)].request);
    }
  }

  void wait_for_output() {
    std::vector<pollfd> fds;
    for (const Worker& w : workers_) fds.push_back({w.from_worker, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 20) <= 0) return;
    for (size_t i = fds.size(); i-- > 0;) {
      if (fds[i].revents == 0) continue;
      char chunk[4096];
      const ssize_t n = ::read(fds[i].fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        end_worker(i, JobOutcome::Status::kDied, "");
        continue;
      }
      workers_[i].buffer.append(chunk, static_cast<size_t>(n));
      handle_lines(i);
    }
  }

  void handle_lines(size_t i) {
    Worker& w = workers_[i];
    size_t end;
    while ((end = w.buffer.find('\n')) != std::string::npos) {
      const std::string line = w.buffer.substr(0, end);
      w.buffer.erase(0, end + 1);
      if (!w.ready) {
        w.ready = line == "ready";
      } else if (w.job >= 0) {
        JobOutcome& out = outcomes_[static_cast<size_t>(w.job)];
        out.status = JobOutcome::Status::kReplied;
        out.reply = line;
        out.seconds = seconds_since(w.job_started);
        w.job = -1;
        if (line.rfind("ok", 0) != 0 && line.rfind("refused", 0) != 0) return retire(i);
      }
    }
    if (w.buffer.size() > kMaxLineBytes) {
      end_worker(i, JobOutcome::Status::kDied, "the worker wrote a line over 64 KiB");
    }
  }

  void check_deadlines() {
    for (size_t i = workers_.size(); i-- > 0;) {
      const Worker& w = workers_[i];
      if (w.job >= 0 && seconds_since(w.job_started) > options_.timeout_seconds) {
        end_worker(i, JobOutcome::Status::kTimedOut, "");
      } else if (!w.ready && seconds_since(w.spawned) > options_.startup_timeout_seconds) {
        end_worker(i, JobOutcome::Status::kTimedOut, "the worker did not start in time");
      }
    }
  }

  // Kills worker i and charges its job, or when it had none (it died or hung
  // while starting) the next job waiting, so a worker that can never start
  // cannot loop forever.
  void end_worker(size_t i, JobOutcome::Status status, const std::string& reason) {
    Worker w = workers_[i];
    workers_.erase(workers_.begin() + static_cast<long>(i));
    long job = w.job;
    if (job < 0 && !w.ready && next_ < jobs_.size()) job = static_cast<long>(next_++);
    JobOutcome scratch;
    JobOutcome& out = job >= 0 ? outcomes_[static_cast<size_t>(job)] : scratch;
    if (status == JobOutcome::Status::kTimedOut) ::kill(w.pid, SIGKILL);
    reap(w, 1.0, &out);
    out.status = status;
    out.seconds = w.job >= 0 ? seconds_since(w.job_started) : seconds_since(w.spawned);
    if (!reason.empty()) out.last_error = reason;
  }

  // Kills the workers with a job and marks every job not started.
  void end_all(const std::string& reason) {
    for (size_t i = workers_.size(); i-- > 0;) {
      if (workers_[i].job >= 0) end_worker(i, JobOutcome::Status::kTimedOut, reason);
    }
    for (; next_ < jobs_.size(); ++next_) {
      outcomes_[next_].status = JobOutcome::Status::kTimedOut;
      outcomes_[next_].last_error = reason;
    }
  }

  // A worker whose job failed is replaced: it exits when its stdin closes.
  void retire(size_t i) {
    Worker w = workers_[i];
    workers_.erase(workers_.begin() + static_cast<long>(i));
    reap(w, 1.0, nullptr);
  }

  const std::vector<std::string>& command_;
  const std::vector<WorkerJob>& jobs_;
  const WorkerPoolOptions& options_;
  std::vector<JobOutcome> outcomes_;
  TemporaryFolder folder_;  // the workers' stderr files
  std::vector<Worker> workers_;
  size_t next_ = 0;
  size_t spawned_ = 0;
};

}  // namespace

std::string current_executable() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) throw std::runtime_error("cannot find the running executable (/proc/self/exe)");
  return std::string(path, static_cast<size_t>(n));
}

std::vector<JobOutcome> run_jobs(const std::vector<std::string>& worker_command,
                                 const std::vector<WorkerJob>& jobs,
                                 const WorkerPoolOptions& options) {
  if (jobs.empty()) return {};
  ::signal(SIGPIPE, SIG_IGN);
  Pool pool(worker_command, jobs, options);
  return pool.run();
}

long long minimum_worker_memory_limit_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  long long kib = 0;
  while (status >> key) {
    if (key == "VmSize:" && status >> kib) return (kib << 10) + (512LL << 20);
    status.ignore(1 << 16, '\n');
  }
  return 0;
}

}  // namespace crucible
