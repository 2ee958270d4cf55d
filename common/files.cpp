#include "crucible/common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace crucible {
namespace {

std::string folder_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what + ": " + std::strerror(errno));
}

void write_all(int fd, const std::string& contents, const std::string& path) {
  const char* data = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    const ssize_t written = ::write(fd, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      fail(path, "cannot write");
    }
    data += written;
    left -= static_cast<size_t>(written);
  }
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& contents) {
  std::string temp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) fail(path, "cannot create a temporary file");
  try {
    write_all(fd, contents, path);
    if (::fsync(fd) != 0) fail(path, "cannot fsync");
    if (::fchmod(fd, 0644) != 0) fail(path, "cannot set permissions");
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(temp.c_str());
    fail(path, "cannot close");
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    fail(path, "cannot rename into place");
  }
  sync_directory(folder_of(path));
}

std::string read_file(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) fail(path, "cannot open file");
  if (!S_ISREG(info.st_mode)) throw std::runtime_error(path + ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open file");
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) fail(path, "cannot read file");
  return contents.str();
}

namespace {

// The length of the file open at `fd` (of `size` bytes) up to and including
// its last newline: what follows is a line cut by a failed or interrupted append.
off_t complete_length(int fd, off_t size, const std::string& path) {
  char block[4096];
  for (off_t end = size; end > 0;) {
    const off_t start = std::max<off_t>(0, end - static_cast<off_t>(sizeof block));
    const ssize_t got = ::pread(fd, block, static_cast<size_t>(end - start), start);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail(path, "cannot read");
    if (got != end - start) throw std::runtime_error(path + ": cannot read: the file shrank");
    for (ssize_t i = got; i > 0; --i) {
      if (block[i - 1] == '\n') return start + i;
    }
    end = start;
  }
  return 0;
}

}  // namespace

void append_line(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot open for appending");
  off_t length = -1;  // the file's length before this line
  try {
    struct stat info;
    if (::fstat(fd, &info) != 0) fail(path, "cannot stat");
    length = complete_length(fd, info.st_size, path);
    if (length != info.st_size && ::ftruncate(fd, length) != 0) {
      fail(path, "cannot remove a partial last line");
    }
    write_all(fd, line + "\n", path);
    if (::fsync(fd) != 0) fail(path, "cannot fsync");
  } catch (const std::runtime_error& e) {
    // No part of the line may stay: a disk that fills up mid-write leaves a
    // short write behind, which the next line would otherwise continue.
    std::string message = e.what();
    if (length >= 0 && ::ftruncate(fd, length) != 0) {
      message += "; and cannot remove the part written: " + std::string(std::strerror(errno));
    }
    ::close(fd);
    throw std::runtime_error(message);
  }
  if (::close(fd) != 0) fail(path, "cannot close");
}

TemporaryFolder::TemporaryFolder(const std::string& prefix, const std::string& parent) {
  std::error_code error;
  std::filesystem::create_directories(parent, error);
  if (error) fail(parent, "cannot create: " + error.message());
  std::string pattern = parent + "/" + prefix + ".XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) fail(pattern, "cannot create a temporary folder");
  path_ = pattern;
}

TemporaryFolder::~TemporaryFolder() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

size_t remove_temporary_folders(const std::string& prefix, const std::string& parent) {
  std::error_code error;
  if (!std::filesystem::is_directory(parent, error)) return 0;
  const std::string start = prefix + ".";
  size_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(parent, error)) {
    if (entry.path().filename().string().rfind(start, 0) != 0) continue;
    std::error_code remove_error;
    std::filesystem::remove_all(entry.path(), remove_error);
    if (!remove_error) ++removed;
  }
  return removed;
}

void sync_directory(const std::string& path) {
  const int dir = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace crucible
