// StateDirLock: one holder per state directory (or named lock file); the next
// one, in this process or another, is refused with the holder's pid; the lock
// is free again once the holder is gone.
#include "crucible/validator/state_dir_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>

#include "crucible/common/files.h"

namespace crucible {
namespace {

TEST(StateDirLockTest, ASecondHolderIsRefusedNamingTheFirstOnesPid) {
  TemporaryFolder folder("state_dir_lock_test");
  const std::string dir = folder.path() + "/state";  // created by the lock
  std::optional<StateDirLock> first(std::in_place, dir);
  EXPECT_EQ(first->path(), dir + "/LOCK");
  EXPECT_EQ(read_file(dir + "/LOCK"), std::to_string(::getpid()) + "\n");
  try {
    StateDirLock second(dir);  // another open file: flock refuses it as it would another process
    FAIL() << "the second lock was granted";
  } catch (const StateDirLockError& e) {
    EXPECT_EQ(std::string(e.what()), dir + ": in use by another validator (pid " +
                                         std::to_string(::getpid()) + ", lock " + dir + "/LOCK)");
  }
  first.reset();
  EXPECT_EQ(read_file(dir + "/LOCK"), "");  // released: it names no (dead) pid
  EXPECT_NO_THROW(StateDirLock third(dir));
}

// What `attempt` says in a forked child: "granted" or the StateDirLockError.
template <typename Attempt>
std::string in_child_process(Attempt attempt) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return "pipe failed";
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(pipe_fds[0]);
    std::string said = "granted";
    try {
      attempt();
    } catch (const StateDirLockError& e) {
      said = e.what();
    }
    const ssize_t written = ::write(pipe_fds[1], said.data(), said.size());
    ::_exit(written == static_cast<ssize_t>(said.size()) ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::string said;
  char buffer[256];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) said.append(buffer, n);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return said;
}

// The chain folder's weights.lock: a second validator process writing the same
// weights.jsonl is refused naming the first one's pid; other lock files in the
// folder (the state directory's LOCK, say) are independent.
TEST(StateDirLockTest, ANamedLockFileRefusesAnotherProcessAndOnlyThatFile) {
  TemporaryFolder folder("state_dir_lock_test");
  const std::string dir = folder.path() + "/chain";
  const std::string holder = "another validator writing weights.jsonl";
  const StateDirLock weights_lock(dir, "weights.lock", holder);
  EXPECT_EQ(weights_lock.path(), dir + "/weights.lock");
  EXPECT_EQ(in_child_process([&] { StateDirLock second(dir, "weights.lock", holder); }),
            dir + ": in use by another validator writing weights.jsonl (pid " +
                std::to_string(::getpid()) + ", lock " + dir + "/weights.lock)");
  EXPECT_EQ(in_child_process([&] { StateDirLock other_file(dir, "LOCK"); }), "granted");
  EXPECT_EQ(in_child_process([&] { StateDirLock other_file(dir, "other.lock", holder); }),
            "granted");
}

}  // namespace
}  // namespace crucible
