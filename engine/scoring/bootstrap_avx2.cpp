// Philox4x32-10 and the bootstrap gather-sum for eight replicates at once, in
// AVX2 lanes. Only these functions are compiled for AVX2 (target attribute,
// so the shared inline headers stay baseline x86-64); called only when the
// processor has AVX2. Lane l computes exactly what bootstrap_replicate_sum
// computes for replicate first + l: the same 32x32->64 products, the same
// index mapping, the same additions in the same order.
#include "crucible/engine/scoring/bootstrap_cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "crucible/cuda/philox.h"

namespace crucible {
namespace {

// hi and lo halves of the 32x32->64 products of each lane of `x` with `factor`.
__attribute__((target("avx2"))) inline void mul_hi_lo_x8(__m256i x, __m256i factor, __m256i* hi,
                                                         __m256i* lo) {
  const __m256i even = _mm256_mul_epu32(x, factor);                        // lanes 0, 2, 4, 6
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), factor);  // lanes 1, 3, 5, 7
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// Adds finite[index[l]] to lane l of the sums (lanes 0-3 in low, 4-7 in high).
__attribute__((target("avx2"))) inline void gather_add(const double* finite, __m256i index,
                                                       __m256d* low, __m256d* high) {
  const __m256d none = _mm256_setzero_pd();
  const __m256d all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
  *low = _mm256_add_pd(
      *low, _mm256_mask_i32gather_pd(none, finite, _mm256_castsi256_si128(index), all, 8));
  *high = _mm256_add_pd(
      *high, _mm256_mask_i32gather_pd(none, finite, _mm256_extracti128_si256(index, 1), all, 8));
}

}  // namespace

__attribute__((target("avx2"))) void bootstrap_sums_avx2(const double* finite, uint32_t m,
                                                         uint64_t seed, uint32_t first,
                                                         double* sums) {
  const __m256i multiplier0 = _mm256_set1_epi32(static_cast<int>(philox_detail::kMultiplier0));
  const __m256i multiplier1 = _mm256_set1_epi32(static_cast<int>(philox_detail::kMultiplier1));
  const __m256i range = _mm256_set1_epi32(static_cast<int>(m));
  const __m256i replicate = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first)),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));

  __m256d low = _mm256_setzero_pd(), high = _mm256_setzero_pd();
  uint32_t draw = 0;
  for (uint32_t block = 0; draw < m; ++block) {
    __m256i c0 = _mm256_set1_epi32(static_cast<int>(block)), c1 = replicate,
            c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
    uint32_t key0 = static_cast<uint32_t>(seed), key1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      __m256i hi0, lo0, hi1, lo1;
      mul_hi_lo_x8(c0, multiplier0, &hi0, &lo0);
      mul_hi_lo_x8(c2, multiplier1, &hi1, &lo1);
      const __m256i n0 =
          _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(key0)));
      const __m256i n2 =
          _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(key1)));
      c0 = n0;
      c1 = lo1;
      c2 = n2;
      c3 = lo0;
      key0 += philox_detail::kWeyl0;
      key1 += philox_detail::kWeyl1;
    }
    const __m256i words[4] = {c0, c1, c2, c3};
    for (int w = 0; w < 4 && draw < m; ++w, ++draw) {
      __m256i index, unused;
      mul_hi_lo_x8(words[w], range, &index, &unused);  // scale_to_range, lane-wise
      gather_add(finite, index, &low, &high);
    }
  }
  _mm256_storeu_pd(sums, low);
  _mm256_storeu_pd(sums + 4, high);
}

}  // namespace crucible

#endif  // __x86_64__
