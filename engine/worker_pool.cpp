#include "crucible/engine/worker_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace crucible {
namespace {

using Clock = std::chrono::steady_clock;

struct Running {
  size_t index;
  pid_t pid;
  Clock::time_point started;
  std::string stderr_path;
  bool killed = false;
};

std::string last_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  return last;
}

// fork + exec with stderr to a file and stdout to /dev/null. Only
// async-signal-safe calls between fork and exec.
pid_t start(const std::vector<std::string>& command, const std::string& stderr_path,
            long long memory_limit) {
  std::vector<char*> argv;
  for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int null = ::open("/dev/null", O_WRONLY);
  if (err >= 0) ::dup2(err, 2);
  if (null >= 0) ::dup2(null, 1);
  if (memory_limit > 0) {
    const rlimit limit{static_cast<rlim_t>(memory_limit), static_cast<rlim_t>(memory_limit)};
    ::setrlimit(RLIMIT_AS, &limit);
  }
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

}  // namespace

std::string current_executable() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) throw std::runtime_error("cannot find the running executable (/proc/self/exe)");
  return std::string(path, static_cast<size_t>(n));
}

std::vector<WorkerOutcome> run_workers(const std::vector<std::vector<std::string>>& commands,
                                       const WorkerPoolOptions& options) {
  std::vector<WorkerOutcome> outcomes(commands.size());
  std::vector<Running> running;
  char folder_pattern[] = "/tmp/crucible-workers.XXXXXX";
  const char* folder = ::mkdtemp(folder_pattern);
  if (!folder) throw std::runtime_error("cannot create a folder for worker logs");
  size_t next = 0;
  while (next < commands.size() || !running.empty()) {
    while (next < commands.size() && static_cast<int>(running.size()) < options.max_parallel) {
      Running r{next, -1, Clock::now(), std::string(folder) + "/" + std::to_string(next) + ".err"};
      r.pid = start(commands[next], r.stderr_path, options.memory_limit_bytes);
      if (r.pid < 0) {
        outcomes[next].last_error = "cannot start a worker process";
      } else {
        running.push_back(r);
      }
      ++next;
    }
    for (auto it = running.begin(); it != running.end();) {
      WorkerOutcome& out = outcomes[it->index];
      const double elapsed = std::chrono::duration<double>(Clock::now() - it->started).count();
      int status = 0;
      if (::waitpid(it->pid, &status, WNOHANG) == it->pid) {
        out.seconds = elapsed;
        out.timed_out = it->killed;
        if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
        out.last_error = last_line_of(it->stderr_path);
        std::remove(it->stderr_path.c_str());
        it = running.erase(it);
        continue;
      }
      if (!it->killed && elapsed > options.timeout_seconds) {
        ::kill(it->pid, SIGKILL);
        it->killed = true;
      }
      ++it;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::rmdir(folder);
  return outcomes;
}

}  // namespace crucible
