// The background service that keeps miners' models current: it walks the
// metagraph's miners, reads their commitments, downloads a changed model into
// the store, records it in the tracker (or the reason it failed) and queues
// its uid for its competition; a second thread removes models no longer
// tracked. A miner that fails is recorded and skipped; the walk goes on. Each
// miner's failure is logged once per change (a missing commitment at debug,
// the others at warn), and the first walk ends with a summary line.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "crucible/validator/chain.h"
#include "crucible/validator/competition_schedule.h"
#include "crucible/validator/disk_model_store.h"
#include "crucible/validator/log.h"
#include "crucible/validator/model_hub.h"
#include "crucible/validator/validator_metrics.h"
#include "crucible/validator/validator_state.h"

namespace crucible {

struct ModelManagerOptions {
  double sync_interval_seconds = 30.0;  // between walks over the miners
  // An unchanged commitment is looked at again after this; at the next walk
  // when its installed files are gone or damaged on disk.
  double retry_seconds = 600.0;
  double cleanup_interval_seconds = 300.0;
  double top_miner_scan_seconds = 600.0;  // between queue_top_miners() calls of the sync thread
  size_t top_validators = 3;              // the highest-stake validators whose weights count
  std::set<Uid> exclude_uids;             // never synced nor evaluated
};

// What one walk over the miners found.
struct SyncReport {
  size_t miners = 0;                       // neurons without a validator permit, not excluded
  size_t excluded = 0;                     // miners skipped by exclude_uids
  size_t installed = 0;                    // miners whose current model is installed
  size_t changed = 0;                      // models installed or changed by this walk
  std::map<std::string, size_t> failures;  // miners without a model, by reason

  // "8 miners, 3 models installed, 5 failed (download-failed 2, not-found 3)"
  // (", 1 excluded" when some were).
  std::string summary() const;
};

class ModelManager {
 public:
  // Everything is borrowed and must outlive the manager. `metrics` may be null.
  ModelManager(std::shared_ptr<Chain> chain, ModelHub& hub, DiskModelStore& store,
               ValidatorState& state, const CompetitionSchedule& schedule,
               ModelManagerOptions options, Log log, ValidatorMetrics* metrics);
  ~ModelManager();  // stop()

  // Starts the sync thread (its first walk is immediate) and the cleanup thread.
  void start();
  // Wakes and joins both threads; a download in flight finishes first.
  void stop();

  // One walk over the miners (what the sync thread does each interval).
  // Throws ChainError when the chain cannot be read (the thread logs it and
  // tries again).
  SyncReport sync_all();

  // Queues, for its competition, the miner each of the `top_validators`
  // highest-stake validators weights most (from the metagraph's weight rows),
  // when that miner has an installed model: a model the subnet rates highly is
  // re-evaluated even if this validator dropped it. Returns the uids queued.
  std::vector<Uid> queue_top_miners();

  // Removes every stored model the tracker does not reference; returns how many.
  size_t cleanup();

  // The installed model of the hotkey's current commitment, if any and intact
  // on disk (DiskModelStore::find). `problem` (when given) receives why not in
  // one line; a model damaged or deleted on disk is fetched again by the next
  // sync.
  std::optional<InstalledModel> installed_model(const std::string& hotkey,
                                                std::string* problem = nullptr) const;

  // The uids never synced nor evaluated (options.exclude_uids).
  const std::set<Uid>& excluded_uids() const { return options_.exclude_uids; }

 private:
  // Syncs one miner; true when its model is new or changed.
  bool sync_miner(const Neuron& neuron, const std::optional<Commitment>& commitment, Block block,
                  double now);
  void record_failure(const Neuron& neuron, const ModelMetadata& model, const std::string& reason,
                      const std::string& detail);
  void sync_loop();
  void cleanup_loop();
  bool wait(double seconds);  // false when stopping

  std::shared_ptr<Chain> chain_;
  ModelHub& hub_;
  DiskModelStore& store_;
  ValidatorState& state_;
  const CompetitionSchedule& schedule_;
  ModelManagerOptions options_;
  Log log_;
  ValidatorMetrics* metrics_;

  // The sync thread's own, per uid: when it was last synced, and the failure
  // this process last logged for it (cleared when a model is installed).
  std::map<Uid, double> last_attempt_;
  std::map<Uid, std::string> logged_failure_;

  std::mutex install_mutex_;  // an install and its tracker record vs a cleanup
  std::mutex mutex_;          // stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread sync_thread_;
  std::thread cleanup_thread_;
};

}  // namespace crucible
