// Runs a round's native candidates in this process: each folder is
// inspected (its header; the values are checked as they load, and a refused
// value refuses that model alone), the accepted ones are grouped by
// identical config, and each group runs as stacked forwards in chunks that
// fit the memory budget. The forecasts are written straight into the round's
// [U, S, H, Q] tensor on its device. Failures stay with their models: an
// out-of-memory chunk is split in half and retried down to one model, which
// then fails with a memory reason; a chunk past its time budget times out; a
// file that fails to load fails alone.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <functional>
#include <vector>

#include "crucible/engine/data/task_data.h"
#include "crucible/engine/device.h"
#include "crucible/engine/models/torchscript/model_inspector.h"

namespace crucible {

struct ModelRun;
class NativeModelCache;

struct NativeRunOptions {
  ModelLimits limits;
  std::vector<double> quantiles;   // the task's sorted levels
  double timeout_seconds = 120.0;  // per model: a chunk of g models gets g times this
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  long long memory_budget_bytes = 0;  // > 0: bounds the models stacked in one chunk
  NativePrecision precision = NativePrecision::kFp32;  // of the forwards' matrix products
  // Inspections and resident weights kept between calls (the validator's);
  // null: every model is inspected and read again.
  NativeModelCache* cache = nullptr;
  // Called with a chunk's model count before its weights load; tests throw
  // from it to stand in for a device running out of memory. Empty otherwise.
  std::function<void(size_t models)> before_chunk;
};

// Evaluates runs[i] for every i in `indices` (each path a native model
// folder) on `task`, filling status, reason, group and timings, and the
// forecasts of the successful ones into forecasts[i] (float32 [U, S, H, Q],
// H = task.target_width, on the device the forward runs on). Never throws for
// a model's fault.
void run_native_models(const std::vector<size_t>& indices, const TaskData& task,
                       const NativeRunOptions& options, std::vector<ModelRun>& runs,
                       at::Tensor& forecasts);

// True for a LibTorch error that means an allocation failed (CUDA out of
// memory, or the CPU allocator refusing).
bool is_out_of_memory_error(const std::exception& error);

}  // namespace crucible
