#include "crucible/common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

void append_line(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot open for appending");
  try {
    write_all(fd, line + "\n", path);
  } catch (const std::runtime_error&) {
    ::close(fd);
    throw;
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    errno = error;
    fail(path, "cannot fsync");
  }
  if (::close(fd) != 0) fail(path, "cannot close");
}

TemporaryFolder::TemporaryFolder(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + ".XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) fail(pattern, "cannot create a temporary folder");
  path_ = pattern;
}

TemporaryFolder::~TemporaryFolder() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void sync_directory(const std::string& path) {
  const int dir = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace crucible
