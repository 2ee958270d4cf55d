#include "crucible/validator/step_scorer.h"

#include <cmath>
#include <limits>

#include "crucible/validator/rewards.h"

namespace crucible {
namespace {

std::vector<EvaluatedModel> evaluated_models(const std::vector<StepModelResult>& results) {
  std::vector<EvaluatedModel> models;
  for (const StepModelResult& r : results) {
    EvaluatedModel m;
    m.uid = r.uid;
    m.block = r.model_block;
    m.content_hash = r.content_hash;
    m.mean_loss = r.ok ? r.mean_loss : std::numeric_limits<double>::infinity();
    m.win_rate = r.ok ? r.win_rate : 0.0;
    m.score = r.ok && std::isfinite(r.composite) ? r.composite : 0.0;
    models.push_back(m);
  }
  return models;
}

// The step's winner: highest score, then lowest mean loss, then lowest uid.
const EvaluatedModel* winner(const std::vector<EvaluatedModel>& models) {
  const EvaluatedModel* best = nullptr;
  for (const EvaluatedModel& m : models) {
    if (!best || m.score > best->score ||
        (m.score == best->score && (m.mean_loss < best->mean_loss ||
                                    (m.mean_loss == best->mean_loss && m.uid < best->uid)))) {
      best = &m;
    }
  }
  return best;
}

}  // namespace

StepOutcome score_step(ValidatorState& state, const CompetitionConfig& competition,
                       const std::vector<CompetitionConfig>& active_competitions,
                       const std::vector<StepModelResult>& results, Block block, size_t num_neurons,
                       double subnet_weight_threshold) {
  std::vector<EvaluatedModel> models = evaluated_models(results);
  apply_copy_penalty(models, competition.copy_penalty);
  apply_epsilon_advantage(models, competition.epsilon, block);

  StepOutcome outcome;
  for (const EvaluatedModel& m : models) outcome.step_scores.push_back(m.score);
  const EmaParams ema_params{competition.ema_alpha, competition.ema_alpha_init,
                             competition.ema_baseline};
  const EvaluatedModel* best = winner(models);

  state.with_trackers([&](ModelTracker& tracker, CompetitionEmaTracker& ema) {
    for (size_t i = 0; i < models.size(); ++i) {  // models not empty: best is set
      ema.set_window_score(competition.id, models[i].uid,
                           WindowScore{models[i].score, models[i].mean_loss, models[i].win_rate});
      if (!results[i].new_in_window) continue;
      ema.update(competition.id, models[i].uid, results[i].hotkey, models[i].score, block,
                 ema_params);
      tracker.record_evaluation(
          results[i].hotkey, competition.id,
          EvaluationRecord{block, models[i].mean_loss, best->block, best->mean_loss});
    }
    outcome.competition_weights =
        competition_weights(ema.emas(competition.id, num_neurons), competition.rewards);
    ema.set_weights(competition.id, outcome.competition_weights);

    std::vector<CompetitionContribution> contributions;
    for (const CompetitionConfig& c : active_competitions) {
      contributions.push_back({c.reward_share, ema.weights(c.id)});
    }
    outcome.subnet_weights = subnet_weights(contributions, num_neurons, subnet_weight_threshold);
  });

  outcome.kept = models_to_keep(models, outcome.competition_weights, competition.sample_min);
  state.replace_active(competition.id, outcome.kept);
  return outcome;
}

}  // namespace crucible
