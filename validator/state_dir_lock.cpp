#include "crucible/validator/state_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

namespace crucible {
namespace {

// The pid written in the lock file, or "" when it holds none (yet).
std::string holder_pid(int fd) {
  char text[32] = {};
  const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  if (n <= 0) return "";
  std::string pid(text, static_cast<size_t>(n));
  pid = pid.substr(0, pid.find_first_not_of("0123456789"));
  return pid;
}

}  // namespace

StateDirLock::StateDirLock(const std::string& directory, const std::string& file,
                           const std::string& holder)
    : path_(directory + "/" + file) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) throw StateDirLockError(directory + ": cannot create: " + error.message());
  // O_CLOEXEC: the worker processes the validator starts must not hold the lock.
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw StateDirLockError(path_ + ": cannot open: " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int lock_errno = errno;
    // The holder writes its pid just after it locks: give it a moment.
    std::string pid = holder_pid(fd_);
    for (int i = 0; i < 20 && pid.empty() && lock_errno == EWOULDBLOCK; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      pid = holder_pid(fd_);
    }
    ::close(fd_);
    if (lock_errno != EWOULDBLOCK) {
      throw StateDirLockError(path_ + ": cannot lock: " + std::strerror(lock_errno));
    }
    throw StateDirLockError(directory + ": in use by " + holder + " (pid " +
                            (pid.empty() ? std::string("unknown") : pid) + ", lock " + path_ + ")");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const std::string reason = std::strerror(errno);
    ::close(fd_);
    throw StateDirLockError(path_ + ": cannot write the pid: " + reason);
  }
}

StateDirLock::~StateDirLock() {
  if (fd_ < 0) return;
  // The pid goes with the lock: a file left unlocked names nobody. (After a
  // crash the dead pid stays until the next start overwrites it; the lock
  // itself is released by the kernel either way.)
  // A failure is left alone: the next holder truncates before writing.
  const int truncated = ::ftruncate(fd_, 0);
  static_cast<void>(truncated);
  ::close(fd_);
}

}  // namespace crucible
