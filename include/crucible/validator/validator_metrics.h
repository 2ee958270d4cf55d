// The validator's live counters, read by the status endpoint: the last step,
// models evaluated, failures by reason, queue sizes, the last weights, the
// chain's freshness, the bridge's report, whether the weights reached the
// chain, and the health problems. Every method is thread-safe: the step, the
// model manager, the weight setter and the health monitor update, the status
// server renders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "crucible/validator/bridge_files.h"
#include "crucible/validator/chain.h"
#include "crucible/validator/types.h"

namespace crucible {

class ValidatorMetrics {
 public:
  // The wall clock in unix seconds; injected so tests control time.
  using NowSeconds = std::function<double()>;
  static double wall_now_seconds();

  explicit ValidatorMetrics(NowSeconds now_seconds = wall_now_seconds);

  // At most this many distinct failure reasons are kept; failures with any
  // further reason are counted under kOverflowReason.
  static constexpr size_t kMaxFailureReasons = 64;
  static constexpr const char* kOverflowReason = "other";
  // The reason recorded for add_failure("").
  static constexpr const char* kUnknownReason = "unknown";

  // A step finished (now): `step` and `block` replace the last ones,
  // `seconds` is its duration and `evaluated` is added to the models
  // evaluated total.
  void record_step(int64_t step, Block block, double seconds, uint64_t evaluated);

  // One more failure with this reason ("timeout", "failed", "bad-output",
  // "refused", "crashed", "download-failed", "hash-mismatch", ...). Reasons
  // should come from a small fixed vocabulary: each is a metric label.
  void add_failure(const std::string& reason);

  // The current sizes of the evaluation queues, over all competitions.
  void set_queue_sizes(size_t pending, size_t active);

  // The subnet weights last computed (indexed by uid) and their block.
  void set_weights(Block block, std::vector<double> weights);

  // `started`: the validator loop is running.
  void set_started(bool started);

  // The current health problem of `area` (e.g. "step", "chain"), one line;
  // "" clears it. /healthz answers 503 while any area has one.
  void set_problem(const std::string& area, const std::string& problem);
  // The problems, by area name.
  std::vector<std::string> problems() const;
  bool healthy() const;

  // The chain's freshness as last checked, against the threshold after
  // which it counts as stale.
  void set_chain_freshness(const ChainFreshness& freshness, double stale_after_seconds);
  // The bridge's last report (nullopt: no bridge reports on the chain folder).
  void set_bridge_status(const std::optional<BridgeStatus>& bridge);
  // What became of the weights written (nullopt: unknown).
  void set_weights_delivery(const std::optional<WeightsDelivery>& delivery);

  // Every metric in the Prometheus text exposition format 0.0.4: a `# HELP`
  // and a `# TYPE` line per family, names prefixed "crucible_", label values
  // escaped, non-finite values written NaN / +Inf / -Inf.
  std::string prometheus_text() const;

  // {"block":N,"weights":[...]} with non-finite weights written as 0;
  // {"block":null,"weights":[]} before the first set_weights.
  std::string weights_json() const;

  // The health summary for dashboards, one JSON object (times in unix
  // seconds, null when not known yet):
  //   {"time", "healthy", "problems": [...], "started", "step", "block",
  //    "last_step_time", "step_seconds", "pending", "active",
  //    "chain": {"age_seconds", "stale_after_seconds", "stale", "cause", "last_error"},
  //    "bridge": null | {"time", "last_sync_ok_time", "last_sync_ok_block",
  //                      "last_sync_error", "sync_failures", "weights_enabled",
  //                      "submission_failures"},
  //    "weights": {"block", "written_time", "written_block", "status",
  //                "message", "submitted_time", "submitted_block"}}
  std::string status_json() const;

 private:
  // The chain, bridge and weights delivery families of prometheus_text().
  // Requires mutex_.
  void write_chain_and_bridge(std::string& out) const;
  // The chain's age is past the threshold. Requires mutex_.
  bool chain_stale() const;

  const NowSeconds now_seconds_;
  mutable std::mutex mutex_;
  int64_t step_ = 0;
  std::optional<double> last_step_time_;
  Block block_ = 0;
  double last_step_seconds_ = 0.0;
  uint64_t models_evaluated_total_ = 0;
  std::map<std::string, uint64_t> failures_by_reason_;
  size_t pending_queue_size_ = 0;
  size_t active_queue_size_ = 0;
  std::optional<Block> weights_block_;
  std::vector<double> weights_;
  bool started_ = false;
  std::map<std::string, std::string> problems_;  // area -> problem
  ChainFreshness chain_;
  double chain_stale_after_seconds_ = 0;
  std::optional<BridgeStatus> bridge_;
  std::optional<WeightsDelivery> delivery_;
};

}  // namespace crucible
