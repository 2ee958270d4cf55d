// StateDirLock: one holder per state directory; the next one is refused with
// the holder's pid; the lock is free again once the holder is gone.
#include "crucible/validator/state_dir_lock.h"

#include <gtest/gtest.h>
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
  EXPECT_NO_THROW(StateDirLock third(dir));
}

}  // namespace
}  // namespace crucible
