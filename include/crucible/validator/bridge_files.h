// The two files the chain bridge (bridge/, `python -m crucible_bridge`)
// writes into a local chain folder about itself, as the validator reads
// them:
//
//   DIR/bridge.json   rewritten (atomically) after every sync and every
//                     weights poll: {"version": 1, "pid", "time", "started",
//                     "sync": {"interval_seconds", "last_attempt_time",
//                              "last_ok_time", "last_ok_block", "last_error",
//                              "consecutive_failures"},
//                     "weights": {"enabled", "hotkey", "last_poll_time",
//                                 "pending", "consecutive_failures",
//                                 "last_submission"}}
//   DIR/weights-submitted.jsonl
//                     one record per outcome of a weights.jsonl line:
//                     {"key", "line", "entry_block", "block", "success",
//                      "status", "message", "time"}; "key" is
//                     weights_line_key() of the line
//
// Unknown keys are ignored; a field of the wrong type reads as absent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crucible/validator/types.h"

namespace crucible {

// bridge.json, the fields the validator uses.
struct BridgeStatus {
  double time = 0;  // when the bridge wrote the file (its heartbeat), unix seconds
  std::optional<double> last_sync_ok_time;  // the last sync that wrote the chain files
  std::optional<Block> last_sync_ok_block;
  std::string last_sync_error;      // "" when the last sync went fine
  int64_t sync_failures = 0;        // syncs failed in a row
  bool weights_enabled = false;     // the bridge submits weights (it has a wallet)
  int64_t submission_failures = 0;  // set-weights calls failed in a row
};

// DIR/bridge.json, or nullopt when there is none (no bridge writes this
// folder). Throws std::runtime_error ("<path>: ...") when it cannot be read
// or is not a JSON object with a number "time".
std::optional<BridgeStatus> read_bridge_status(const std::string& path);

// One record of weights-submitted.jsonl.
struct SubmissionRecord {
  std::string key;     // weights_line_key() of the line it is about ("" in old records)
  std::string status;  // "submitting", "submitted", "failed", "superseded", ...
  std::string message;
  std::optional<Block> block;  // the chain block at submission, when known
  double time = 0;
};

// The complete records in the last `max_bytes` of weights-submitted.jsonl
// at `path`, oldest first; lines that are not JSON objects are skipped. A
// missing file has none. Throws std::runtime_error when it cannot be read.
std::vector<SubmissionRecord> read_last_submissions(const std::string& path,
                                                    size_t max_bytes = 256 * 1024);

// How the bridge names a weights.jsonl line: "sha256:" and the lowercase hex
// SHA-256 of the line's bytes without its newline.
std::string weights_line_key(const std::string& line);

}  // namespace crucible
