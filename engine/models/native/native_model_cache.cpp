#include "crucible/engine/models/native/native_model_cache.h"

#include <sys/stat.h>

#include <vector>

#include "crucible/common/model_files.h"

namespace crucible {
namespace {

NativeModelCache::FileStamp file_stamp(const std::string& path) {
  struct stat info;
  NativeModelCache::FileStamp stamp;
  if (::stat(path.c_str(), &info) != 0) return stamp;
  stamp.inode = static_cast<long long>(info.st_ino);
  stamp.size = static_cast<long long>(info.st_size);
  stamp.modified_ns = static_cast<long long>(info.st_mtim.tv_sec) * 1000000000LL +
                      static_cast<long long>(info.st_mtim.tv_nsec);
  return stamp;
}

long long bytes_of(const NativeWeights& weights) {
  long long bytes = 0;
  for (const auto& [name, tensor] : weights) bytes += static_cast<long long>(tensor.nbytes());
  return bytes;
}

}  // namespace

NativeModelCache::FolderStamp NativeModelCache::stamp_of(const std::string& folder) {
  FolderStamp stamp;
  try {
    for (const RepositoryFile& file : list_repository_files(folder)) {
      stamp.files.emplace_back(file.relative_path, file_stamp(folder + "/" + file.relative_path));
    }
    stamp.listed = true;
  } catch (const RepositoryFilesError&) {
    stamp.files.clear();
  }
  return stamp;
}

NativeModelInspection NativeModelCache::inspect(const std::string& folder,
                                                const ModelLimits& limits) {
  const FolderStamp stamp = stamp_of(folder);
  const auto found = inspected_.find(folder);
  if (found != inspected_.end() && found->second.stamp == stamp &&
      found->second.max_file_bytes == limits.max_file_bytes &&
      found->second.max_parameters == limits.max_parameters) {
    return found->second.inspection;
  }
  Inspected entry;
  entry.inspection = inspect_native_model(folder, limits, InspectionDepth::kHeader);
  // Stamped before reading: a file replaced during the inspection is seen
  // as changed at the next call.
  entry.stamp = stamp;
  entry.max_file_bytes = limits.max_file_bytes;
  entry.max_parameters = limits.max_parameters;
  inspected_[folder] = entry;
  return entry.inspection;
}

std::shared_ptr<const NativeWeights> NativeModelCache::weights(const std::string& folder,
                                                               const NativeConfig& config,
                                                               const c10::Device& device) {
  const FolderStamp stamp = stamp_of(folder);
  const std::string key = device.str() + "|" + folder;
  const auto found = resident_.find(key);
  if (found != resident_.end()) {
    if (found->second.stamp == stamp) {
      found->second.last_used = ++clock_;
      return found->second.weights;
    }
    resident_bytes_ -= found->second.bytes;
    resident_.erase(found);
  }
  auto loaded = std::make_shared<const NativeWeights>(
      load_native_weights(config, folder, device, &bytes_read_));
  const long long bytes = bytes_of(*loaded);
  // Kept only if it fits once the entries this round has not used are
  // evicted: a round over more models than fit then keeps a stable set
  // resident instead of evicting each model just before its next use.
  if (evict_until(budget_bytes_ - bytes, round_start_)) {
    resident_[key] = Resident{stamp, loaded, bytes, ++clock_};
    resident_bytes_ += bytes;
  }
  return loaded;
}

void NativeModelCache::begin_round() { round_start_ = clock_ + 1; }

void NativeModelCache::set_budget_bytes(long long budget_bytes) {
  budget_bytes_ = budget_bytes;
  evict_until(budget_bytes_, clock_ + 1);
}

bool NativeModelCache::evict_until(long long bytes, uint64_t used_before) {
  while (resident_bytes_ > bytes) {
    auto oldest = resident_.end();
    for (auto it = resident_.begin(); it != resident_.end(); ++it) {
      if (it->second.last_used < used_before &&
          (oldest == resident_.end() || it->second.last_used < oldest->second.last_used)) {
        oldest = it;
      }
    }
    if (oldest == resident_.end()) return false;
    resident_bytes_ -= oldest->second.bytes;
    resident_.erase(oldest);
  }
  return true;
}

}  // namespace crucible
