// File helpers for tests that build folders of fixture files (in a
// TemporaryFolder): a file written with its folders, and a folder read back.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "crucible/common/files.h"

namespace crucible {
namespace testing_files {

// Writes `contents` to `path`, creating the folders on the way.
inline void write_file(const std::filesystem::path& path, const std::string& contents) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << contents;
}

// Every regular file under `folder`: '/'-separated relative path -> bytes.
inline std::map<std::string, std::string> files_under(const std::string& folder) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder)) {
    if (entry.is_regular_file()) {
      files[entry.path().lexically_relative(folder).generic_string()] =
          read_file(entry.path().string());
    }
  }
  return files;
}

}  // namespace testing_files
}  // namespace crucible
