// The Gram matrices of gp_kernel_bank.h as LibTorch float64 tensors, for the
// CUDA path of the synthetic GP generator (the CPU uses gram_matrix_cpu; a
// test compares the two).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "crucible/engine/data/gp_kernel_bank.h"

namespace crucible {

// The grid x = linspace(0, 1, L) and what the Gram matrices need of it.
struct GramGrid {
  at::Tensor x;          // [L] float64
  at::Tensor lags;       // [L] float64, lag k is k / (L - 1)
  at::Tensor lag_index;  // [L, L] int64, |i - j|
};
GramGrid make_gram_grid(int64_t length, const c10::Device& device);

// The [L, L] float64 Gram matrix of a composition on the grid's device.
at::Tensor gram_matrix(const KernelComposition& composition, const GramGrid& grid);

}  // namespace crucible
