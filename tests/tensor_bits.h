// Bit-for-bit comparison of tensors, for the tests that require a forecast to
// be the same computation whatever else ran beside it.
#pragma once

#include <ATen/ATen.h>

#include <cstring>

namespace crucible {

// True when a and b have the same shape and dtype and hold the same bytes
// (so NaN equals NaN, and -0 differs from +0).
inline bool bit_identical(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  const at::Tensor x = a.cpu().contiguous(), y = b.cpu().contiguous();
  return std::memcmp(x.data_ptr(), y.data_ptr(), x.nbytes()) == 0;
}

}  // namespace crucible
