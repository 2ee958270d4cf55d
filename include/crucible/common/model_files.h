// A model repository's files as a validator counts them, and the words of the
// size refusal. The hubs (before a download), the inspections, `crucible
// models inspect` and `crucible eval` all count the same bytes, every file of
// the repository, and refuse with the same sentence, so a miner reads locally
// what a validator will say.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace crucible {

struct RepositoryFile {
  std::string relative_path;  // '/'-separated, inside the folder
  int64_t size = 0;
};

// A folder that cannot be counted: a link or special file in it ("bad-files"),
// or a listing that failed ("unreadable"). what() is one line naming the file.
class RepositoryFilesError : public std::runtime_error {
 public:
  RepositoryFilesError(std::string kind, const std::string& message)
      : std::runtime_error(message), kind_(std::move(kind)) {}
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
};

// The folders a hub's file list never holds, so they are not counted: `.git`
// (a clone's history) and `.cache` (what `hf download --local-dir` keeps).
bool is_local_only_folder(const std::string& top_level_name);

// Every regular file under `folder`, sorted by relative path, except those
// under a top-level local-only folder. Throws RepositoryFilesError for a
// link or special file anywhere counted, or a folder that cannot be listed.
std::vector<RepositoryFile> list_repository_files(const std::string& folder);

int64_t total_bytes(const std::vector<RepositoryFile>& files);

// The refusal of a repository whose files total `bytes` over `limit`:
// "the repository's files total 57266432 bytes (54.6 MiB), over the limit of
// 52428800 bytes (50.0 MiB)". Empty when bytes <= limit.
std::string repository_size_reason(int64_t bytes, int64_t limit);

// What a model folder holds, judged by its top-level file names, the same way
// by the validator's model store, `crucible models inspect` and `crucible eval`.
enum class ModelLayout {
  kTorchScript,  // model.pt
  kNative,       // config.json + model.safetensors, or + model.safetensors.index.json (sharded)
  kUnsupported,  // neither; model_layout_reason says what was found and what to do
};

ModelLayout model_layout(const std::string& folder);

// Why `folder` has no layout the engine runs, with the fix, in one line:
// "pytorch_model.bin is a pickle, which validators never load: re-save the
// model with save_pretrained(DIR, safe_serialization=True)", ... ; "" when
// it has one.
std::string model_layout_reason(const std::string& folder);

}  // namespace crucible
