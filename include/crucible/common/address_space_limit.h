// A temporary cap on how much more address space this process may map: the
// soft RLIMIT_AS set to what is mapped now plus a headroom, and put back when
// the object goes out of scope. A worker process wraps the loading of an
// untrusted file in it, so that a size field crafted to ask for tens of
// gigabytes ends in std::bad_alloc (a refusal) rather than in the host's
// memory. The limit is process-wide: use it only where no other thread
// allocates meanwhile (a worker between requests), never in the validator.
#pragma once

#include <cstdint>

namespace crucible {

// The bytes of address space this process maps now (/proc/self/statm), or
// -1 when it cannot be read.
int64_t mapped_address_space_bytes();

class AddressSpaceHeadroom {
 public:
  // Lowers the soft RLIMIT_AS to mapped_address_space_bytes() + `headroom`
  // (never above the hard limit, never raising the soft one). Does nothing
  // when the mapped size cannot be read or setrlimit fails: the cap is a
  // defence in depth, not a correctness requirement.
  explicit AddressSpaceHeadroom(int64_t headroom);
  // Restores the soft limit in force before.
  ~AddressSpaceHeadroom();
  AddressSpaceHeadroom(const AddressSpaceHeadroom&) = delete;
  AddressSpaceHeadroom& operator=(const AddressSpaceHeadroom&) = delete;

  bool active() const { return active_; }

 private:
  bool active_ = false;
  uint64_t previous_soft_ = 0;  // rlim_t
};

}  // namespace crucible
