// SIGINT and SIGTERM for a long-running validator: the first asks it to stop
// (requested() turns true, then `on_stop` runs), the second aborts it
// (`on_abort` runs, then the process exits at once with 128 + the signal).
// The callbacks run on a watcher thread, not in a signal handler, so they may
// log, allocate and take locks.
//
// The signals are blocked in the thread that creates the object and so in
// every thread and process it starts afterwards (the mask is inherited across
// fork and exec): the watcher alone takes them, and a Ctrl-C at a terminal,
// which signals the whole foreground process group, does not kill the
// engine's worker processes in the middle of a step. One object at a time.
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace crucible {

class StopSignals {
 public:
  using Callback = std::function<void(int signal)>;

  StopSignals(Callback on_stop, Callback on_abort);
  // Stops the watcher, restores the previous handlers and this thread's
  // signal mask. Destroy it on the thread that created it.
  ~StopSignals();

  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // True once a first signal arrived.
  const std::atomic<bool>& requested() const { return requested_; }

 private:
  void watch();

  Callback on_stop_;
  Callback on_abort_;
  std::atomic<bool> requested_{false};
  int pipe_[2] = {-1, -1};  // the handler writes each signal's number; the watcher reads
  sigset_t previous_mask_;
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
  std::thread watcher_;
};

}  // namespace crucible
