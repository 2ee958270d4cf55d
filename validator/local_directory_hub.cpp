#include "crucible/validator/local_directory_hub.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "crucible/common/model_files.h"
#include "crucible/common/quoted_text.h"
#include "crucible/validator/safe_names.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

constexpr size_t kShownChars = 64;
constexpr size_t kCopyChunkBytes = 1 << 20;

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The repository's files, as every path that counts a model's bytes lists them.
std::vector<RepositoryFile> list_files(const std::string& folder, const std::string& label) {
  try {
    return list_repository_files(folder);
  } catch (const RepositoryFilesError& e) {
    throw ModelFetchError(e.kind() == "bad-files" ? "bad-files" : "download-failed",
                          label + ": " + e.what());
  }
}

void write_all(int fd, const char* data, size_t size, const std::string& target,
               const std::string& label) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) {
      throw ModelFetchError("download-failed",
                            label + ": cannot write " + target + ": " + std::strerror(errno));
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
}

// Copies `source` into the new file `target`; throws "too-large" once the
// bytes copied so far (`copied`, updated) exceed `max_total_bytes`.
void copy_file(const std::string& source, const std::string& target, int64_t max_total_bytes,
               int64_t& copied, const std::string& label) {
  const FileDescriptor in(::open(source.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat info;
  if (in.get() < 0 && errno == ELOOP) {
    throw ModelFetchError("bad-files", label + ": " + source + " is a symlink");
  }
  if (in.get() < 0 || ::fstat(in.get(), &info) != 0) {
    throw ModelFetchError("download-failed",
                          label + ": cannot read " + source + ": " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    throw ModelFetchError("bad-files", label + ": " + source + " is not a regular file");
  }
  const FileDescriptor out(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (out.get() < 0) {
    throw ModelFetchError("download-failed",
                          label + ": cannot create " + target + ": " + std::strerror(errno));
  }
  std::vector<char> buffer(kCopyChunkBytes);
  while (true) {
    const ssize_t got = ::read(in.get(), buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      throw ModelFetchError("download-failed",
                            label + ": cannot read " + source + ": " + std::strerror(errno));
    }
    if (got == 0) return;
    copied += got;
    if (copied > max_total_bytes) {
      throw ModelFetchError("too-large", label + ": more than " + std::to_string(max_total_bytes) +
                                             " bytes while copying");
    }
    write_all(out.get(), buffer.data(), static_cast<size_t>(got), target, label);
  }
}

}  // namespace

LocalDirectoryHub::LocalDirectoryHub(std::string root) : root_(std::move(root)) {}

void LocalDirectoryHub::download(const std::string& repo_id, const std::string& commit,
                                 int64_t max_total_bytes, const std::string& destination) {
  const std::string label = "repository " + quoted_for_message(repo_id, kShownChars) +
                            " at commit " + quoted_for_message(commit, kShownChars);
  const size_t slash = repo_id.find('/');
  const std::string namespace_ = slash == std::string::npos ? "" : repo_id.substr(0, slash);
  const std::string name = slash == std::string::npos ? "" : repo_id.substr(slash + 1);
  if (!is_safe_path_segment(namespace_) || !is_safe_path_segment(name)) {
    throw ModelFetchError("bad-files", label +
                                           ": repository id must be <namespace>/<name>, each of "
                                           "[A-Za-z0-9._-] and not starting with '.'");
  }
  if (!is_safe_path_segment(commit)) {
    throw ModelFetchError("bad-files",
                          label + ": commit must be of [A-Za-z0-9._-] and not start with '.'");
  }

  std::string folder = root_;
  for (const std::string* segment : {&namespace_, &name, &commit}) {
    folder += "/" + *segment;
    struct stat info;
    if (::lstat(folder.c_str(), &info) != 0) {
      throw ModelFetchError("not-found", label + ": no folder " + folder);
    }
    if (!S_ISDIR(info.st_mode)) {
      throw ModelFetchError("bad-files", label + ": " + folder + " is not a folder (" +
                                             (S_ISLNK(info.st_mode) ? "a symlink" : "a file") +
                                             ")");
    }
  }

  const std::vector<RepositoryFile> files = list_files(folder, label);
  const std::string too_large = repository_size_reason(total_bytes(files), max_total_bytes);
  if (!too_large.empty()) throw ModelFetchError("too-large", label + ": " + too_large);

  int64_t copied = 0;
  for (const RepositoryFile& file : files) {
    const fs::path target = fs::path(destination) / file.relative_path;
    std::error_code error;
    fs::create_directories(target.parent_path(), error);
    if (error) {
      throw ModelFetchError(
          "download-failed",
          label + ": cannot create " + target.parent_path().string() + ": " + error.message());
    }
    copy_file(folder + "/" + file.relative_path, target.string(), max_total_bytes, copied, label);
  }
}

}  // namespace crucible
