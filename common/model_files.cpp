#include "crucible/common/model_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "crucible/common/quoted_text.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

constexpr size_t kShownChars = 64;

std::string mebibytes(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

bool is_regular_file(const std::string& path) {
  struct stat info;
  return ::lstat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

}  // namespace

bool is_local_only_folder(const std::string& top_level_name) {
  return top_level_name == ".git" || top_level_name == ".cache";
}

std::vector<RepositoryFile> list_repository_files(const std::string& folder) {
  std::vector<RepositoryFile> files;
  std::error_code error;
  fs::recursive_directory_iterator it(folder, error), end;
  for (; !error && it != end; it.increment(error)) {
    const fs::file_type type = it->symlink_status().type();
    const std::string relative = it->path().lexically_relative(folder).generic_string();
    if (it.depth() == 0 && type == fs::file_type::directory &&
        is_local_only_folder(it->path().filename().string())) {
      it.disable_recursion_pending();
      continue;
    }
    if (type == fs::file_type::directory) continue;
    if (type == fs::file_type::symlink) {
      throw RepositoryFilesError("bad-files",
                                 quoted_for_message(relative, kShownChars) + " is a symlink");
    }
    if (type != fs::file_type::regular) {
      throw RepositoryFilesError("bad-files", quoted_for_message(relative, kShownChars) +
                                                  " is not a regular file or folder");
    }
    files.push_back({relative, static_cast<int64_t>(it->file_size())});
  }
  if (error) {
    throw RepositoryFilesError("unreadable", "cannot list " + folder + ": " + error.message());
  }
  std::sort(files.begin(), files.end(), [](const RepositoryFile& a, const RepositoryFile& b) {
    return a.relative_path < b.relative_path;
  });
  return files;
}

int64_t total_bytes(const std::vector<RepositoryFile>& files) {
  int64_t total = 0;
  for (const RepositoryFile& file : files) total += file.size;
  return total;
}

std::string repository_size_reason(int64_t bytes, int64_t limit) {
  if (bytes <= limit) return "";
  return "the repository's files total " + std::to_string(bytes) + " bytes (" + mebibytes(bytes) +
         "), over the limit of " + std::to_string(limit) + " bytes (" + mebibytes(limit) + ")";
}

ModelLayout model_layout(const std::string& folder) {
  if (is_regular_file(folder + "/model.pt")) return ModelLayout::kTorchScript;
  if (is_regular_file(folder + "/config.json") &&
      (is_regular_file(folder + "/model.safetensors") ||
       is_regular_file(folder + "/model.safetensors.index.json"))) {
    return ModelLayout::kNative;
  }
  return ModelLayout::kUnsupported;
}

std::string model_layout_reason(const std::string& folder) {
  if (model_layout(folder) != ModelLayout::kUnsupported) return "";
  const std::string resave =
      "validators never load pickles: re-save the model with "
      "save_pretrained(DIR, safe_serialization=True), which writes model.safetensors";
  for (const char* pickle : {"pytorch_model.bin", "pytorch_model.bin.index.json"}) {
    if (is_regular_file(folder + "/" + pickle)) {
      return std::string(pickle) + " is a pickled checkpoint; " + resave;
    }
  }
  if (is_regular_file(folder + "/config.json")) {
    return "config.json but no model.safetensors (nor a sharded model.safetensors.index.json) "
           "at the top level: save the weights beside it with save_pretrained(DIR, "
           "safe_serialization=True)";
  }
  return "neither model.pt nor config.json + model.safetensors at the top level: a TorchScript "
         "model is model.pt (torch.jit.save), a native one config.json + model.safetensors "
         "(save_pretrained)";
}

}  // namespace crucible
