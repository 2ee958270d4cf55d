// Turns a CUDA runtime error into an exception that names the call site.
#pragma once

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace crucible {

inline void throw_on_cuda_error(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
  }
}

}  // namespace crucible
