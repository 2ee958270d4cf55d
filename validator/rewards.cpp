// From per-uid scores to weights and the keep rule (docs/scoring.md section 5), and
// the optional anti-gaming rules (section 6).
//
// Decisions pinned down here:
// - Rewarded set ("support"): uids with a finite score > 0. kSoftmaxAllNeurons
//   uses every uid instead, with each score's value taken as 0 when it is
//   negative, NaN or infinite (docs/scoring.md: negative and NaN count as 0), so
//   every uid enters the softmax and the result is never all 0 for n > 0.
// - softmax: exp((v - max) / T) over the support. Subtracting the maximum first
//   keeps every exponent <= 0, so huge scores (1e308) cannot overflow; +inf
//   scores are not rewarded at all.
// - linear: proportional to the (positive) scores of the support. The "uniform
//   if all zero" case of docs/scoring.md cannot arise: the support has no zeros and an
//   empty support gives all 0, as rewards.h says.
// - ranked decay: weight decay^rank, rank = the number of higher scores (0 for
//   the best; equal scores share a rank).
// - Then, in this order, each followed by renormalisation over the same
//   support and skipped when off: exponent (w^p, off at 1), first-place boost
//   (the largest weight, every uid tied for it, times the boost; off at 1), minimum
//   weight (w = max(w, min_weight) for every uid of the support; off at 0). The
//   floor is applied once, so after renormalisation a floored weight may end
//   slightly below min_weight.
// - Every renormalisation divides by the largest weight before summing, so the
//   sum is in [1, n] and cannot overflow; entries that are non-finite or
//   negative (only possible with an out-of-range config) become 0, and a vector
//   without a positive entry becomes all 0. Hence the output is finite,
//   non-negative and sums to 1 (within 1e-12 for n <= 300) or is all 0.
#include "crucible/validator/rewards.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

namespace crucible {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The smallest competition weight that gives a uid the weight-based keep priority.
constexpr double kKeepWeightThreshold = 0.001;

bool is_rewarded(double score) { return std::isfinite(score) && score > 0.0; }

// Rescales w to sum 1 (see the header comment of this file); all 0 when no
// entry is positive and finite.
void renormalise(std::vector<double>& w) {
  double largest = 0.0;
  for (double& x : w) {
    if (!std::isfinite(x) || x < 0.0) x = 0.0;
    largest = std::max(largest, x);
  }
  if (!(largest > 0.0)) {
    std::fill(w.begin(), w.end(), 0.0);
    return;
  }
  double sum = 0.0;
  for (double& x : w) {
    x /= largest;
    sum += x;
  }
  for (double& x : w) x /= sum;
}

// The strategy's unnormalised weights: values[i] for uid support[i].
std::vector<double> strategy_weights(const std::vector<double>& values,
                                     const std::vector<size_t>& support, size_t n,
                                     const RewardConfig& config) {
  std::vector<double> w(n, 0.0);
  switch (config.strategy) {
    case RewardStrategy::kSoftmax:
    case RewardStrategy::kSoftmaxAllNeurons: {
      const double top = *std::max_element(values.begin(), values.end());
      for (size_t i = 0; i < support.size(); ++i) {
        w[support[i]] = std::exp((values[i] - top) / config.temperature);
      }
      break;
    }
    case RewardStrategy::kLinear:
      for (size_t i = 0; i < support.size(); ++i) w[support[i]] = values[i];
      break;
    case RewardStrategy::kRankedDecay: {
      // A uid's rank is the number of uids with a strictly higher score, so
      // equal scores share a rank (and a weight) whatever their uids.
      std::vector<double> sorted = values;
      std::sort(sorted.begin(), sorted.end(), std::greater<double>());
      for (size_t i = 0; i < support.size(); ++i) {
        const auto higher =
            std::lower_bound(sorted.begin(), sorted.end(), values[i], std::greater<double>()) -
            sorted.begin();
        w[support[i]] = std::pow(config.decay, static_cast<double>(higher));
      }
      break;
    }
  }
  return w;
}

// w^p over the support, computed on w / max(w) so the largest stays 1 and a
// large exponent cannot underflow every weight to 0.
void apply_exponent(std::vector<double>& w, double exponent) {
  const double largest = *std::max_element(w.begin(), w.end());
  for (double& x : w) {
    if (x > 0.0) x = std::pow(x / largest, exponent);
  }
}

// Multiplies the largest weight by the boost; every uid tied for it gets it.
void apply_first_place_boost(std::vector<double>& w, double boost) {
  const double largest = *std::max_element(w.begin(), w.end());
  for (double& x : w) {
    if (x == largest) x *= boost;
  }
}

// Earlier submission first: smaller block, then lower uid.
bool submitted_before(const EvaluatedModel& a, const EvaluatedModel& b) {
  return a.block != b.block ? a.block < b.block : a.uid < b.uid;
}

}  // namespace

