// Crash-safe persistence of the ValidatorState in one versioned folder.
//
//   DIR/CURRENT              the name of the live generation ("state-000042")
//   DIR/state-000042/        meta.json, queues.json, ema.json, models.json
//
// meta.json holds the format version and the validator's step number at the
// save, so that a restart never reuses a step number even when the process
// died between the save and the step's line in metrics.jsonl.
//
// save() writes a new generation folder (each file fsync'd), renames it into
// place, then switches CURRENT atomically: a crash at any instant leaves
// CURRENT naming the last complete save. load() never deletes anything: an
// incompatible generation or a corrupt file is moved aside and reported.
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

  // Called with the name of each write step before it runs; a test throws
  // from it to simulate a crash at that point.
  using CrashPoint = std::function<void(const std::string& step)>;

  explicit StateStore(std::string directory, CrashPoint crash_point = {});

  // Writes the state of `step` as a new generation and makes it current;
  // removes generations older than the previous one and what failed or
  // killed saves left unfinished. Throws std::runtime_error naming the file
  // and the reason on failure, leaving the previous generation current.
  void save(const ValidatorState& state, int64_t step = 0);

  // The step recorded in the current generation; 0 when there is none, or it
  // is unreadable, or it was saved without a step. Reads only: moves nothing.
  int64_t saved_step() const;

  struct LoadReport {
    bool fresh = true;                  // nothing (usable) was loaded
    std::string generation;             // the generation loaded from
    int64_t step = 0;                   // the step it was saved at (0: unknown)
    std::vector<std::string> warnings;  // one line each: what was moved aside and why
  };

  // Restores `state` from the current generation: a missing folder is a fresh
  // start; a generation of another format version is moved aside whole and
  // the start is fresh; a corrupt document is moved aside and its part of the
  // state starts fresh while the rest loads.
  LoadReport load(ValidatorState& state);

 private:
  std::string path(const std::string& name) const;
  void crash_point(const std::string& step) const;
  // The generation to load ("" for none). With a report, a CURRENT naming
  // nothing is moved aside and reported; without one, nothing is touched.
  std::string current_generation(LoadReport* report) const;
  std::string move_aside(const std::string& name, const std::string& label) const;

  std::string directory_;
  CrashPoint crash_point_;
};

}  // namespace crucible
