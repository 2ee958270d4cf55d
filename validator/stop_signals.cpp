#include "crucible/validator/stop_signals.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace crucible {
namespace {

std::atomic<int> signal_pipe{-1};  // the write end, for the handler

extern "C" void on_signal(int signal) {
  const int saved_errno = errno;
  const unsigned char byte = static_cast<unsigned char>(signal);
  const int fd = signal_pipe.load();
  if (fd >= 0) (void)!::write(fd, &byte, 1);
  errno = saved_errno;
}

sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

StopSignals::StopSignals(Callback on_stop, Callback on_abort)
    : on_stop_(std::move(on_stop)), on_abort_(std::move(on_abort)) {
  if (::pipe2(pipe_, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("stop signals: pipe: ") + std::strerror(errno));
  }
  ::fcntl(pipe_[1], F_SETFL, O_NONBLOCK);  // a handler never blocks on a full pipe
  signal_pipe = pipe_[1];
  const sigset_t set = stop_signal_set();
  pthread_sigmask(SIG_BLOCK, &set, &previous_mask_);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  // No SA_RESTART: the watcher's read() returns EINTR, so a handler deferred
  // until the call returns (as ThreadSanitizer defers them) still runs.
  action.sa_flags = 0;
  ::sigaction(SIGINT, &action, &previous_int_);
  ::sigaction(SIGTERM, &action, &previous_term_);
  watcher_ = std::thread([this] { watch(); });
}

StopSignals::~StopSignals() {
  const unsigned char quit = 0;
  (void)!::write(pipe_[1], &quit, 1);
  watcher_.join();
  ::sigaction(SIGINT, &previous_int_, nullptr);
  ::sigaction(SIGTERM, &previous_term_, nullptr);
  signal_pipe = -1;
  ::close(pipe_[0]);
  ::close(pipe_[1]);
  pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

void StopSignals::watch() {
  const sigset_t set = stop_signal_set();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);  // the one thread that takes them
  int received = 0;
  while (true) {
    unsigned char byte = 0;
    const ssize_t n = ::read(pipe_[0], &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == 0) break;  // the destructor
    const int signal = byte;
    if (++received == 1) {
      requested_ = true;
      if (on_stop_) on_stop_(signal);
    } else {
      if (on_abort_) on_abort_(signal);
      ::_exit(128 + signal);
    }
  }
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace crucible
