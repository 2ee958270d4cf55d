// Philox4x32-10, the counter-based generator of Salmon et al., "Parallel random
// numbers: as easy as 1, 2, 3" (SC'11). A pure function of (counter, key): the
// same inputs give the same 128 random bits on the CPU and on the GPU, in any
// order and any sharding, which is what makes the bootstrap reproducible.
#pragma once

#include <cstdint>

#include "crucible/cuda/host_device.h"

namespace crucible {

struct Philox4x32 {
  uint32_t v[4];
};

namespace philox_detail {
constexpr uint32_t kMultiplier0 = 0xD2511F53u;
constexpr uint32_t kMultiplier1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
constexpr uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

CRUCIBLE_HD inline void mul_hi_lo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(product >> 32);
  *lo = static_cast<uint32_t>(product);
}
}  // namespace philox_detail

// Ten rounds of Philox4x32 on `counter` with the 64-bit key (key0, key1).
CRUCIBLE_HD inline Philox4x32 philox4x32_10(Philox4x32 counter, uint32_t key0, uint32_t key1) {
  using namespace philox_detail;
  uint32_t c0 = counter.v[0], c1 = counter.v[1], c2 = counter.v[2], c3 = counter.v[3];
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mul_hi_lo(kMultiplier0, c0, &hi0, &lo0);
    mul_hi_lo(kMultiplier1, c2, &hi1, &lo1);
    const uint32_t n0 = hi1 ^ c1 ^ key0;
    const uint32_t n2 = hi0 ^ c3 ^ key1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

// Maps 32 random bits to an index in [0, n) by a 64-bit multiply-shift
// (bias below n / 2^32, far under the bootstrap's own noise).
CRUCIBLE_HD inline uint32_t scale_to_range(uint32_t bits, uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(bits) * n) >> 32);
}

}  // namespace crucible
