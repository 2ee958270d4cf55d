// The validator's live counters, read by the status endpoint: the last step,
// models evaluated, failures by reason, queue sizes, the last weights and two
// health flags. Every method is thread-safe: the step, the model manager and
// the weight setter update, the status server renders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "crucible/validator/types.h"

namespace crucible {

class ValidatorMetrics {
 public:
  // At most this many distinct failure reasons are kept; failures with any
  // further reason are counted under kOverflowReason.
  static constexpr size_t kMaxFailureReasons = 64;
  static constexpr const char* kOverflowReason = "other";
  // The reason recorded for add_failure("").
  static constexpr const char* kUnknownReason = "unknown";

  // A step finished: `step` and `block` replace the last ones, `seconds` is
  // its duration and `evaluated` is added to the models evaluated total.
  void record_step(int64_t step, Block block, double seconds, uint64_t evaluated);

  // One more failure with this reason ("timeout", "failed", "bad-output",
  // "refused", "crashed", "download-failed", "hash-mismatch", ...). Reasons
  // should come from a small fixed vocabulary: each is a metric label.
  void add_failure(const std::string& reason);

  // The current sizes of the evaluation queues, over all competitions.
  void set_queue_sizes(size_t pending, size_t active);

  // The subnet weights last computed (indexed by uid) and their block.
  void set_weights(Block block, std::vector<double> weights);

  // `started`: the validator loop is running. `healthy` (true until set
  // otherwise): /healthz answers 200 while it is true, 503 while false.
  void set_started(bool started);
  void set_healthy(bool healthy);
  bool healthy() const;

  // Every metric in the Prometheus text exposition format 0.0.4: a `# HELP`
  // and a `# TYPE` line per family, names prefixed "crucible_", label values
  // escaped, non-finite values written NaN / +Inf / -Inf.
  std::string prometheus_text() const;

  // {"block":N,"weights":[...]} with non-finite weights written as 0;
  // {"block":null,"weights":[]} before the first set_weights.
  std::string weights_json() const;

 private:
  mutable std::mutex mutex_;
  int64_t step_ = 0;
  Block block_ = 0;
  double last_step_seconds_ = 0.0;
  uint64_t models_evaluated_total_ = 0;
  std::map<std::string, uint64_t> failures_by_reason_;
  size_t pending_queue_size_ = 0;
  size_t active_queue_size_ = 0;
  std::optional<Block> weights_block_;
  std::vector<double> weights_;
  bool started_ = false;
  bool healthy_ = true;
};

}  // namespace crucible
