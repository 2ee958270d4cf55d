#include "crucible/validator/model_manager.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "crucible/validator/model_id.h"

namespace crucible {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

const CompetitionConfig* find_competition(const std::vector<CompetitionConfig>& active,
                                          CompetitionId id) {
  for (const CompetitionConfig& c : active) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

// "download-failed: hub: ..." -> "download-failed".
std::string failure_reason(const std::string& failure) {
  return failure.substr(0, failure.find(':'));
}

}  // namespace

std::string SyncReport::summary() const {
  const size_t failed = std::accumulate(
      failures.begin(), failures.end(), size_t{0},
      [](size_t sum, const std::pair<const std::string, size_t>& f) { return sum + f.second; });
  const auto count = [](size_t n, const char* noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
  };
  std::string text = count(miners, "miner") + ", " + count(installed, "model") + " installed, " +
                     std::to_string(failed) + " failed";
  std::string reasons;
  for (const auto& [reason, n] : failures) {
    reasons += (reasons.empty() ? "" : ", ") + reason + " " + std::to_string(n);
  }
  if (!reasons.empty()) text += " (" + reasons + ")";
  if (excluded > 0) text += ", " + std::to_string(excluded) + " excluded";
  return text;
}

ModelManager::ModelManager(std::shared_ptr<Chain> chain, ModelHub& hub, DiskModelStore& store,
                           ValidatorState& state, const CompetitionSchedule& schedule,
                           ModelManagerOptions options, Log log, ValidatorMetrics* metrics)
    : chain_(std::move(chain)),
      hub_(hub),
      store_(store),
      state_(state),
      schedule_(schedule),
      options_(std::move(options)),
      log_(log ? std::move(log) : [](LogLevel, const std::string&) {}),
      metrics_(metrics) {}

ModelManager::~ModelManager() { stop(); }

void ModelManager::start() {
  stopping_ = false;
  sync_thread_ = std::thread([this] { sync_loop(); });
  cleanup_thread_ = std::thread([this] { cleanup_loop(); });
}

void ModelManager::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (cleanup_thread_.joinable()) cleanup_thread_.join();
}

bool ModelManager::wait(double seconds) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return stopping_; });
  return !stopping_;
}

SyncReport ModelManager::sync_all() {
  const Block block = chain_->current_block();
  const Metagraph metagraph = chain_->metagraph();
  const std::map<std::string, Commitment> commitments = chain_->commitments();
  SyncReport report;
  for (const Neuron& neuron : metagraph.neurons) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) break;
    }
    if (neuron.validator_permit) continue;
    if (options_.exclude_uids.count(neuron.uid)) {
      ++report.excluded;
      continue;
    }
    const auto c = commitments.find(neuron.hotkey);
    const std::optional<Commitment> commitment =
        c == commitments.end() ? std::nullopt : std::optional<Commitment>(c->second);
    report.changed += sync_miner(neuron, commitment, block, now_seconds());
    ++report.miners;
    const std::optional<ModelMetadata> model = state_.with_trackers(
        [&](ModelTracker& models, CompetitionEmaTracker&) { return models.model(neuron.hotkey); });
    if (model && !model->content_hash.empty()) {
      ++report.installed;
    } else if (model && !model->failure.empty()) {
      ++report.failures[failure_reason(model->failure)];
    }
  }
  return report;
}

bool ModelManager::sync_miner(const Neuron& neuron, const std::optional<Commitment>& commitment,
                              Block block, double now) {
  const std::optional<ModelMetadata> known = state_.with_trackers(
      [&](ModelTracker& models, CompetitionEmaTracker&) { return models.model(neuron.hotkey); });
  const bool same_commitment = known && commitment && known->commitment == commitment->commitment &&
                               known->block == commitment->block;
  // An installed model deleted or damaged on disk is fetched again at once.
  const bool installed = same_commitment && !known->content_hash.empty() &&
                         store_.find(neuron.hotkey, known->content_hash);
  const auto last = last_attempt_.find(neuron.uid);
  const bool retry_due =
      last == last_attempt_.end() || now - last->second >= options_.retry_seconds;
  if (same_commitment && !retry_due && (installed || known->content_hash.empty())) return false;
  if (!commitment && known && known->commitment.empty() && !retry_due) return false;
  last_attempt_[neuron.uid] = now;

  ModelMetadata model;
  if (!commitment) {
    record_failure(neuron, model, "missing-commitment", "no model committed");
    return false;
  }
  model.commitment = commitment->commitment;
  model.block = commitment->block;
  ModelId id;
  try {
    id = ModelId::parse(commitment->commitment);
  } catch (const ModelIdError& e) {
    record_failure(neuron, model, "bad-commitment", e.what());
    return false;
  }
  const CompetitionConfig* competition =
      find_competition(schedule_.active_at(block), id.competition_id);
  if (competition == nullptr) {
    record_failure(neuron, model, "inactive-competition",
                   "competition " + std::to_string(id.competition_id) + " is not active");
    return false;
  }
  if (installed) return false;  // installed, intact and unchanged
  // Held until the tracker records the model, so a cleanup cannot remove it in between.
  std::lock_guard<std::mutex> installing(install_mutex_);
  try {
    model.content_hash =
        store_.install(neuron.hotkey, id, hub_, competition->max_file_bytes).content_hash;
  } catch (const ModelFetchError& e) {
    record_failure(neuron, model, e.reason(), e.what());
    return false;
  } catch (const std::exception& e) {
    record_failure(neuron, model, "store-error", e.what());
    return false;
  }
  const bool is_new =
      !known || known->content_hash != model.content_hash || known->commitment != model.commitment;
  state_.with_trackers([&](ModelTracker& models, CompetitionEmaTracker& ema) {
    models.set_model(neuron.hotkey, model);
    if (is_new) ema.reset_uid(neuron.uid);
    return 0;
  });
  state_.add_pending(id.competition_id, neuron.uid);
  logged_failure_.erase(neuron.uid);
  if (is_new) {
    log_(LogLevel::kInfo, "uid " + std::to_string(neuron.uid) + ": installed " + id.repo_id() +
                              "@" + id.commit + " for competition " +
                              std::to_string(id.competition_id));
  }
  return is_new;
}

