// What a step shows: the console table and the metrics.jsonl line
// ({"step", "time", "block", "window", "competition_id", "seed", "seed_text",
// "seconds", "weight_bytes_read", "pending", "active",
// "models": [{"uid", "hotkey", "model", "status", "reason", "mean_loss",
// "win_rate", "composite", "ema", "weight"}], "subnet_weights": [...]};
// "time" is when the step ended (unix seconds), "seconds" its duration, "pending" and "active" the
// queue sizes after it; "seed_text" is the seed in decimal as a string, for readers whose numbers
// are doubles (jq, JavaScript) and would round "seed" above 2^53). "models" has a row for every
// miner: those run in the step and, with the status they are in, all the others. Pure formatting,
// no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crucible/validator/model_tracker.h"
#include "crucible/validator/types.h"

namespace crucible {

struct StepReportRow {
  Uid uid = 0;
  std::string hotkey;
  std::string model;  // repo id @ commit, or "-"
  // Run in the step: ok, refused, failed, timeout, crashed, bad-output,
  // not-installed. Not run: "waiting" (installed; run in another step) or
  // the reason its model could not be fetched ("missing-commitment",
  // "bad-commitment", "not-found", "hash-mismatch", ...), see miner_row().
  std::string status;
  std::string reason;
  double mean_loss = 0.0;
  double win_rate = 0.0;
  double composite = 0.0;
  double ema = 0.0;  // NaN when none
  double weight = 0.0;
};

struct StepReport {
  int64_t step = 0;
  double time = 0;  // when the step ended, unix seconds
  Block block = 0;
  Block window = 0;  // the task window's first block (the seed's block)
  CompetitionId competition_id = 0;
  uint64_t seed = 0;
  double seconds = 0.0;
  long long weight_bytes_read = 0;  // native model weights read from files in the step
  size_t pending = 0;               // queue sizes after the step, over all competitions
  size_t active = 0;
  std::vector<StepReportRow> rows;
  std::vector<double> subnet_weights;
};

// "namespace/name@commit8" of a model's commitment, or "-".
std::string model_label(const std::optional<ModelMetadata>& model);

// The row of a miner whose model was not run in the step: "not-installed"
// when `reason` is given (it was due but its files are missing), else from
// what the tracker knows: its fetch failure ("<status>: <detail>"),
// "waiting" when it is installed, "unknown" when the model manager has not
// looked at it yet. Losses are +inf, scores 0.
StepReportRow miner_row(Uid uid, const std::string& hotkey,
                        const std::optional<ModelMetadata>& model, const std::string& reason = "");

// A fixed-width table, rows by weight then composite (best first), with a
// header line naming the step, block, competition and seed.
std::string format_step_table(const StepReport& report);

// One JSON line without the trailing newline; non-finite numbers are null.
// Each model's "reason" is kept to 300 bytes, and bytes that are not UTF-8
// (a model's own error text may hold any) are replaced by U+FFFD.
std::string step_metrics_line(const StepReport& report);

}  // namespace crucible