std::vector<double> competition_weights(const std::vector<double>& scores,
                                        const RewardConfig& config) {
  const size_t n = scores.size();
  const bool all_neurons = config.strategy == RewardStrategy::kSoftmaxAllNeurons;
  std::vector<size_t> support;
  std::vector<double> values;  // values[i]: the score used for uid support[i]
  for (size_t uid = 0; uid < n; ++uid) {
    if (is_rewarded(scores[uid])) {
      support.push_back(uid);
      values.push_back(scores[uid]);
    } else if (all_neurons) {
      support.push_back(uid);
      values.push_back(0.0);
    }
  }
  if (support.empty()) return std::vector<double>(n, 0.0);

  std::vector<double> w = strategy_weights(values, support, n, config);
  renormalise(w);
  if (config.exponent != 1.0) {
    apply_exponent(w, config.exponent);
    renormalise(w);
  }
  if (config.first_place_boost != 1.0) {
    apply_first_place_boost(w, config.first_place_boost);
    renormalise(w);
  }
  if (config.min_weight > 0.0) {
    for (size_t uid : support) w[uid] = std::max(w[uid], config.min_weight);
    renormalise(w);
  }
  return w;
}

// A contribution's weights beyond num_neurons are dropped and missing ones
// count as 0. Negative and non-finite weights count as 0 (chain weights are
// non-negative), as does a whole contribution whose share is negative or
// non-finite. A sum that overflows becomes 0 in the final normalisation.
std::vector<double> subnet_weights(const std::vector<CompetitionContribution>& contributions,
                                   size_t num_neurons, double threshold) {
  std::vector<double> total(num_neurons, 0.0);
  for (const CompetitionContribution& c : contributions) {
    if (!std::isfinite(c.reward_share) || c.reward_share < 0.0) continue;
    const size_t m = std::min(num_neurons, c.weights.size());
    for (size_t uid = 0; uid < m; ++uid) {
      const double w = c.weights[uid];
      if (!std::isfinite(w) || w < 0.0 || w < threshold) continue;
      total[uid] += c.reward_share * w;
    }
  }
  renormalise(total);
  return total;
}

