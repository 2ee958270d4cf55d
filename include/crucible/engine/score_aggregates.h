// The small per-model reductions after the win rate and the bootstrap:
// aggregate gap, separation score, composite (docs/scoring.md section 4, steps 3-5).
// Plain C++: the validator can use them without LibTorch.
#pragma once

#include <cstdint>
#include <vector>

namespace crucible {

// gap[u] = mean over k != u of (hi[u] - lo[k]), NaN terms ignored, 0 when no
// term is defined. Terms are summed in ascending uid order, so the result does
// not depend on the order of the rows.
std::vector<double> aggregate_gaps(const std::vector<int64_t>& uids, const std::vector<double>& lo,
                                   const std::vector<double>& hi);

// sep[u] = (gap[u] - max) / (min - max): best 1, worst 0; every model gets 1
// with fewer than two models or when max - min is within rounding; NaN -> 0.
std::vector<double> separation_scores(const std::vector<double>& gaps);

// composite[u] = win_rate[u] * sep[u]; NaN -> 0.
std::vector<double> composite_scores(const std::vector<double>& win_rates,
                                     const std::vector<double>& separations);

}  // namespace crucible
