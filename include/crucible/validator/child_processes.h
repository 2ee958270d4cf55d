// This process's child processes (the engine's model workers, in a
// validator), found in /proc: for ending them when a step is abandoned.
#pragma once

#include <sys/types.h>

#include <vector>

namespace crucible {

// The pids of the processes whose parent is this process, any thread of it.
std::vector<pid_t> child_processes();

// Sends `signal` to every child process; returns how many were signalled.
size_t signal_child_processes(int signal);

}  // namespace crucible
