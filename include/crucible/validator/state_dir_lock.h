// One validator per state directory: an exclusive flock on DIR/LOCK, held for
// the life of the object (of the process, in practice; the kernel releases it
// when the process ends, however it ends). The file holds the holder's pid,
// so a second validator can say which process is in the way.
#pragma once

#include <stdexcept>
#include <string>

namespace crucible {

// The directory is locked by another process (or cannot be locked): what()
// is one line naming the directory and, when known, the holder's pid.
class StateDirLockError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class StateDirLock {
 public:
  // Creates `directory` when missing, then locks DIR/LOCK without waiting
  // and writes this process's pid into it. Throws StateDirLockError.
  explicit StateDirLock(const std::string& directory);
  ~StateDirLock();  // unlocks; the file stays

  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;

  // The lock file's path.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace crucible
