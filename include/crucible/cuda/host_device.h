// Marks functions that both the CPU loops and the CUDA kernels call, so the
// per-element math is written once. Without nvcc the markers expand to nothing.
#pragma once

#include <limits>

#if defined(__CUDACC__)
#define CRUCIBLE_HD __host__ __device__
#else
#define CRUCIBLE_HD
#endif

namespace crucible {

// A quiet NaN on both sides (std::numeric_limits is host-only without
// --expt-relaxed-constexpr).
CRUCIBLE_HD inline double quiet_nan() {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(0x7ff8000000000000ULL);
#else
  return std::numeric_limits<double>::quiet_NaN();
#endif
}

}  // namespace crucible
