// From per-uid scores to weights, and which models stay queued: docs/scoring.md
// section 5 and the optional rules of section 6. Pure functions, no I/O.
#pragma once

#include <string>
#include <vector>

#include "crucible/validator/competition_schedule.h"
#include "crucible/validator/types.h"

namespace crucible {

// A competition's weights over uids 0..scores.size()-1 from their EMA scores.
// Only uids with a positive, finite score are rewarded (negative, NaN and
// missing count as 0); if none is positive, all weights are 0. The strategy
// (softmax with temperature, linear, ranked decay) is followed by the exponent,
// the first-place boost and the minimum weight, each renormalising.
// kSoftmaxAllNeurons softmaxes over every uid (the reference's behaviour).
// The result is finite, non-negative and sums to 1, or is all 0.
std::vector<double> competition_weights(const std::vector<double>& scores,
                                        const RewardConfig& config);

// One active competition's contribution to the subnet weights.
struct CompetitionContribution {
  double reward_share = 0.0;
  std::vector<double> weights;  // competition_weights(); may be shorter than num_neurons
};

// sum_c reward_share_c * weights_c over num_neurons uids; per-competition
// weights below `threshold` are zeroed first (0 = off); normalised to sum 1,
// all 0 stays all 0; non-finite values become 0.
std::vector<double> subnet_weights(const std::vector<CompetitionContribution>& contributions,
                                   size_t num_neurons, double threshold = 0.0);

// One evaluated model of a step, as the keep rule and the optional rules see it.
struct EvaluatedModel {
  Uid uid = 0;
  Block block = 0;           // the block of the model's commitment
  std::string content_hash;  // empty when unknown
  double mean_loss = 0.0;    // +inf for a failed evaluation
  double win_rate = 0.0;
  double score = 0.0;  // the step score (composite), adjusted in place below
};

// The uids to keep for the next step: priority 1 + w for a uid whose
// competition weight w (indexed by uid; missing = 0) is >= 0.001, else its
// win rate; the top `sample_min` by priority (ties: lower uid); if fewer than
// sample_min have a positive priority, filled with the lowest finite mean
// losses (ties: lower uid). Sorted by uid.
std::vector<Uid> models_to_keep(const std::vector<EvaluatedModel>& models,
                                const std::vector<double>& competition_weights, int64_t sample_min);

// Epsilon advantage: a model whose mean loss is not below
// (1 - epsilon) * mean_loss of every earlier-submitted model (smaller block;
// equal blocks: lower uid) gets score 0. epsilon for an earlier model k goes
// linearly from config.start to config.end over config.decay_blocks blocks of
// (current_block - block_k). No effect when disabled.
void apply_epsilon_advantage(std::vector<EvaluatedModel>& models, const EpsilonConfig& config,
                             Block current_block);

// Copy penalty: among models with the same non-empty content hash, every one
// but the earliest (smallest block; ties: lower uid) has score x penalty.
// No effect when disabled.
void apply_copy_penalty(std::vector<EvaluatedModel>& models, const CopyPenaltyConfig& config);

}  // namespace crucible
