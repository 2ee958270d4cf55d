#include "crucible/common/address_space_limit.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace crucible {

int64_t mapped_address_space_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = -1;
  if (!(statm >> pages) || pages < 0) return -1;
  return pages * static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
}

AddressSpaceHeadroom::AddressSpaceHeadroom(int64_t headroom) {
  rlimit limit;
  const int64_t mapped = mapped_address_space_bytes();
  if (mapped < 0 || headroom < 0 || ::getrlimit(RLIMIT_AS, &limit) != 0) return;
  const rlim_t wanted = static_cast<rlim_t>(mapped) + static_cast<rlim_t>(headroom);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur <= wanted) return;  // already tighter
  previous_soft_ = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
  active_ = ::setrlimit(RLIMIT_AS, &limit) == 0;
}

AddressSpaceHeadroom::~AddressSpaceHeadroom() {
  if (!active_) return;
  rlimit limit;
  if (::getrlimit(RLIMIT_AS, &limit) != 0) return;
  limit.rlim_cur = static_cast<rlim_t>(previous_soft_);
  ::setrlimit(RLIMIT_AS, &limit);
}

}  // namespace crucible
