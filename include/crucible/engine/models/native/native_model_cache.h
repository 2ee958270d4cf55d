// Native models kept between rounds, so that a round reads only what
// changed: each folder's inspection (header-only: the values are checked as
// they load) until its files change, and its weights on the device, within a
// byte budget, the least recently used evicted first (but none that the
// current round has used). The folder has changed when a file of it (every
// file counts: the size verdict adds them all, and the weights may be
// shards) appeared, went, or changed its inode, size or modification time
// (the model store installs a new version as a new folder). The validator's evaluator keeps one for
// its lifetime; a one-shot run (crucible eval) uses one for the run. One round at a time: not
// thread-safe.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crucible/engine/models/native/native_forecaster.h"
#include "crucible/engine/models/native/native_model.h"

namespace crucible {

class NativeModelCache {
 public:
  // budget_bytes: the weights kept on devices between uses (0 = none kept).
  explicit NativeModelCache(long long budget_bytes = 0) : budget_bytes_(budget_bytes) {}

  // The header-only inspection of `folder` under `limits`, from the cache
  // while its files are unchanged.
  NativeModelInspection inspect(const std::string& folder, const ModelLimits& limits);

  // The weights of `folder` (accepted by inspect with `config`) on `device`:
  // resident ones while the files are unchanged, else loaded
  // (load_native_weights: throws as it does) and kept within the
  // budget. The pointer stays valid after an eviction.
  std::shared_ptr<const NativeWeights> weights(const std::string& folder,
                                               const NativeConfig& config,
                                               const c10::Device& device);

  // Weight bytes read from model files so far, and the bytes resident now.
  long long bytes_read() const { return bytes_read_; }
  long long resident_bytes() const { return resident_bytes_; }

  // Marks the start of a round: weights used since are not evicted to make
  // room for others of the same round.
  void begin_round();

  // A new budget; weights over it are evicted, least recently used first.
  void set_budget_bytes(long long budget_bytes);

  // A file's identity: inode, size and modification time (all -1 when absent).
  struct FileStamp {
    long long inode = -1, size = -1, modified_ns = -1;
    bool operator==(const FileStamp& other) const {
      return inode == other.inode && size == other.size && modified_ns == other.modified_ns;
    }
  };

 private:
  // Every file of a folder, as list_repository_files lists them; a folder
  // that cannot be listed (listed false) never equals another stamp.
  struct FolderStamp {
    bool listed = false;
    std::vector<std::pair<std::string, FileStamp>> files;  // relative path -> stamp
    bool operator==(const FolderStamp& other) const {
      return listed && other.listed && files == other.files;
    }
  };
  struct Inspected {
    FolderStamp stamp;
    long long max_file_bytes = 0, max_parameters = 0;
    NativeModelInspection inspection;
  };
  struct Resident {
    FolderStamp stamp;
    std::shared_ptr<const NativeWeights> weights;
    long long bytes = 0;
    uint64_t last_used = 0;
  };

  static FolderStamp stamp_of(const std::string& folder);
  // Evicts entries last used before `used_before`, least recently used
  // first, until at most `bytes` stay resident; false when that is not
  // reached.
  bool evict_until(long long bytes, uint64_t used_before);

  long long budget_bytes_;
  long long bytes_read_ = 0;
  long long resident_bytes_ = 0;
  uint64_t clock_ = 0;                          // counts uses
  uint64_t round_start_ = 0;                    // the first use of the current round
  std::map<std::string, Inspected> inspected_;  // by folder
  std::map<std::string, Resident> resident_;    // by device + "|" + folder
};

}  // namespace crucible
