#include "crucible/validator/validator.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "crucible/common/files.h"
#include "crucible/validator/model_id.h"
#include "crucible/validator/rewards.h"
#include "crucible/validator/step_history.h"
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
  // A crash between a rotation and the next line leaves no current file:
  // the last step is then the previous file's.
  const std::string path = metrics_path(options_.state_dir);
  int64_t logged = last_logged_step(path);
  if (logged == 0) logged = last_logged_step(path + ".1");
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
      metrics_.set_problem("step", "");
      if (failing_since_) {
        log_(LogLevel::kInfo,
             "steps succeed again (" + std::to_string(failures_) + " failed in a row)");
        failing_since_.reset();
        last_warned_failure_.clear();
      }
    } catch (const std::exception& e) {
      // /healthz answers 503 until a step succeeds again.
      metrics_.set_problem("step", std::string("the last step failed: ") + e.what());
      log_failure(e.what());
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
           std::string("idle: every queued model is scored in this window; polling every ") +
               every + " s");
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

namespace {

// A failure's text with the random parts of temporary names (mkdtemp's and
// mkstemp's six characters) masked, so the same failure in a new round
// folder reads the same.
std::string failure_kind(const std::string& failure) {
  static const std::regex temporary_name(R"((crucible-[a-z]+\.|tmp-|\.tmp\.)[A-Za-z0-9]{6})");
  return std::regex_replace(failure, temporary_name, "$1XXXXXX");
}

}  // namespace

// While steps keep failing (each idle poll retries), each new failure, or
// the same in a new window, is a warning; the same failure again is logged
// at debug, with a reminder warning
// at most once a minute saying how many failed in a row.
void Validator::log_failure(const std::string& failure) {
  constexpr double kWarnEverySeconds = 60.0;
  const Clock::time_point now = Clock::now();
  if (!failing_since_) {
    failing_since_ = now;
    failures_ = 0;
  }
  ++failures_;
  // A new window's failure is news even when it reads the same.
  const std::string kind = failure_kind(failure) + " (window " + std::to_string(window_) + ")";
  if (kind != last_warned_failure_) {
    last_warned_failure_ = kind;
    last_warned_ = now;
    log_(LogLevel::kWarn, "step failed: " + failure);
  } else if (std::chrono::duration<double>(now - last_warned_).count() >= kWarnEverySeconds) {
    last_warned_ = now;
    log_(LogLevel::kWarn, "step failed again (" + std::to_string(failures_) +
                              " failures in a row, retried every poll): " + failure);
  } else {
    log_(LogLevel::kDebug, "step failed: " + failure);
  }
}

std::string Validator::installed_hash(const std::string& hotkey) const {
  return state_.with_trackers([&](ModelTracker& models, CompetitionEmaTracker&) {
    const std::optional<ModelMetadata> model = models.model(hotkey);
    return model ? model->content_hash : std::string();
  });
}

