// Where miners' models are downloaded from: a Hugging Face-style hub holding
// repositories ("namespace/name") at pinned commits. Implementations: a local
// directory hub (LocalDirectoryHub, for demos and tests) and the HTTPS hub
// (HttpHub, libcurl). The validator receives a ModelHub, so tests swap in a
// misbehaving one.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace crucible {

// Why a model could not be fetched or installed. The reason is a short
// stable code the tracker records and the README explains; what() is one line
// naming the repository (never a token).
class ModelFetchError : public std::runtime_error {
 public:
  // Reasons: "not-found" (repository, commit or file missing), "too-large"
  // (over the competition's byte cap, announced or while downloading),
  // "download-failed" (network, HTTP error, truncated body, timeout after
  // retries), "hash-mismatch" (content does not match the commitment),
  // "bad-files" (an unsafe path, an unexpected file type).
  ModelFetchError(std::string reason, const std::string& message)
      : std::runtime_error(message), reason_(std::move(reason)) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

class ModelHub {
 public:
  virtual ~ModelHub() = default;

  // Writes every file of `repo_id` at `commit` under `destination`, an
  // existing empty folder, keeping the repository's relative paths. Refuses
  // (before downloading where the hub announces sizes, and while downloading)
  // when the total would exceed `max_total_bytes`. Throws ModelFetchError on
  // any failure; the caller removes `destination` then.
  virtual void download(const std::string& repo_id, const std::string& commit,
                        int64_t max_total_bytes, const std::string& destination) = 0;
};

}  // namespace crucible
