// What `crucible --version` prints.
#pragma once

#include <string>

namespace crucible {

// "crucible 0.1.0 (commit abc123), LibTorch 1.13.0, CUDA kernels compiled: yes,
// CUDA device: none" on one line.
std::string version_text();

}  // namespace crucible
