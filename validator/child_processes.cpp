#include "crucible/validator/child_processes.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace crucible {
namespace {

// The parent pid in /proc/<pid>/stat ("pid (comm) state ppid ..."; comm may
// hold spaces and parentheses), or -1.
pid_t parent_of(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return -1;
  const size_t comm_end = stat.rfind(')');
  if (comm_end == std::string::npos) return -1;
  std::istringstream fields(stat.substr(comm_end + 1));
  char state = 0;
  long parent = -1;
  fields >> state >> parent;
  return fields ? static_cast<pid_t>(parent) : -1;
}

}  // namespace

std::vector<pid_t> child_processes() {
  const pid_t self = ::getpid();
  std::vector<pid_t> children;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (parent_of(name) == self) children.push_back(static_cast<pid_t>(std::atol(name.c_str())));
  }
  return children;
}

size_t signal_child_processes(int signal) {
  size_t signalled = 0;
  for (pid_t child : child_processes()) signalled += ::kill(child, signal) == 0;
  return signalled;
}

}  // namespace crucible