// Models are assumed to have distinct uids; should a uid repeat, it is kept
// once and its later entries take no slot. A NaN or infinite win rate counts
// as 0, so such a model can only be kept by the loss fill.
std::vector<Uid> models_to_keep(const std::vector<EvaluatedModel>& models,
                                const std::vector<double>& competition_weights,
                                int64_t sample_min) {
  const size_t want = sample_min > 0 ? static_cast<size_t>(sample_min) : 0;
  std::vector<double> priority(models.size());
  for (size_t i = 0; i < models.size(); ++i) {
    const Uid uid = models[i].uid;
    const double w = uid >= 0 && static_cast<size_t>(uid) < competition_weights.size()
                         ? competition_weights[static_cast<size_t>(uid)]
                         : 0.0;
    const double win_rate = std::isfinite(models[i].win_rate) ? models[i].win_rate : 0.0;
    priority[i] = std::isfinite(w) && w >= kKeepWeightThreshold ? 1.0 + w : win_rate;
  }

  std::vector<size_t> order(models.size());
  std::iota(order.begin(), order.end(), 0);
  std::unordered_set<Uid> kept;
  auto take_in_order = [&](auto&& eligible, auto&& before) {
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return before(a, b) || (!before(b, a) && models[a].uid < models[b].uid);
    });
    for (size_t i : order) {
      if (kept.size() >= want) break;
      if (eligible(i)) kept.insert(models[i].uid);
    }
  };
  // Highest positive priority first, then the lowest finite mean loss.
  take_in_order([&](size_t i) { return priority[i] > 0.0; },
                [&](size_t a, size_t b) { return priority[a] > priority[b]; });
  // Non-finite losses sort last as +inf (a NaN would break the sort's
  // ordering) and are never taken.
  auto loss_key = [&](size_t i) {
    return std::isfinite(models[i].mean_loss) ? models[i].mean_loss : kInf;
  };
  take_in_order([&](size_t i) { return std::isfinite(models[i].mean_loss); },
                [&](size_t a, size_t b) { return loss_key(a) < loss_key(b); });

  std::vector<Uid> result(kept.begin(), kept.end());
  std::sort(result.begin(), result.end());
  return result;
}

// eps(k) = start + (end - start) * min(1, age_k / decay_blocks) with age_k =
// current_block - block_k clamped at 0, or start when decay_blocks <= 0. A model
// beats k when its loss < (1 - eps(k)) * loss_k. A model with no earlier model
// keeps its score. A failed (+inf) or NaN loss never beats anything; an earlier
// model with a NaN loss is treated like a failed one and sets no bar. Zeroed
// models still bar later ones: the rule compares losses, not scores.
void apply_epsilon_advantage(std::vector<EvaluatedModel>& models, const EpsilonConfig& config,
                             Block current_block) {
  if (!config.enabled) return;
  std::vector<size_t> order(models.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return submitted_before(models[a], models[b]); });
  // The lowest (1 - eps(k)) * loss_k over the models seen so far: a later
  // model must be below every such bar, i.e. below the smallest.
  double bar = kInf;
  for (size_t position = 0; position < order.size(); ++position) {
    EvaluatedModel& m = models[order[position]];
    const bool beats = m.mean_loss < bar;  // false for NaN and, as bar <= +inf, for +inf
    if (position > 0 && !beats) m.score = 0.0;

    double epsilon = config.start;
    if (config.decay_blocks > 0) {
      const double age = static_cast<double>(std::max<Block>(0, current_block - m.block));
      const double progress = std::min(1.0, age / static_cast<double>(config.decay_blocks));
      epsilon = config.start + (config.end - config.start) * progress;
    }
    if (!std::isnan(m.mean_loss)) bar = std::min(bar, (1.0 - epsilon) * m.mean_loss);
  }
}

void apply_copy_penalty(std::vector<EvaluatedModel>& models, const CopyPenaltyConfig& config) {
  if (!config.enabled) return;
  // The earliest model (index) of each non-empty hash; equal block and uid:
  // the first in input order.
  std::unordered_map<std::string, size_t> earliest;
  for (size_t i = 0; i < models.size(); ++i) {
    if (models[i].content_hash.empty()) continue;
    auto [it, inserted] = earliest.emplace(models[i].content_hash, i);
    if (!inserted && submitted_before(models[i], models[it->second])) it->second = i;
  }
  for (size_t i = 0; i < models.size(); ++i) {
    if (models[i].content_hash.empty()) continue;
    if (earliest.at(models[i].content_hash) != i) models[i].score *= config.penalty;
  }
}

}  // namespace crucible
