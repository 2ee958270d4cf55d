// The synthetic GP generator on any LibTorch device: the CPU generator of
// synthetic_gp.h on the CPU; on CUDA, batched Gram matrices, one batched
// Cholesky (cuSOLVER) and one batched matmul. Same compositions, normals and
// split, so CPU and CUDA agree up to float rounding.
#pragma once

#include <c10/core/Device.h>

#include "crucible/engine/data/synthetic_gp.h"

namespace crucible {

TaskData generate_synthetic_gp(const SyntheticGpOptions& options, const c10::Device& device);

}  // namespace crucible
