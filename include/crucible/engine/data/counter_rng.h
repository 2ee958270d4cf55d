// A sequential view of Philox4x32-10 for host code: uniform and normal draws
// that are a pure function of (seed, stream, index, attempt, position). Each
// (stream, index, attempt) is an independent sequence.
#pragma once

#include <cmath>
#include <cstdint>

#include "crucible/cuda/philox.h"

namespace crucible {

class CounterRng {
 public:
  CounterRng(uint64_t seed, uint32_t stream, uint32_t index, uint32_t attempt = 0)
      : key0_(static_cast<uint32_t>(seed)),
        key1_(static_cast<uint32_t>(seed >> 32)),
        counter_{{0u, index, stream, attempt}} {}

  uint32_t next_u32() {
    if (word_ == 4) {
      bits_ = philox4x32_10(counter_, key0_, key1_);
      ++counter_.v[0];
      word_ = 0;
    }
    return bits_.v[word_++];
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() {
    const uint64_t high = next_u32() >> 5, low = next_u32() >> 6;  // 27 + 26 bits
    return static_cast<double>((high << 26) | low) * 0x1.0p-53;
  }

  double uniform(double low, double high) { return low + (high - low) * uniform(); }

  // exp(Uniform(log low, log high)).
  double log_uniform(double low, double high) {
    return std::exp(uniform(std::log(low), std::log(high)));
  }

  // An integer in [low, high].
  int64_t integer(int64_t low, int64_t high) {
    return low +
           static_cast<int64_t>(scale_to_range(next_u32(), static_cast<uint32_t>(high - low + 1)));
  }

  // Standard normal (Box-Muller, the cosine branch).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint32_t key0_, key1_;
  Philox4x32 counter_;
  Philox4x32 bits_{};
  int word_ = 4;
};

}  // namespace crucible
