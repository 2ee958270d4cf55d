// The runs of one competition's current task window, kept in memory: a model
// that joins the window is run alone and scored against these without
// running them again. Keyed by uid and the model's content hash, so a changed
// model is never matched with an old run. Not persisted: after a restart the
// validator runs the window's earlier models again when it needs them (their
// EMAs do not move again).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "crucible/validator/round_evaluator.h"

namespace crucible {

class WindowRuns {
 public:
  // Forgets every run when (window, seed) differ from the last call's.
  void start(Block window, uint64_t seed) {
    if (window == window_ && seed == seed_) return;
    window_ = window;
    seed_ = seed;
    runs_.clear();
  }

  // The run of `uid` with this content hash, or null.
  const ModelLosses* find(Uid uid, const std::string& content_hash) const {
    const auto r = runs_.find(uid);
    return r == runs_.end() || r->second.first != content_hash ? nullptr : &r->second.second;
  }

  void put(const std::string& content_hash, ModelLosses run) {
    const Uid uid = run.uid;
    runs_[uid] = {content_hash, std::move(run)};
  }

 private:
  Block window_ = -1;
  uint64_t seed_ = 0;
  std::map<Uid, std::pair<std::string, ModelLosses>> runs_;
};

}  // namespace crucible
