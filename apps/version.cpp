#include "version.h"

#include <torch/version.h>

#include "crucible/engine/device.h"
#include "git_version.h"

namespace crucible {

std::string version_text() {
#ifdef CRUCIBLE_HAVE_CUDA
  const char* kernels = "yes";
#else
  const char* kernels = "no";
#endif
  return std::string("crucible ") + CRUCIBLE_VERSION + " (commit " + CRUCIBLE_GIT_COMMIT +
         "), LibTorch " + TORCH_VERSION + ", CUDA kernels compiled: " + kernels +
         ", CUDA device: " + (cuda_usable() ? "available" : "none");
}

}  // namespace crucible
