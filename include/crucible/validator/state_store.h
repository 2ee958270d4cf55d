// Crash-safe persistence of the ValidatorState in versioned generation
// folders, which survives a damaged file by falling back, part by part, to an
// older generation.
//
//   DIR/CURRENT              the name of the live generation ("state-000042")
//   DIR/state-000042/        queues.json, ema.json, models.json, meta.json
//   DIR/state-000041/        the two generations before it, kept as fallbacks
//   DIR/state-000040/
//
// meta.json holds the format version, the validator's step number at the
// save (so that a restart never reuses a step number even when the process
// died between the save and the step's line in metrics.jsonl) and the
// SHA-256 (lowercase hex) of each part file's bytes:
//   {"format_version":1,"sha256":{"ema.json":"…","models.json":"…",
//    "queues.json":"…"},"step":42}
// Generations written before the checksums have no "sha256"; their parts are
// checked by parsing only.
//
// A part file is intact when it exists, can be read, parses as a JSON object,
// ValidatorState::restore accepts it and, when its generation's meta.json is
// intact and lists a checksum for it, its bytes have that checksum. A
// meta.json is intact when it parses, holds an integer "format_version", an
// integer "step" (or none: step 0) and, if any, a "sha256" object of strings.
//
// save() writes a new generation folder (each file fsync'd, meta.json last),
// renames it into place, then switches CURRENT atomically: a crash at any
// instant leaves CURRENT naming the last complete save. load() never deletes
// anything: an incompatible generation or a damaged file is moved aside
// (kept for inspection) and reported.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "crucible/validator/validator_state.h"

namespace crucible {

class StateStore {
 public:
  static constexpr int kFormatVersion = 1;
  // Generations save() leaves on disk: the new one and the two before it.
  static constexpr int kGenerationsKept = 3;

  // Called with the name of each write step before it runs; a test throws
  // from it to simulate a crash at that point.
  using CrashPoint = std::function<void(const std::string& step)>;

  explicit StateStore(std::string directory, CrashPoint crash_point = {});

  // Writes the state of `step` as a new generation, with the checksums of its
  // parts in meta.json, and makes it current. Keeps the new generation and
  // the two before it (CURRENT's at the call and the newest one older than
  // that); removes other generations and what failed or killed saves left
  // unfinished (generation temp folders, CURRENT.tmp.* files). Throws
  // std::runtime_error naming the file and the reason on failure, leaving the
  // previous generation current.
  void save(const ValidatorState& state, int64_t step = 0);

  // The largest step among the intact meta.json files of the generations
  // load() would read (CURRENT's and the older ones); 0 when there is none
  // or none was saved with a step. Reads only: moves nothing.
  int64_t saved_step() const;

  // Where a part of the state was loaded from.
  struct PartSource {
    std::string part;        // "queues.json", "ema.json" or "models.json"
    std::string generation;  // the generation it was loaded from; "" when fresh
    int64_t step = 0;        // that generation's step (0: unknown or saved without one)
    bool fresh = false;      // no generation had it intact: the part was left as it was
  };

  struct LoadReport {
    bool fresh = true;       // no part was loaded
    std::string generation;  // the newest generation a part was loaded from ("" when fresh)
    int64_t step = 0;        // its step (0: unknown or saved without one)
    // One entry per part (queues.json, ema.json, models.json, in that order)
    // when a state existed; empty on a first start.
    std::vector<PartSource> parts;
    // Warn-level lines: what was damaged or incompatible, where it was moved,
    // and which older generation a part was restored from, with what was lost.
    std::vector<std::string> warnings;
    // Error-level lines: a part that started fresh although a state existed.
    std::vector<std::string> errors;
    // A state existed but ema.json did not come from the current generation
    // (it was restored from an older one, or started fresh): the caller holds
    // weights until a full window is scored.
    bool ema_restored_or_fresh = false;
  };

  // Restores `state`. The current generation is the one CURRENT names (a
  // CURRENT that names no generation is moved aside and reported; a missing
  // CURRENT is silent), else the newest generation folder. Each part is
  // loaded from the first generation, in the order current, then older ones
  // by number (newest first), where it is intact; a damaged part file met on
  // the way is moved aside and reported. A damaged meta.json is moved aside
  // too: its generation's step is unknown (0) and its parts are checked by
  // parsing only. A generation of another format version is moved aside
  // whole and skipped. A part no generation has intact is left as it is in
  // `state` (fresh) and reported in `errors`.
  //
  // A folder that is missing, or holds neither CURRENT nor a generation, is
  // a first start: fresh, nothing reported.
  // Every message is one line of valid UTF-8 without control characters
  // (what came from the files is never quoted raw). Throws only when the
  // folder cannot be listed.
  LoadReport load(ValidatorState& state);

 private:
  std::string path(const std::string& name) const;
  void crash_point(const std::string& step) const;
  // The generations load() reads, in its order: the current one (which may
  // be missing when CURRENT names a folder that is gone), then the older
  // folders by number, newest first. With a report, a CURRENT naming nothing
  // is moved aside and reported; without one, nothing is touched.
  std::vector<std::string> generations(LoadReport* report) const;
  // Renames `name` to the first free "label", "label.1", ...; says where.
  std::string move_aside(const std::string& name, const std::string& label) const;

  std::string directory_;
  CrashPoint crash_point_;
};

}  // namespace crucible
