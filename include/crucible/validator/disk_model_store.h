// The validator's on-disk store of miners' models: per hotkey, one folder per
// model named by the model's content hash.
//
//   ROOT/<hotkey>/<path-safe content hash>/   model.pt (TorchScript), or config.json +
//                                             model.safetensors (native), and other files
//   ROOT/<hotkey>/<path-safe content hash>.stamps.json
//                                             size and modification time of each file,
//                                             recorded at install (see find())
//   ROOT/.tmp/<random>/                       downloads in progress
//
// install() downloads into .tmp, verifies, then renames the folder into place:
// a model folder is either absent or complete, also after a crash.
// remove_unreferenced() deletes the models the validator no longer tracks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "crucible/validator/model_hub.h"
#include "crucible/validator/model_id.h"

namespace crucible {

struct InstalledModel {
  std::string hotkey;
  std::string content_hash;  // base64, as content_hash() returns it
  std::string directory;     // ROOT/<hotkey>/<path-safe content hash>
  std::string model_path;    // directory + "/model.pt", or the directory for a native model
};

// Thread-safety: install() for different hotkeys, find() and
// remove_unreferenced() may run concurrently; a cleanup never deletes the
// temporary folder of an install in flight, nor a folder being renamed in.
class DiskModelStore {
 public:
  // Opens the store at `root`, creating `root` and `root/.tmp` when missing.
  // Throws std::runtime_error naming the folder when it cannot.
  explicit DiskModelStore(std::string root);

  DiskModelStore(const DiskModelStore&) = delete;
  DiskModelStore& operator=(const DiskModelStore&) = delete;

  // Downloads `id` from `hub` (at most `max_total_bytes`) and installs it for
  // `hotkey`. Requires a regular file model.pt, or regular files config.json
  // and model.safetensors, at the top level; when
  // id.secure_hash is non-empty, requires secure_hash(content hash, hotkey) to
  // equal it. Installing content already present is a no-op that returns it.
  // Throws ModelFetchError: "bad-files" for an invalid hotkey (see
  // is_valid_hotkey), neither model file at the top level, a file that is not a regular file
  // or folder; "hash-mismatch"; and whatever the hub throws. Throws
  // std::runtime_error naming the path when the local file system fails. On
  // any failure nothing of this install remains in the store.
  InstalledModel install(const std::string& hotkey, const ModelId& id, ModelHub& hub,
                         int64_t max_total_bytes);

  // The installed model of `hotkey` with `content_hash`, if present and
  // intact. Intact means the folder's files have the sizes and modification
  // times recorded at install (a stat per file); when they differ (or no
  // record exists) the files are hashed again and accepted, with a new
  // record, only when they still have `content_hash`. A model deleted,
  // truncated or rewritten on disk is therefore not found, and `problem`
  // (when given) receives why in one line ("" when found); install() then
  // replaces it. Throws ModelFetchError("bad-files") for an invalid hotkey or
  // a content hash that is not base64.
  std::optional<InstalledModel> find(const std::string& hotkey, const std::string& content_hash,
                                     std::string* problem = nullptr) const;

  // Deletes every model folder (and its stamps) except keep[hotkey] (hotkey -> content hash),
  // every hotkey folder left with nothing kept, and every leftover .tmp entry
  // of no install in flight. Entries of ROOT whose names are not hotkeys are
  // left alone. Returns the number of model folders removed. Throws
  // std::runtime_error naming the path when a removal fails.
  size_t remove_unreferenced(const std::map<std::string, std::string>& keep);

  const std::string& root() const { return root_; }

  // 1 to 128 characters of [A-Za-z0-9_-] (SS58 hotkeys are base58).
  static bool is_valid_hotkey(const std::string& hotkey);

  // The folder name of a base64 content hash: '/' -> '_', '+' -> '-', '='
  // dropped. Throws ModelFetchError("bad-files") when `content_hash` is empty
  // or not base64.
  static std::string hash_folder_name(const std::string& content_hash);

 private:
  std::string make_temp_folder();
  void discard_temp_folder(const std::string& temp);
  InstalledModel verify_and_place(const std::string& hotkey, const ModelId& id,
                                  const std::string& temp);
  InstalledModel installed_model(const std::string& hotkey, const std::string& content_hash) const;
  // Best effort: the stamps of `directory`, written beside it (a model
  // without them is re-hashed at its next check). Requires mutex_.
  void record_stamps(const std::string& directory) const;
  // "" when `model` is installed and intact (see find()), else why not.
  // Requires mutex_.
  std::string integrity_problem(const InstalledModel& model) const;

  std::string root_;
  std::string temp_root_;  // ROOT/.tmp

  // Guards the renames into place, find(), cleanup and installs_in_flight_.
  mutable std::mutex mutex_;
  std::set<std::string> installs_in_flight_;  // folder names under ROOT/.tmp
};

}  // namespace crucible
