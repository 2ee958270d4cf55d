// From a loss matrix to per-model scores: win rate, seeded bootstrap CI, gap,
// separation and composite (docs/scoring.md section 4). Runs where the losses live;
// CPU and CUDA give bit-identical results. A model's scores depend on the
// losses and the seed only: permuting rows permutes the outputs exactly, and
// rows with identical losses get bit-identical scores whatever their uids.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace crucible {

struct ScoringOptions {
  uint64_t seed = 0;  // the round seed; keys the bootstrap draws, the same for every model
  int64_t bootstrap_samples = 100;
  double ci_alpha = 0.05;
};

struct ModelScores {
  std::vector<int64_t> uids;
  std::vector<double> win_rate;
  std::vector<double> ci_lo;  // NaN for a model with fewer than 2 finite losses
  std::vector<double> ci_hi;
  std::vector<double> agg_gap;
  std::vector<double> sep_score;
  std::vector<double> composite;
};

// Per-model win rates and bootstrap bounds: the two data-sized steps.
struct WinRatesAndBounds {
  std::vector<double> win_rate, ci_lo, ci_hi;
};

// `losses`: [U, S] float64 (NaN missing, +inf a failed model) on the CPU or a
// CUDA device; `uids`: U distinct ids, labels of the rows (they do not enter
// the scores). Throws std::invalid_argument for a bad
// shape, dtype, duplicate uids, bootstrap_samples < 1 or alpha outside (0, 1).
ModelScores score_models(const at::Tensor& losses, const std::vector<int64_t>& uids,
                         const ScoringOptions& options);

// The implementations behind score_models (validated, contiguous inputs).
WinRatesAndBounds win_rates_and_bounds_cpu(const at::Tensor& losses, const ScoringOptions& options);
WinRatesAndBounds win_rates_and_bounds_cuda(const at::Tensor& losses,
                                            const ScoringOptions& options);

}  // namespace crucible
