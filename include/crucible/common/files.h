// Whole-file I/O. Writes are crash-safe replacements: write to a temporary
// file beside the target, fsync it, rename it over the target, fsync the
// folder; a reader sees the old file or the complete new one, never a part.
#pragma once

#include <cstddef>
#include <string>

namespace crucible {

// Replaces `path` with `contents`. Throws std::runtime_error naming `path`
// when any step fails; the temporary file is removed then, the target untouched.
void write_file_atomically(const std::string& path, const std::string& contents);

// The whole contents of a regular file. Throws std::runtime_error whose
// one-line message starts with `path`: "cannot open file: <reason>", "not a
// regular file" or "cannot read file: <reason>".
std::string read_file(const std::string& path);

// Appends `line` and a newline to `path` (created when missing) with one
// write where the system allows, completing a short write, then fsyncs: a
// reader sees whole lines. Throws std::runtime_error naming `path` and the
// reason in one line; the file is then cut back to its previous length, so
// no part of the line stays (a disk that fills up mid-write leaves a short
// write). A last line without its newline, left by an earlier append that
// was interrupted or could not be cut back, is removed first. One writer per
// file at a time.
void append_line(const std::string& path, const std::string& line);

// A fresh folder /tmp/<prefix>.XXXXXX, removed with everything in it when
// the object goes out of scope (also when an exception passes).
class TemporaryFolder {
 public:
  // Creates PARENT/PREFIX.XXXXXX (PARENT is created when missing); removed
  // with everything in it by the destructor. Throws std::runtime_error when
  // the folder cannot be created.
  explicit TemporaryFolder(const std::string& prefix, const std::string& parent = "/tmp");
  ~TemporaryFolder();
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Removes every PARENT/PREFIX.* folder (what TemporaryFolder(PREFIX, PARENT)
// objects of a killed process left behind); returns how many. A missing
// PARENT is none.
size_t remove_temporary_folders(const std::string& prefix, const std::string& parent);

// fsyncs a folder so that renames and creations inside it are durable.
// Best effort: errors are ignored (some file systems refuse it).
void sync_directory(const std::string& path);

}  // namespace crucible
