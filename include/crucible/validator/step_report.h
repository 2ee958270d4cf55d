// What a step shows: the console table and the metrics.jsonl line
// ({"step", "block", "competition_id", "seed", "seconds", "pending", "active",
// "models": [{"uid", "hotkey", "status", "reason", "mean_loss", "win_rate",
// "composite", "ema", "weight"}], "subnet_weights": [...]}; "seconds" is the
// step's duration, "pending" and "active" the queue sizes after it). Pure
// formatting, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "crucible/validator/types.h"

namespace crucible {

struct StepReportRow {
  Uid uid = 0;
  std::string hotkey;
  std::string model;   // repo id @ commit, or "-"
  std::string status;  // ok, refused, failed, timeout, crashed, bad-output, not-installed
  std::string reason;
  double mean_loss = 0.0;
  double win_rate = 0.0;
  double composite = 0.0;
  double ema = 0.0;  // NaN when none
  double weight = 0.0;
};

struct StepReport {
  int64_t step = 0;
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

// A fixed-width table, rows by weight then composite (best first), with a
// header line naming the step, block, competition and seed.
std::string format_step_table(const StepReport& report);

// One JSON line without the trailing newline; non-finite numbers are null.
// Each model's "reason" is kept to 300 bytes, and bytes that are not UTF-8
// (a model's own error text may hold any) are replaced by U+FFFD.
std::string step_metrics_line(const StepReport& report);

}  // namespace crucible
