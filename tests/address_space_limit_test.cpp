// AddressSpaceHeadroom: while it is in scope a mapping larger than the
// headroom fails, a small one succeeds, and the previous limit comes back.
#include "crucible/common/address_space_limit.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <cstddef>

namespace crucible {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// True when `bytes` of address space can be mapped (and unmaps it again).
bool can_map(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  ::munmap(p, bytes);
  return true;
}

TEST(AddressSpaceHeadroom, CapsMappingsWhileInScopeAndRestoresTheLimit) {
  rlimit before;
  ASSERT_EQ(::getrlimit(RLIMIT_AS, &before), 0);
  if (before.rlim_cur != RLIM_INFINITY) GTEST_SKIP() << "an address-space limit is already set";
  EXPECT_GT(mapped_address_space_bytes(), 0);
  ASSERT_TRUE(can_map(4096 * kMiB));
  {
    const AddressSpaceHeadroom headroom(256 * kMiB);
    ASSERT_TRUE(headroom.active());
    EXPECT_TRUE(can_map(16 * kMiB));
    EXPECT_FALSE(can_map(4096 * kMiB));
    EXPECT_FALSE(can_map(512 * kMiB));
  }
  rlimit after;
  ASSERT_EQ(::getrlimit(RLIMIT_AS, &after), 0);
  EXPECT_EQ(after.rlim_cur, before.rlim_cur);
  EXPECT_EQ(after.rlim_max, before.rlim_max);
  EXPECT_TRUE(can_map(4096 * kMiB));
}

TEST(AddressSpaceHeadroom, NeverLoosensATighterLimit) {
  rlimit before;
  ASSERT_EQ(::getrlimit(RLIMIT_AS, &before), 0);
  if (before.rlim_cur != RLIM_INFINITY) GTEST_SKIP() << "an address-space limit is already set";
  {
    const AddressSpaceHeadroom tight(64 * kMiB);
    ASSERT_TRUE(tight.active());
    const AddressSpaceHeadroom loose(1024 * kMiB);  // would raise the limit: does nothing
    EXPECT_FALSE(loose.active());
    EXPECT_FALSE(can_map(128 * kMiB));
  }
  EXPECT_TRUE(can_map(1024 * kMiB));
}

}  // namespace
}  // namespace crucible
