// A ModelHub over a local folder, for demos and tests. A repository
// "namespace/name" at a commit is the folder
//
//   ROOT/<namespace>/<name>/<commit>/   model.pt or config.json + model.safetensors, any subfolders
//
// The repository id and commit come from the chain, that is from miners, so
// they are checked before any path is built: nothing outside ROOT is read.
#pragma once

#include <cstdint>
#include <string>

#include "crucible/validator/model_hub.h"

namespace crucible {

class LocalDirectoryHub : public ModelHub {
 public:
  explicit LocalDirectoryHub(std::string root);

  // Copies every regular file of the commit folder (recursively, relative
  // paths kept, files whose names start with '.' included) into `destination`.
  // Throws ModelFetchError with reason:
  //  - "bad-files": the namespace, name or commit is empty, starts with '.',
  //    or holds a character outside [A-Za-z0-9._-]; the repository id is not
  //    exactly "namespace/name"; a folder on the way or a file in the
  //    repository is a symlink, device, fifo or socket (checked before copying).
  //  - "not-found": the namespace, name or commit folder does not exist.
  //  - "too-large": the files' total size exceeds `max_total_bytes` (checked
  //    before copying, and again while copying in case a file grew).
  //  - "download-failed": a file cannot be read or written.
  // Safe to call from several threads at once.
  void download(const std::string& repo_id, const std::string& commit, int64_t max_total_bytes,
                const std::string& destination) override;

 private:
  std::string root_;
};

}  // namespace crucible
