// The small per-model reductions after the win rate and the bootstrap:
// aggregate gap, separation score, composite (docs/scoring.md section 4, steps 3-5).
// Plain C++: the validator can use them without LibTorch.
#pragma once

#include <vector>

namespace crucible {

// gap[u] = mean over k != u of (hi[u] - lo[k]), NaN terms ignored, 0 when no
// term is defined; lo and hi have one entry per model. Terms are summed in
// ascending order of lo[k], so gap[u] depends on hi[u], lo[u] and the multiset
// of the other bounds only: permuting the models permutes the gaps exactly,
// and two models with equal (lo, hi) get bit-identical gaps.
std::vector<double> aggregate_gaps(const std::vector<double>& lo, const std::vector<double>& hi);

// sep[u] = (gap[u] - max) / (min - max): best 1, worst 0; every model gets 1
// with fewer than two models or when max - min is within rounding; NaN -> 0.
std::vector<double> separation_scores(const std::vector<double>& gaps);

// composite[u] = win_rate[u] * sep[u]; NaN -> 0.
std::vector<double> composite_scores(const std::vector<double>& win_rates,
                                     const std::vector<double>& separations);

}  // namespace crucible