void Validator::add_unrun_miners(const Metagraph& metagraph,
                                 std::vector<StepReportRow>& rows) const {
  std::set<Uid> present;
  for (const StepReportRow& row : rows) present.insert(row.uid);
  state_.with_trackers([&](ModelTracker& models, CompetitionEmaTracker&) {
    for (const Neuron& neuron : metagraph.neurons) {
      if (neuron.validator_permit || present.count(neuron.uid)) continue;  // not a miner, or run
      StepReportRow row = miner_row(neuron.uid, neuron.hotkey, models.model(neuron.hotkey));
      if (models_.excluded_uids().count(neuron.uid)) {
        row.status = "excluded";
        row.reason = "--exclude-uids: never evaluated nor weighted";
      }
      rows.push_back(std::move(row));
    }
    return 0;
  });
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

bool Validator::round_seed(Block window, uint64_t* seed) {
  try {
    *seed = chain_->block_seed(window);
  } catch (const SeedUnavailableError& e) {
    if (seed_wait_logged_ != window) {
      log_(LogLevel::kInfo, std::string("waiting for the round seed: ") + e.what());
      seed_wait_logged_ = window;
    }
    return false;
  }
  if (!predictable_warned_ && chain_->seeds_are_predictable()) {
    log_(LogLevel::kWarn,
         "the chain folder records no block hashes: round seeds come from block numbers, so "
         "anyone can compute future tasks (fine for a local test chain; a validator on a real "
         "subnet runs the bridge, which records them)");
    predictable_warned_ = true;
  }
  return true;
}

Validator::WindowWork Validator::window_work(const CompetitionConfig& competition, Block window,
                                             size_t num_neurons) {
  const auto present = [&](Uid uid) {
    return uid >= 0 && static_cast<size_t>(uid) < num_neurons &&
           !models_.excluded_uids().count(uid);
  };
  const std::vector<Uid> queued = state_.queued(competition.id);
  const std::map<Uid, WindowScore> scored =
      state_.with_trackers([&](ModelTracker&, CompetitionEmaTracker& ema) {
        ema.start_window(competition.id, window);
        return ema.window_scores(competition.id);
      });
  WindowWork work;
  for (Uid uid : queued) {
    if (present(uid) && !scored.count(uid)) work.to_score.push_back(uid);
  }
  for (const auto& [uid, score] : scored) {
    if (present(uid)) work.scored.push_back(uid);
  }
  return work;
}

bool Validator::step() {
  const Clock::time_point start = Clock::now();
  const Block block = chain_->current_block();
  const Metagraph metagraph = chain_->metagraph();
  const std::vector<CompetitionConfig>& active = schedule_.active_at(block);
  apply_metagraph(metagraph, active);
  metrics_.set_queue_sizes(state_.pending_count(), state_.active_count());
  if (active.empty()) return false;
  const Block window = seed_block(block, options_.seed_cadence);
  window_ = window;
  uint64_t seed = 0;
  if (!round_seed(window, &seed)) return false;

  // Round-robin over the active competitions, skipping those whose queue is
  // scored in this window already.
  const size_t num_neurons = metagraph.neurons.size();
  const CompetitionConfig* competition = nullptr;
  WindowWork work;
  for (size_t k = 0; k < active.size() && work.to_score.empty(); ++k) {
    competition = &active[(round_robin_ + k) % active.size()];
    work = window_work(*competition, window, num_neurons);
    if (!work.to_score.empty()) round_robin_ = (round_robin_ + k + 1) % active.size();
  }
  if (work.to_score.empty()) {
    // A failed save or metrics.jsonl line is retried while idle too.
    if (unsaved_) save_state();
    if (!unlogged_lines_.empty()) append_metrics_lines();
    return false;
  }
  state_.take_pending(competition->id);

  StepReport report;
  report.step = step_ + 1;
  report.block = block;
  report.window = window;
  report.competition_id = competition->id;
  report.seed = seed;
  WindowRuns& runs = window_runs_[competition->id];
  runs.start(window, seed);

  // The models to run: those new to the window, and the window's earlier
  // models whose runs this process does not hold (after a restart).
  struct Candidate {
    Uid uid;
    std::string hotkey;
    std::optional<ModelMetadata> metadata;
    std::string model_path;
    bool new_in_window;
  };
  std::vector<Candidate> candidates;
  std::vector<RoundModel> to_run;
  std::vector<Uid> requeue;  // not installed through the validator's own fault
  std::vector<Uid> unqueue;  // not installed: the miner's model failed to download
  const auto consider = [&](Uid uid, bool new_in_window) {
    Candidate c{uid, metagraph.neurons[static_cast<size_t>(uid)].hotkey, std::nullopt, "",
                new_in_window};
    c.metadata = state_.with_trackers(
        [&](ModelTracker& models, CompetitionEmaTracker&) { return models.model(c.hotkey); });
    const std::string hash = c.metadata ? c.metadata->content_hash : "";
    std::string problem;
    const std::optional<InstalledModel> installed = models_.installed_model(c.hotkey, &problem);
    if (!installed) {
      if (!new_in_window) return;  // left out of the comparison
      report.rows.push_back(miner_row(uid, c.hotkey, c.metadata, problem));
      // An installed model gone from the store is fetched again and scored
      // later; a miner whose model failed to download is queued again by the
      // model manager once it installs.
      (hash.empty() ? unqueue : requeue).push_back(uid);
      return;
    }
    c.model_path = installed->model_path;
    if (new_in_window || runs.find(uid, hash) == nullptr) to_run.push_back({uid, c.model_path});
    candidates.push_back(std::move(c));
  };
  for (Uid uid : work.to_score) consider(uid, true);
  for (Uid uid : work.scored) consider(uid, false);

  set_progress(StepProgress{report.step, competition->id, to_run.size(), start});
  struct ClearProgress {
    Validator& validator;
    ~ClearProgress() { validator.set_progress(std::nullopt); }
  } clear_progress{*this};
  const long long read_before = evaluator_.weight_bytes_read();
  std::vector<ModelLosses> fresh = evaluator_.run(*competition, seed, to_run);
  report.weight_bytes_read = evaluator_.weight_bytes_read() - read_before;

  // A run that failed because the validator's own copy of the model vanished
  // or was damaged meanwhile is not the miner's doing: not scored, fetched
  // again, queued for the next step.
  std::map<Uid, const Candidate*> by_uid;
  for (const Candidate& c : candidates) by_uid[c.uid] = &c;
  std::set<Uid> store_faults;
  for (ModelLosses& run : fresh) {
    const Candidate& c = *by_uid.at(run.uid);
    const std::string run_hash = c.metadata ? c.metadata->content_hash : "";
    if (installed_hash(c.hotkey) != run_hash) {
      // The model manager installed the miner's new model while the step ran
      // the old one (and reset its EMA): that run neither counts nor scores;
      // the new model is queued and runs in the next step.
      if (c.new_in_window) {
        StepReportRow row = miner_row(run.uid, c.hotkey, c.metadata);
        row.status = "waiting";
        row.reason = "a new model was installed while this step ran; it runs in the next step";
        report.rows.push_back(row);
      }
      requeue.push_back(run.uid);
      continue;
    }
    if (run.status != "ok") {
      std::string problem;
      const std::optional<InstalledModel> still = models_.installed_model(c.hotkey, &problem);
      if (!still || still->model_path != c.model_path) {
        store_faults.insert(run.uid);
        if (c.new_in_window) {
          report.rows.push_back(
              miner_row(run.uid, c.hotkey, c.metadata,
                        problem.empty() ? "the installed files changed during the step" : problem));
          requeue.push_back(run.uid);
        }
        continue;
      }
    }
    runs.put(c.metadata ? c.metadata->content_hash : "", std::move(run));
  }

  std::vector<ModelLosses> window_set;
  std::vector<const Candidate*> window_candidates;
  for (const Candidate& c : candidates) {
    const ModelLosses* run = runs.find(c.uid, c.metadata ? c.metadata->content_hash : "");
    if (run == nullptr) continue;  // a store fault
    window_set.push_back(*run);
    window_candidates.push_back(&c);
  }
  size_t scored_now = 0;
  for (const Candidate* c : window_candidates) scored_now += c->new_in_window ? 1 : 0;
  for (Uid uid : unqueue) state_.unqueue(uid);
  if (scored_now == 0) {
    for (Uid uid : requeue) state_.add_pending(competition->id, uid);
    for (const StepReportRow& row : report.rows) {
      std::string& logged = not_installed_logged_[row.uid];
      if (logged == row.reason) continue;
      logged = row.reason;
      log_(LogLevel::kInfo, "uid " + std::to_string(row.uid) + ": not scored (" + row.reason + ")");
    }
    return false;
  }
  not_installed_logged_.clear();
  const std::vector<RoundModelResult> scored = evaluator_.score(*competition, seed, window_set);

  std::vector<StepModelResult> results;
  for (size_t i = 0; i < window_set.size(); ++i) {
    const Candidate& c = *window_candidates[i];
    const RoundModelResult& r = scored.at(i);
    StepModelResult result;
    result.uid = c.uid;
    result.hotkey = c.hotkey;
    result.new_in_window = c.new_in_window;
    result.ok = r.status == "ok";
    result.mean_loss = r.mean_loss;
    result.win_rate = r.win_rate;
    result.composite = r.composite;
    if (c.metadata) {
      result.model_block = c.metadata->block;
      result.content_hash = c.metadata->content_hash;
    }
    if (!result.ok) metrics_.add_failure(r.status);
    results.push_back(result);
    if (!c.new_in_window) continue;
    StepReportRow row;
    row.uid = c.uid;
    row.hotkey = c.hotkey;
    row.model = model_label(c.metadata);
    row.status = r.status;
    row.reason = r.reason;
    row.mean_loss = r.mean_loss;
    row.win_rate = r.win_rate;
    row.composite = r.composite;
    report.rows.push_back(row);
  }

  const StepOutcome outcome = score_step(state_, *competition, active, results, block, num_neurons,
                                         options_.subnet_weight_threshold);
  for (Uid uid : requeue) state_.add_pending(competition->id, uid);
  scored_since_hold_ = true;
  release_weights_when_window_scored(active, window, num_neurons);
  // The step's scores are in memory now: its number is used even when the
  // save fails, and the next save that succeeds holds its update.
  ++step_;
  save_state();

  const std::vector<double> emas =
      state_.with_trackers([&](ModelTracker&, CompetitionEmaTracker& ema) {
        return ema.emas(competition->id, num_neurons);
      });
  add_unrun_miners(metagraph, report.rows);
  for (StepReportRow& row : report.rows) {
    const size_t uid = static_cast<size_t>(row.uid);
    row.ema = uid < emas.size() ? emas[uid] : std::nan("");
    row.weight = uid < outcome.competition_weights.size() ? outcome.competition_weights[uid] : 0.0;
  }
  std::sort(report.rows.begin(), report.rows.end(),
            [](const StepReportRow& a, const StepReportRow& b) { return a.uid < b.uid; });
  report.subnet_weights = outcome.subnet_weights;
  report.pending = state_.pending_count();
  report.active = state_.active_count();
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.time =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  unlogged_lines_.push_back({step_, step_metrics_line(report)});
  append_metrics_lines();
  log_(LogLevel::kInfo, format_step_table(report));
  metrics_.record_step(step_, block, report.seconds, scored_now);
  metrics_.set_weights(block, outcome.subnet_weights);
  metrics_.set_queue_sizes(report.pending, report.active);
  return true;
}

void Validator::save_state() {
  try {
    store_.save(state_, step_);
    unsaved_ = false;
  } catch (const std::exception& e) {
    unsaved_ = true;
    throw std::runtime_error("state of step " + std::to_string(step_) +
                             " not saved (kept in memory; the next step saves it): " + e.what());
  }
}

void Validator::append_metrics_lines() {
  const std::string path = metrics_path(options_.state_dir);
  while (!unlogged_lines_.empty()) {
    try {
      std::error_code error;
      const uintmax_t size = std::filesystem::file_size(path, error);
      if (!error && options_.metrics_rotate_bytes > 0 && size >= options_.metrics_rotate_bytes) {
        rotate_step_log(path);
      }
      append_line(path, unlogged_lines_.front().second);
    } catch (const std::exception& e) {
      // Named by the newest step: the one a scoring step has just finished.
      throw std::runtime_error(
          "step " + std::to_string(unlogged_lines_.back().first) +
          " saved but not logged (kept; the next step writes it): " + e.what());
    }
    unlogged_lines_.erase(unlogged_lines_.begin());
  }
}

void Validator::hold_weights(const std::string& reason) {
  state_.with_trackers([&](ModelTracker&, CompetitionEmaTracker& ema) {
    ema.hold_weights(reason);
    return 0;
  });
  scored_since_hold_ = false;
  log_(LogLevel::kWarn, "weights held until a full window is scored: " + reason);
}

std::string Validator::weights_held() {
  return state_.with_trackers(
      [](ModelTracker&, CompetitionEmaTracker& ema) { return ema.weights_held(); });
}

// Weights held since a restore are released once this process has scored
// and no active competition has a queued model left unscored in the window.
void Validator::release_weights_when_window_scored(const std::vector<CompetitionConfig>& active,
                                                   Block window, size_t num_neurons) {
  if (weights_held().empty() || !scored_since_hold_) return;
  for (const CompetitionConfig& c : active) {
    if (!window_work(c, window, num_neurons).to_score.empty()) return;
  }
  state_.with_trackers([](ModelTracker&, CompetitionEmaTracker& ema) {
    ema.hold_weights("");
    return 0;
  });
  log_(LogLevel::kInfo, "weights released: every queued model is scored in the window of block " +
                            std::to_string(window));
}

std::optional<WeightsSubmission> Validator::current_weights() {
  if (!weights_held().empty()) return std::nullopt;
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
