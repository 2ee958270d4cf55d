// One process per directory (or per lock file in it): an exclusive flock on
// DIR/<file>, held for the life of the object (of the process, in practice;
// the kernel releases it when the process ends, however it ends). The file
// holds the holder's pid, so the next process can say which one is in the
// way. The validator locks its state directory (DIR/LOCK) and the chain
// folder whose weights.jsonl it writes (DIR/weights.lock).
#pragma once

#include <stdexcept>
#include <string>

namespace crucible {

// The lock is held by another process (or cannot be taken): what() is one
// line naming the directory, the lock file and, when known, the holder's pid.
class StateDirLockError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class StateDirLock {
 public:
  // Creates `directory` when missing, then locks DIR/<file> without waiting
  // and writes this process's pid into it. Throws StateDirLockError; when
  // another process holds the lock, the message is
  // "<directory>: in use by <holder> (pid N, lock <directory>/<file>)",
  // `holder` describing that process (pid "unknown" when it wrote none).
  explicit StateDirLock(const std::string& directory, const std::string& file = "LOCK",
                        const std::string& holder = "another validator");
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
