// Per-element scoring math shared by the CPU path (engine/scoring/model_scoring_cpu.cpp) and
// the CUDA kernels (cuda/scoring_kernels.cu). docs/scoring.md section 4.
#pragma once

#include <cstdint>

#include "crucible/cuda/host_device.h"
#include "crucible/cuda/philox.h"

namespace crucible {

CRUCIBLE_HD inline bool is_nan_value(double v) { return v != v; }

// Win rate of `mine` in a column holding `n_present` non-NaN values, of which
// `n_worse` are strictly greater than `mine` (+inf counts as a value).
CRUCIBLE_HD inline double column_win_rate(int64_t n_worse, int64_t n_present) {
  if (n_present < 2) return 0.0;
  return static_cast<double>(n_worse) / static_cast<double>(n_present - 1);
}

// Sum of one bootstrap replicate: m draws, with replacement, from finite[0..m).
// Draw d of replicate r uses Philox on counter (d / 4, r, 0, 0) with key
// (seed_lo, seed_hi), output word d % 4: the draws depend on nothing but
// (seed, r, d), so replicate r resamples the same positions for every model
// with the same m (a paired bootstrap) and identical losses give identical
// sums whatever the model's uid or row. Summed in draw order in double,
// identically on CPU and GPU.
CRUCIBLE_HD inline double bootstrap_replicate_sum(const double* finite, uint32_t m, uint64_t seed,
                                                  uint32_t replicate) {
  const uint32_t key0 = static_cast<uint32_t>(seed);
  const uint32_t key1 = static_cast<uint32_t>(seed >> 32);
  Philox4x32 counter{{0u, replicate, 0u, 0u}};
  double sum = 0.0;
  uint32_t draw = 0;
  for (uint32_t block = 0; draw < m; ++block) {
    counter.v[0] = block;
    const Philox4x32 bits = philox4x32_10(counter, key0, key1);
    for (int w = 0; w < 4 && draw < m; ++w, ++draw) sum += finite[scale_to_range(bits.v[w], m)];
  }
  return sum;
}

// The order statistics a percentile needs, numpy's "linear" method:
// position p = fraction * (n - 1), value = v[floor(p)] + (v[ceil(p)] - v[floor(p)]) * (p -
// floor(p)).
struct PercentilePosition {
  int64_t below;  // floor(p)
  int64_t above;  // ceil(p)
  double weight;  // p - floor(p)
};

CRUCIBLE_HD inline PercentilePosition percentile_position(double fraction, int64_t n) {
  const double p = fraction * static_cast<double>(n - 1);
  int64_t below = static_cast<int64_t>(p);
  if (below > n - 1) below = n - 1;
  const int64_t above = below + 1 < n ? below + 1 : below;
  return PercentilePosition{below, above, p - static_cast<double>(below)};
}

// numpy's lerp: exact at both ends, monotone in the weight.
CRUCIBLE_HD inline double interpolate_order_statistics(double below, double above, double weight) {
  const double diff = above - below;
  return weight >= 0.5 ? above - diff * (1.0 - weight) : below + diff * weight;
}

}  // namespace crucible
