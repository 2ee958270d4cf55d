// Conversions between .npy arrays (common/npy.h) and CPU tensors.
#pragma once

#include <ATen/core/Tensor.h>

#include "crucible/common/npy.h"

namespace crucible {

// A CPU tensor owning a copy of the array's data, with its dtype and shape.
at::Tensor tensor_from_npy(const NpyArray& array);

// The array of a float32/float64/int32/int64 tensor (copied to the CPU).
// Throws std::invalid_argument for any other dtype.
NpyArray npy_from_tensor(const at::Tensor& tensor);

}  // namespace crucible
