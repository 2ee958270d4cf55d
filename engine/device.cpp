#include "crucible/engine/device.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#ifdef CRUCIBLE_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include <malloc.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace crucible {

void set_cpu_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
}

void keep_freed_host_memory() {
  constexpr int kOneGiB = 1 << 30;
  mallopt(M_MMAP_THRESHOLD, kOneGiB);
  mallopt(M_TRIM_THRESHOLD, kOneGiB);
}

bool cuda_usable() {
#ifdef CRUCIBLE_HAVE_CUDA
  return at::hasCUDA();
#else
  return false;
#endif
}

c10::Device parse_device(const std::string& text) {
  if (text == "cpu") return at::Device(at::kCPU);
  if (text == "auto") return cuda_usable() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  if (text.rfind("cuda", 0) != 0) {
    throw std::invalid_argument("'" + text + "': expected auto, cpu, cuda or cuda:N");
  }
  if (!cuda_usable()) {
    throw std::invalid_argument("'" + text +
                                "': CUDA is not usable here (no device, or built without CUDA)");
  }
  if (text == "cuda") return at::Device(at::kCUDA, 0);
  const std::string index = text.substr(4);
  if (index.size() < 2 || index[0] != ':' ||
      index.find_first_not_of("0123456789", 1) != std::string::npos || index.size() > 4) {
    throw std::invalid_argument("'" + text + "': expected cuda:N with N a device index");
  }
  const int n = std::stoi(index.substr(1));
  if (n >= static_cast<int>(at::getNumGPUs())) {
    throw std::invalid_argument("'" + text + "': no such CUDA device");
  }
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(n));
}

long long default_memory_budget_bytes(const c10::Device& device) {
  return free_memory_bytes(device) / 10 * 9;
}

NativePrecision parse_native_precision(const std::string& text, const c10::Device& device) {
  if (text == "fp32") return NativePrecision::kFp32;
  if (text != "tf32") throw std::invalid_argument("'" + text + "': expected fp32 or tf32");
  if (!device.is_cuda()) {
    throw std::invalid_argument("'tf32' needs a CUDA device (the device is " + device.str() + ")");
  }
  return NativePrecision::kTf32;
}

NativePrecisionScope::NativePrecisionScope(NativePrecision precision)
    : previous_(at::globalContext().allowTF32CuBLAS()) {
  at::globalContext().setAllowTF32CuBLAS(precision == NativePrecision::kTf32);
}

NativePrecisionScope::~NativePrecisionScope() { at::globalContext().setAllowTF32CuBLAS(previous_); }

long long free_memory_bytes(const c10::Device& device) {
#ifdef CRUCIBLE_HAVE_CUDA
  if (device.is_cuda()) {
    size_t free = 0, total = 0;
    if (cudaSetDevice(device.has_index() ? device.index() : 0) != cudaSuccess ||
        cudaMemGetInfo(&free, &total) != cudaSuccess) {
      return 0;
    }
    return static_cast<long long>(free);
  }
#endif
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  long long kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

}  // namespace crucible
