// The recent steps of a validator, for charts: reads the last step records
// of <state-dir>/metrics.jsonl (see step_report.h) from the end of the file
// and turns them into one series document whose arrays align with "steps":
//
//   {"steps": [...], "times": [...], "blocks": [...], "competition_ids": [...],
//    "seconds": [...], "pending": [...], "active": [...],
//    "uids": [the uids seen in the window, ascending],
//    "series": {"<uid>": {"hotkey": its last hotkey, "ema": [...],
//               "weight": [...], "mean_loss": [...], "composite": [...]}},
//    "failures": {"<status>": [models with that status, per step]},
//    "current_weights": [the last step's subnet_weights],
//    "miners": [the last step's row of every miner: {"uid", "hotkey", "model",
//               "status", "reason", "ema", "weight"}],
//    "skipped_lines": K, "total_steps_in_window": n}
//
// A value a step does not hold is null: a uid it did not evaluate, a null
// number, and "seconds", "pending" and "active" of lines written before
// those fields existed. "failures" has one key per status other than "ok"
// seen in the window other than "waiting" (installed, run in another step),
// 0 in the steps without it. "times" are the steps' unix times (null in
// lines written before they were recorded).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crucible/validator/status_server.h"

namespace crucible {

struct StepRecords {
  std::vector<nlohmann::ordered_json> records;  // step records, oldest first
  // Lines read on the way that are not step records: not JSON, not an object
  // with an integer "step", over kMaxStepLineBytes, or a last line without
  // its newline (cut by a crash, or still being written). Blank lines are
  // ignored.
  size_t skipped_lines = 0;
};

// metrics.jsonl is rotated by size: the current file, then PATH.1 (the
// previous one) up to PATH.<kRotatedStepLogs> (the oldest kept).
constexpr int kRotatedStepLogs = 3;

// Renames PATH.<k> to PATH.<k+1> (the oldest is replaced) and PATH to
// PATH.1, so the next append starts a new PATH. Missing files are skipped.
// Throws std::runtime_error naming the file that cannot be renamed.
void rotate_step_log(const std::string& path);

// A longer line is skipped unread (a step of 256 models is ~100 KB).
constexpr size_t kMaxStepLineBytes = 16 << 20;

// The last `max_steps` step records of the metrics.jsonl at `path` and its
// rotated files (PATH.1, ...), read backwards from the end in blocks until
// that many are found or the oldest file's start: O(bytes of the lines
// read), whatever the files' length. A missing file has no records. Throws std::runtime_error
// ("<path>: cannot read") when the file exists but cannot be read.
StepRecords read_last_step_records(const std::string& path, size_t max_steps);

// The series document above for `records`; never throws on odd records
// (a field of the wrong type reads as null). O(steps x uids).
nlohmann::ordered_json step_history_document(const StepRecords& records);

// GET /history.json?steps=N on the status endpoint: the series document of
// the last N steps of the metrics.jsonl at `metrics_path` (N defaults to
// kDefaultHistorySteps and is clamped to [1, kMaxHistorySteps]); 400 when
// N is not a whole number. Other query parameters are ignored.
constexpr size_t kDefaultHistorySteps = 500;
constexpr size_t kMaxHistorySteps = 10000;
StatusRoute step_history_route(const std::string& metrics_path);

}  // namespace crucible
