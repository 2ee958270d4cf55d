// Groups of synthetic GP rows (docs/scoring.md section 1): targets that mix
// shared latent GP series (a linear model of coregionalisation) and are
// driven by known covariates, and past covariates correlated with them. Built
// on the host from the latent samples of either GP generator. No LibTorch.
#pragma once

#include <vector>

#include "crucible/engine/data/gp_kernel_bank.h"
#include "crucible/engine/data/synthetic_gp.h"
#include "crucible/engine/data/task_data.h"

namespace crucible {

// Lower bound of the mixing weights |a_tq| and |b_tk|: two targets' mixing
// vectors then have cosine >= 2 w / (1 + w^2) (about 0.385).
constexpr double kMinMixingWeight = 0.2;

// The grouped task from the latent samples [num_series * rows, L] (row-major;
// rows = gp_rows_per_group) and each kernel slot's composition. Group g uses
// latents g * rows + r: r < T mix into the targets, then one per past
// covariate, then one per known covariate. Rows of a group: its T targets,
// then its past covariates, then its known covariates; one split point per
// group (gp_split_point(g)). The weights come from Philox stream 5, index g.
TaskData assemble_gp_groups(const SyntheticGpOptions& options, const float* latents,
                            const std::vector<KernelComposition>& compositions);

}  // namespace crucible
