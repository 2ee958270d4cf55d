// The CPU bootstrap: replicate means of one model's finite losses, with the
// draws of scoring_math.h's bootstrap_replicate_sum (keyed by the seed, the
// replicate and the draw only, the same for every model). An AVX2 version runs
// eight replicates in vector lanes when the processor has AVX2; it performs
// the same integer and floating-point operations per lane, so its results are
// bit-identical to the scalar function (and to the CUDA kernel).
#pragma once

#include <cstdint>

namespace crucible {

// means[r] for r in [0, replicates): the mean of replicate r's m draws under
// the round seed `seed`. m >= 1. Uses AVX2 when available and `allow_simd` is true.
void bootstrap_means_cpu(const double* finite, uint32_t m, uint64_t seed, int64_t replicates,
                         double* means, bool allow_simd = true);

// Eight replicates [first, first + 8) in AVX2 lanes: sums into sums[0..8).
// x86-64 only; call only when cpu_has_avx2() is true.
void bootstrap_sums_avx2(const double* finite, uint32_t m, uint64_t seed, uint32_t first,
                         double* sums);
bool cpu_has_avx2();

}  // namespace crucible