void ModelManager::record_failure(const Neuron& neuron, const ModelMetadata& model,
                                  const std::string& reason, const std::string& detail) {
  ModelMetadata failed = model;
  failed.content_hash.clear();
  failed.failure = reason + ": " + detail;
  state_.with_trackers([&](ModelTracker& models, CompetitionEmaTracker& ema) {
    const std::optional<ModelMetadata> known = models.model(neuron.hotkey);
    if (known && !known->content_hash.empty()) ema.reset_uid(neuron.uid);  // its model is gone
    models.set_model(neuron.hotkey, failed);
    return 0;
  });
  // Once per change in this process: a failure saved before a restart is
  // logged again once, and an unchanged one on later walks not at all.
  std::string& logged = logged_failure_[neuron.uid];
  if (logged == failed.failure) return;
  logged = failed.failure;
  if (metrics_ != nullptr) metrics_->add_failure(reason);
  log_(reason == "missing-commitment" ? LogLevel::kInfo : LogLevel::kWarn,
       "uid " + std::to_string(neuron.uid) + ": " + failed.failure);
}

size_t ModelManager::cleanup() {
  std::lock_guard<std::mutex> installing(install_mutex_);
  std::map<std::string, std::string> keep;
  const Metagraph metagraph = chain_->metagraph();
  state_.with_trackers([&](ModelTracker& models, CompetitionEmaTracker&) {
    for (const Neuron& neuron : metagraph.neurons) {
      const std::optional<ModelMetadata> model = models.model(neuron.hotkey);
      if (model && !model->content_hash.empty()) keep[neuron.hotkey] = model->content_hash;
    }
    return 0;
  });
  return store_.remove_unreferenced(keep);
}

std::optional<InstalledModel> ModelManager::installed_model(const std::string& hotkey,
                                                            std::string* problem) const {
  const std::optional<ModelMetadata> model = state_.with_trackers(
      [&](ModelTracker& models, CompetitionEmaTracker&) { return models.model(hotkey); });
  if (!model || model->content_hash.empty()) {
    if (problem != nullptr)
      *problem = model && !model->failure.empty() ? model->failure : "no model";
    return std::nullopt;
  }
  std::string store_problem;
  std::optional<InstalledModel> installed =
      store_.find(hotkey, model->content_hash, &store_problem);
  if (problem != nullptr && !installed) {
    *problem = "the installed files: " + store_problem + "; fetched again by the next model sync";
  }
  return installed;
}

void ModelManager::sync_loop() {
  double last_scan = -1e300;
  bool summarized = false;
  do {
    try {
      const SyncReport report = sync_all();
      if (!summarized) {
        log_(LogLevel::kInfo, "first model sync: " + report.summary());
        summarized = true;
      }
      if (now_seconds() - last_scan >= options_.top_miner_scan_seconds) {
        last_scan = now_seconds();
        queue_top_miners();
      }
    } catch (const std::exception& e) {
      log_(LogLevel::kWarn, std::string("model sync: ") + e.what());
    }
  } while (wait(options_.sync_interval_seconds));
}

std::vector<Uid> ModelManager::queue_top_miners() {
  const Metagraph metagraph = chain_->metagraph();
  std::vector<const Neuron*> validators;
  for (const Neuron& n : metagraph.neurons) {
    if (n.validator_permit && !n.weights.empty()) validators.push_back(&n);
  }
  std::stable_sort(validators.begin(), validators.end(),
                   [](const Neuron* a, const Neuron* b) { return a->stake > b->stake; });
  if (validators.size() > options_.top_validators) validators.resize(options_.top_validators);
  std::set<Uid> queued;
  for (const Neuron* v : validators) {
    const auto top = std::max_element(v->weights.begin(), v->weights.end());
    const size_t uid = static_cast<size_t>(top - v->weights.begin());
    if (*top <= 0.0 || uid >= metagraph.neurons.size()) continue;
    const Neuron& miner = metagraph.neurons[uid];
    if (miner.validator_permit || options_.exclude_uids.count(miner.uid)) continue;
    const std::optional<ModelMetadata> model = state_.with_trackers(
        [&](ModelTracker& models, CompetitionEmaTracker&) { return models.model(miner.hotkey); });
    if (!model || model->content_hash.empty()) continue;
    // An installed model's commitment parsed when it was installed.
    state_.add_pending(ModelId::parse(model->commitment).competition_id, miner.uid);
    queued.insert(miner.uid);
  }
  return std::vector<Uid>(queued.begin(), queued.end());
}

void ModelManager::cleanup_loop() {
  while (wait(options_.cleanup_interval_seconds)) {
    try {
      const size_t removed = cleanup();
      if (removed > 0) {
        log_(LogLevel::kInfo, "cleanup: removed " + std::to_string(removed) + " unused models");
      }
    } catch (const std::exception& e) {
      log_(LogLevel::kWarn, std::string("cleanup: ") + e.what());
    }
  }
}

}  // namespace crucible
