#include "crucible/validator/folder_stamps.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "crucible/common/files.h"

namespace crucible {

namespace fs = std::filesystem;

FolderStamps stamp_folder(const std::string& folder) {
  FolderStamps stamps;
  std::error_code error;
  fs::recursive_directory_iterator it(folder, error), end;
  for (; !error && it != end; it.increment(error)) {
    if (it->symlink_status().type() != fs::file_type::regular) continue;
    const std::string path = it->path().string();
    struct stat info;
    if (::lstat(path.c_str(), &info) != 0) {
      throw std::runtime_error(path + ": cannot stat: " + std::strerror(errno));
    }
    const int64_t modified_ns =
        static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
    stamps[it->path().lexically_relative(folder).generic_string()] = {
        static_cast<int64_t>(info.st_size), modified_ns};
  }
  if (error) throw std::runtime_error(folder + ": cannot list: " + error.message());
  return stamps;
}

void write_folder_stamps(const std::string& path, const FolderStamps& stamps) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [name, stamp] : stamps) {
    files[name] = {{"bytes", stamp.bytes}, {"modified_ns", stamp.modified_ns}};
  }
  write_file_atomically(path, nlohmann::json{{"files", files}}.dump() + "\n");
}

std::optional<FolderStamps> read_folder_stamps(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::runtime_error&) {
    return std::nullopt;
  }
  const nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object() || !document.contains("files") || !document["files"].is_object()) {
    return std::nullopt;
  }
  FolderStamps stamps;
  for (const auto& [name, entry] : document["files"].items()) {
    if (!entry.is_object() || !entry.contains("bytes") || !entry.contains("modified_ns") ||
        !entry["bytes"].is_number_integer() || !entry["modified_ns"].is_number_integer()) {
      return std::nullopt;
    }
    stamps[name] = {entry["bytes"].get<int64_t>(), entry["modified_ns"].get<int64_t>()};
  }
  return stamps;
}

std::string stamps_difference(const FolderStamps& recorded, const FolderStamps& now) {
  for (const auto& [name, stamp] : recorded) {
    const auto found = now.find(name);
    if (found == now.end()) return name + ": missing";
    if (found->second.bytes != stamp.bytes) {
      return name + ": " + std::to_string(found->second.bytes) + " bytes, " +
             std::to_string(stamp.bytes) + " when installed";
    }
    if (!(found->second == stamp)) return name + ": modified since installed";
  }
  for (const auto& entry : now) {
    if (recorded.count(entry.first) == 0) return entry.first + ": not there when installed";
  }
  return "";
}

}  // namespace crucible
