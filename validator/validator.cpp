#include "crucible/validator/validator.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "crucible/common/files.h"
#include "crucible/validator/model_id.h"
#include "crucible/validator/rewards.h"
#include "crucible/validator/step_report.h"
#include "crucible/validator/step_scorer.h"

namespace crucible {
namespace {

using Clock = std::chrono::steady_clock;

std::string metrics_path(const std::string& state_dir) { return state_dir + "/metrics.jsonl"; }

constexpr std::streamoff kTailBytes = 1 << 20;  // far more than one step's line

// The step number of the last complete line of metrics.jsonl (0 when none),
// read from the file's tail only. A line cut by a crash is removed first, so
// the log stays one JSON per line.
int64_t last_logged_step(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return 0;
  const std::streamoff size = in.tellg();
  const std::streamoff start = std::max<std::streamoff>(0, size - kTailBytes);
  std::string tail(static_cast<size_t>(size - start), '\0');
  in.seekg(start);
  if (!in.read(tail.data(), static_cast<std::streamsize>(tail.size()))) {
    throw std::runtime_error(path + ": cannot read");
  }
  const size_t end = tail.rfind('\n');  // of the last complete line
  if (end == std::string::npos && start > 0) {
    throw std::runtime_error(path + ": the last line is longer than 1 MiB");
  }
  const std::streamoff complete = end == std::string::npos ? start : start + end + 1;
  if (complete != size && ::truncate(path.c_str(), static_cast<off_t>(complete)) != 0) {
    throw std::runtime_error(path + ": cannot remove a partial last line");
  }
  if (end == std::string::npos) return 0;
  const size_t begin = end == 0 ? std::string::npos : tail.rfind('\n', end - 1);
  if (begin == std::string::npos && start > 0) {
    throw std::runtime_error(path + ": the last line is longer than 1 MiB");
  }
  const size_t first = begin == std::string::npos ? 0 : begin + 1;
  const nlohmann::json document =
      nlohmann::json::parse(tail.substr(first, end - first), nullptr, false);
  if (!document.is_object() || !document.contains("step") || !document["step"].is_number()) {
    throw std::runtime_error(path + ": the last line is not a step record");
  }
  return document["step"].get<int64_t>();
}

std::string model_label(const std::optional<ModelMetadata>& model) {
  if (!model || model->commitment.empty()) return "-";
  try {
    const ModelId id = ModelId::parse(model->commitment);
    return id.repo_id() + "@" + id.commit.substr(0, 8);
  } catch (const ModelIdError&) {
    return "-";
  }
}

}  // namespace

Validator::Validator(std::shared_ptr<Chain> chain, ModelManager& models, RoundEvaluator& evaluator,
                     const CompetitionSchedule& schedule, ValidatorState& state, StateStore& store,
                     ValidatorMetrics& metrics, ValidatorOptions options, Log log)
    : chain_(std::move(chain)),
      models_(models),
      evaluator_(evaluator),
      schedule_(schedule),
      state_(state),
      store_(store),
      metrics_(metrics),
      options_(std::move(options)),
      log_(log ? std::move(log) : [](LogLevel, const std::string&) {}) {
  // The saved state is one step ahead of metrics.jsonl when the process died
  // between the save and the step's line: that step number is used already.
  const int64_t logged = last_logged_step(metrics_path(options_.state_dir));
  step_ = std::max(logged, store_.saved_step());
  if (step_ > logged) {
    log_(LogLevel::kInfo, "state: saved at step " + std::to_string(step_) +
                              ", after the last line of metrics.jsonl (step " +
                              std::to_string(logged) + "); continuing at step " +
                              std::to_string(step_ + 1));
  }
}

int64_t Validator::run(const std::atomic<bool>& stop) {
  int64_t evaluated_steps = 0;
  bool idle = false;
  while (!stop && (options_.max_steps <= 0 || evaluated_steps < options_.max_steps)) {
    bool evaluated = false;
    try {
      evaluated = step();
      metrics_.set_healthy(true);
    } catch (const std::exception& e) {
      metrics_.set_healthy(false);  // /healthz answers 503 until a step succeeds again
      log_(LogLevel::kWarn, std::string("step failed: ") + e.what());
    }
    if (evaluated) {
      ++evaluated_steps;
      idle = false;
      continue;
    }
    if (!idle) {
      char every[32];
      std::snprintf(every, sizeof every, "%g", options_.idle_poll_seconds);
      log_(LogLevel::kDebug,
           std::string("idle: no model queued for evaluation; polling every ") + every + " s");
      idle = true;
    }
    const Clock::time_point until =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(options_.idle_poll_seconds));
    while (!stop && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return evaluated_steps;
}

void Validator::apply_metagraph(const Metagraph& metagraph,
                                const std::vector<CompetitionConfig>& active) {
  std::vector<std::string> hotkeys;
  std::set<std::string> present;
  for (const Neuron& n : metagraph.neurons) {
    hotkeys.push_back(n.hotkey);
    present.insert(n.hotkey);
  }
  const std::vector<Uid> changed =
      state_.with_trackers([&](ModelTracker& models, CompetitionEmaTracker& ema) {
        std::vector<Uid> reset = ema.reset_changed_hotkeys(hotkeys);
        ema.resize(hotkeys.size());
        models.retain_hotkeys(present);
        return reset;
      });
  for (Uid uid : changed) {
    log_(LogLevel::kInfo, "uid " + std::to_string(uid) + ": new hotkey, its EMA restarts");
  }
  std::set<CompetitionId> ids;
  for (const CompetitionConfig& c : active) ids.insert(c.id);
  state_.retain_competitions(ids);
  drop_excluded_uids();
}

// A state saved before a uid was excluded may still queue or weight it.
void Validator::drop_excluded_uids() {
  for (Uid uid : models_.excluded_uids()) {
    const bool queued = state_.unqueue(uid);
    const bool scored = state_.with_trackers([&](ModelTracker&, CompetitionEmaTracker& ema) {
      bool any = false;
      for (CompetitionId c : ema.competitions()) {
        any |= ema.ema(c, uid).has_value();
        std::vector<double> weights = ema.weights(c);
        const size_t index = static_cast<size_t>(uid);
        if (uid >= 0 && index < weights.size() && weights[index] != 0.0) {
          weights[index] = 0.0;
          ema.set_weights(c, std::move(weights));
          any = true;
        }
      }
      ema.reset_uid(uid);
      return any;
    });
    if (queued || scored) {
      log_(LogLevel::kInfo, "uid " + std::to_string(uid) +
                                ": excluded; dropped from the saved queues, EMA and weights");
    }
  }
}

void Validator::set_progress(std::optional<StepProgress> progress) {
  std::lock_guard<std::mutex> lock(progress_mutex_);
  progress_ = progress;
}

std::string Validator::step_in_progress() const {
  std::lock_guard<std::mutex> lock(progress_mutex_);
  if (!progress_) return "";
  const double seconds = std::chrono::duration<double>(Clock::now() - progress_->start).count();
  return "step " + std::to_string(progress_->step) + " (competition " +
         std::to_string(progress_->competition) + ", " + std::to_string(progress_->models) +
         (progress_->models == 1 ? " model" : " models") + ", running for " +
         std::to_string(static_cast<int64_t>(seconds)) + " s)";
}

bool Validator::step() {
  const Clock::time_point start = Clock::now();
  const Block block = chain_->current_block();
  const Metagraph metagraph = chain_->metagraph();
  const std::vector<CompetitionConfig>& active = schedule_.active_at(block);
  apply_metagraph(metagraph, active);
  metrics_.set_queue_sizes(state_.pending_count(), state_.active_count());
  if (active.empty()) return false;

  // Round-robin over the active competitions, skipping those with nothing queued.
  const CompetitionConfig* competition = nullptr;
  std::vector<Uid> uids;
  for (size_t k = 0; k < active.size() && uids.empty(); ++k) {
    competition = &active[(round_robin_ + k) % active.size()];
    uids = state_.take_pending(competition->id);
    if (!uids.empty()) round_robin_ = (round_robin_ + k + 1) % active.size();
  }
  const size_t num_neurons = metagraph.neurons.size();
  std::vector<Uid> present;
  for (Uid uid : uids) {
    if (uid >= 0 && static_cast<size_t>(uid) < num_neurons && !models_.excluded_uids().count(uid)) {
      present.push_back(uid);
    }
  }
  if (present.empty()) return false;

  StepReport report;
  report.step = step_ + 1;
  report.block = block;
  report.competition_id = competition->id;
  report.seed = chain_->block_seed(seed_block(block, options_.seed_cadence));

  std::vector<RoundModel> round_models;
  std::vector<std::optional<ModelMetadata>> metadata;
  std::vector<std::string> not_installed_reasons;  // by position in `present`
  for (Uid uid : present) {
    const std::string& hotkey = metagraph.neurons[static_cast<size_t>(uid)].hotkey;
    metadata.push_back(state_.with_trackers(
        [&](ModelTracker& models, CompetitionEmaTracker&) { return models.model(hotkey); }));
    std::string problem;
    const std::optional<InstalledModel> installed = models_.installed_model(hotkey, &problem);
    if (installed) round_models.push_back({uid, installed->model_path});
    not_installed_reasons.push_back(problem);
  }
  set_progress(StepProgress{report.step, competition->id, round_models.size(), start});
  struct ClearProgress {
    Validator& validator;
    ~ClearProgress() { validator.set_progress(std::nullopt); }
  } clear_progress{*this};
  const std::vector<RoundModelResult> evaluated =
      evaluator_.evaluate(*competition, report.seed, round_models);

  std::vector<StepModelResult> results;
  size_t next = 0;
  for (size_t i = 0; i < present.size(); ++i) {
    const Uid uid = present[i];
    StepReportRow row;
    row.uid = uid;
    row.hotkey = metagraph.neurons[static_cast<size_t>(uid)].hotkey;
    row.model = model_label(metadata[i]);
    StepModelResult result;
    result.uid = uid;
    result.hotkey = row.hotkey;
    result.mean_loss = std::numeric_limits<double>::infinity();
    if (metadata[i]) {
      result.model_block = metadata[i]->block;
      result.content_hash = metadata[i]->content_hash;
    }
    if (next < round_models.size() && round_models[next].uid == uid) {
      const RoundModelResult& r = evaluated.at(next++);
      result.ok = r.status == "ok";
      result.mean_loss = r.mean_loss;
      result.win_rate = r.win_rate;
      result.composite = r.composite;
      row.status = r.status;
      row.reason = r.reason;
    } else {
      row.status = "not-installed";
      row.reason = not_installed_reasons[i];
    }
    if (!result.ok) metrics_.add_failure(row.status);
    row.mean_loss = result.mean_loss;
    row.win_rate = result.win_rate;
    row.composite = result.composite;
    results.push_back(result);
    report.rows.push_back(row);
  }

  const StepOutcome outcome = score_step(state_, *competition, active, results, block, num_neurons,
                                         options_.subnet_weight_threshold);
  // The step's scores are in memory now: its number is used even when the
  // save fails, and the next save that succeeds holds its update.
  ++step_;
  try {
    store_.save(state_, step_);
  } catch (const std::exception& e) {
    throw std::runtime_error("state of step " + std::to_string(step_) +
                             " not saved (kept in memory; the next step saves it): " + e.what());
  }

  const std::vector<double> emas =
      state_.with_trackers([&](ModelTracker&, CompetitionEmaTracker& ema) {
        return ema.emas(competition->id, num_neurons);
      });
  for (StepReportRow& row : report.rows) {
    const size_t uid = static_cast<size_t>(row.uid);
    row.ema = uid < emas.size() ? emas[uid] : std::nan("");
    row.weight = uid < outcome.competition_weights.size() ? outcome.competition_weights[uid] : 0.0;
  }
  report.subnet_weights = outcome.subnet_weights;
  report.pending = state_.pending_count();
  report.active = state_.active_count();
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  try {
    append_line(metrics_path(options_.state_dir), step_metrics_line(report));
  } catch (const std::exception& e) {
    throw std::runtime_error("step " + std::to_string(step_) +
                             " saved but not logged: " + e.what());
  }
  log_(LogLevel::kInfo, format_step_table(report));
  metrics_.record_step(step_, block, report.seconds, results.size());
  metrics_.set_weights(block, outcome.subnet_weights);
  metrics_.set_queue_sizes(report.pending, report.active);
  return true;
}

std::optional<WeightsSubmission> Validator::current_weights() {
  const Block block = chain_->current_block();
  const size_t num_neurons = chain_->metagraph().neurons.size();
  std::vector<CompetitionContribution> contributions;
  state_.with_trackers([&](ModelTracker&, CompetitionEmaTracker& ema) {
    for (const CompetitionConfig& c : schedule_.active_at(block)) {
      contributions.push_back({c.reward_share, ema.weights(c.id)});
    }
    return 0;
  });
  for (CompetitionContribution& c : contributions) {
    for (Uid uid : models_.excluded_uids()) {
      if (uid >= 0 && static_cast<size_t>(uid) < c.weights.size()) {
        c.weights[static_cast<size_t>(uid)] = 0.0;
      }
    }
  }
  const std::vector<double> weights =
      subnet_weights(contributions, num_neurons, options_.subnet_weight_threshold);
  double total = 0.0;
  for (double w : weights) total += w;
  if (total <= 0.0) return std::nullopt;
  WeightsSubmission submission;
  for (size_t uid = 0; uid < weights.size(); ++uid)
    submission.uids.push_back(static_cast<Uid>(uid));
  submission.weights = weights;
  submission.version_key = options_.version_key;
  return submission;
}

}  // namespace crucible
