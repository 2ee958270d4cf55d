// Where the engine computes: the CPU, or a CUDA device when one is present and
// the CUDA kernels were compiled in.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace crucible {

// Sets the CPU threads the engine's parallel loops use; 0 means one per
// hardware thread (LibTorch's own default can be 1 in containers).
void set_cpu_threads(int threads);

// Lets host tensors up to 1 GiB reuse freed heap memory instead of each
// being a fresh mmap (glibc maps allocations over its threshold, at most 32
// MiB, and unmaps them when freed, so every large CPU tensor of a stacked
// forward page-faults its memory in again): U=16 stacked Chronos-2 models on
// the CPU spent more time in the kernel than forecasting
// (BENCHMARKS.md). Freed memory up to 1 GiB stays with the process. Called
// once at start by the programs that run forwards.
void keep_freed_host_memory();

// True when the kernels were compiled and LibTorch sees a CUDA device.
bool cuda_usable();

// Parses "auto" (CUDA when usable, else CPU), "cpu", "cuda" or "cuda:N".
// Throws std::invalid_argument with a one-line reason for anything else, or
// for a CUDA request on a machine where CUDA is not usable.
c10::Device parse_device(const std::string& text);

// Memory free for models on `device` now: cudaMemGetInfo's free bytes on a
// CUDA device, MemAvailable of /proc/meminfo on the CPU (0 when unknown).
long long free_memory_bytes(const c10::Device& device);

// The memory budget when none is given: 90% of free_memory_bytes(device).
long long default_memory_budget_bytes(const c10::Device& device);

// The float32 matrix products of native forwards on CUDA: exact float32
// (kFp32, the default, so every validator computes the same bits) or TF32
// tensor cores (kTf32: faster, the products' inputs rounded to a 10-bit
// mantissa). Task data, losses and scoring are float32/64 either way.
enum class NativePrecision { kFp32, kTf32 };

// "fp32" or "tf32" on `device`; throws std::invalid_argument otherwise, and
// for tf32 on a device that is not CUDA (it would change nothing there).
NativePrecision parse_native_precision(const std::string& text, const c10::Device& device);

// Sets cuBLAS's TF32 switch to `precision` for the scope's lifetime, then
// restores the previous setting.
class NativePrecisionScope {
 public:
  explicit NativePrecisionScope(NativePrecision precision);
  ~NativePrecisionScope();
  NativePrecisionScope(const NativePrecisionScope&) = delete;
  NativePrecisionScope& operator=(const NativePrecisionScope&) = delete;

 private:
  bool previous_;
};

}  // namespace crucible
