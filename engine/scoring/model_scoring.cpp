#include "crucible/engine/scoring/model_scoring.h"

#include <ATen/ATen.h>

#include <set>
#include <stdexcept>

#include "crucible/engine/scoring/score_aggregates.h"

namespace crucible {
namespace {

void check_scoring_inputs(const at::Tensor& losses, const std::vector<int64_t>& uids,
                          const ScoringOptions& options) {
  if (losses.dim() != 2) {
    throw std::invalid_argument("losses must be a [U, S] matrix, got " +
                                std::to_string(losses.dim()) + " dimensions");
  }
  if (losses.scalar_type() != at::kDouble) throw std::invalid_argument("losses must be float64");
  if (static_cast<int64_t>(uids.size()) != losses.size(0)) {
    throw std::invalid_argument("there are " + std::to_string(uids.size()) + " uids for " +
                                std::to_string(losses.size(0)) + " loss rows");
  }
  if (std::set<int64_t>(uids.begin(), uids.end()).size() != uids.size()) {
    throw std::invalid_argument("uids are not distinct");
  }
  if (options.bootstrap_samples < 1) {
    throw std::invalid_argument("bootstrap samples must be at least 1");
  }
  if (!(options.ci_alpha > 0.0 && options.ci_alpha < 1.0)) {
    throw std::invalid_argument("ci alpha must be strictly inside (0, 1)");
  }
}

}  // namespace

ModelScores score_models(const at::Tensor& losses, const std::vector<int64_t>& uids,
                         const ScoringOptions& options) {
  check_scoring_inputs(losses, uids, options);
  const at::Tensor contiguous = losses.contiguous();
  WinRatesAndBounds core = contiguous.is_cuda() ? win_rates_and_bounds_cuda(contiguous, options)
                                                : win_rates_and_bounds_cpu(contiguous, options);
  ModelScores scores;
  scores.uids = uids;
  scores.agg_gap = aggregate_gaps(core.ci_lo, core.ci_hi);
  scores.sep_score = separation_scores(scores.agg_gap);
  scores.composite = composite_scores(core.win_rate, scores.sep_score);
  scores.win_rate = std::move(core.win_rate);
  scores.ci_lo = std::move(core.ci_lo);
  scores.ci_hi = std::move(core.ci_hi);
  return scores;
}

}  // namespace crucible
