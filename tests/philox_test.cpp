#include "crucible/cuda/philox.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace crucible {
namespace {

// Known-answer vectors of Philox4x32-10 published with Random123 (kat_vectors).
TEST(Philox, MatchesPublishedKnownAnswers) {
  const Philox4x32 zero = philox4x32_10(Philox4x32{{0, 0, 0, 0}}, 0, 0);
  EXPECT_EQ(zero.v[0], 0x6627e8d5u);
  EXPECT_EQ(zero.v[1], 0xe169c58du);
  EXPECT_EQ(zero.v[2], 0xbc57ac4cu);
  EXPECT_EQ(zero.v[3], 0x9b00dbd8u);

  const Philox4x32 ones = philox4x32_10(
      Philox4x32{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(ones.v[0], 0x408f276du);
  EXPECT_EQ(ones.v[1], 0x41c83b0eu);
  EXPECT_EQ(ones.v[2], 0xa20bc7c6u);
  EXPECT_EQ(ones.v[3], 0x6d5451fdu);

  const Philox4x32 pi = philox4x32_10(
      Philox4x32{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u);
  EXPECT_EQ(pi.v[0], 0xd16cfe09u);
  EXPECT_EQ(pi.v[1], 0x94fdccebu);
  EXPECT_EQ(pi.v[2], 0x5001e420u);
  EXPECT_EQ(pi.v[3], 0x24126ea1u);
}

TEST(Philox, ScaledIndicesAreUniform) {
  // 400000 indices in [0, 10): each bucket within 5 sigma of 40000.
  std::vector<int> buckets(10, 0);
  for (uint32_t c = 0; c < 100000; ++c) {
    const Philox4x32 bits = philox4x32_10(Philox4x32{{c, 7, 0, 0}}, 1, 2);
    for (uint32_t w : bits.v) ++buckets[scale_to_range(w, 10)];
  }
  const double sigma = std::sqrt(400000 * 0.1 * 0.9);
  for (int count : buckets) EXPECT_NEAR(count, 40000, 5 * sigma);
}

TEST(Philox, ScaleToRangeCoversTheEnds) {
  EXPECT_EQ(scale_to_range(0u, 7), 0u);
  EXPECT_EQ(scale_to_range(0xffffffffu, 7), 6u);
  EXPECT_EQ(scale_to_range(0x80000000u, 2), 1u);
}

}  // namespace
}  // namespace crucible
