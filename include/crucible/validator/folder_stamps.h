// The stamps of an installed model's files (size and modification time of
// each), recorded when the model is verified against its content hash. A
// later check compares the folder with its stamps by stat() alone, so a model
// deleted, truncated or rewritten under a running validator is noticed
// without reading its bytes again.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace crucible {

struct FileStamp {
  int64_t bytes = 0;
  int64_t modified_ns = 0;  // st_mtim, in nanoseconds since the epoch
  bool operator==(const FileStamp& other) const {
    return bytes == other.bytes && modified_ns == other.modified_ns;
  }
};

// '/'-separated path relative to the folder -> stamp, for every regular file.
using FolderStamps = std::map<std::string, FileStamp>;

// The stamps of every regular file under `folder` (links are not followed and
// not listed). Throws std::runtime_error naming the folder when it cannot be
// listed or a file cannot be stat'ed.
FolderStamps stamp_folder(const std::string& folder);

// Writes `stamps` to `path` as JSON, atomically. Throws std::runtime_error
// naming `path` on failure.
void write_folder_stamps(const std::string& path, const FolderStamps& stamps);

// The stamps written at `path`; nullopt when the file is missing or does not
// hold stamps (a corrupt stamps file only costs a re-verification).
std::optional<FolderStamps> read_folder_stamps(const std::string& path);

// "" when `now` equals `recorded`, else what differs first, in one line:
// "model.pt: missing", "model.pt: 10 bytes, 12 when installed", "x: modified
// since installed", "x: not there when installed".
std::string stamps_difference(const FolderStamps& recorded, const FolderStamps& now);

}  // namespace crucible
