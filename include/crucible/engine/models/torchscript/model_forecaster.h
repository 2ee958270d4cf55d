// Runs one loaded candidate model over a task's inputs, in batches, and checks
// what it returns (docs/scoring.md section 2). Used inside a worker process (see
// `crucible worker`), so a model that crashes or hangs takes only that
// process down.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "crucible/engine/data/task_data.h"
#include "crucible/engine/models/torchscript/model_inspector.h"

namespace crucible {

// The model returned something other than float32 [B, >=H, 1, Q] or [B, >=H, Q].
class BadModelOutput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A model's forecasts, float32 [S, horizon, Q] on the CPU, and where the time went.
struct ForecastRun {
  at::Tensor values;
  double load_seconds = 0.0;     // reading the archive onto the device
  double forward_seconds = 0.0;  // the model's own calls, with the copies of its outputs
  std::string note;  // "N of M forecast values were not finite (scored as +-1e9)", else empty
};

struct ForecastRequest {
  int64_t horizon = 0;            // prediction_length: the steps that are scored
  std::vector<double> quantiles;  // sorted levels
  int64_t batch_size = 256;
  // For a model that takes groups: each series' group id (non-decreasing,
  // a group's series contiguous; empty: each series its own group), and the
  // known covariates' future values, float32 [S, horizon] on the CPU, NaN
  // where none is given (undefined: NaN everywhere).
  std::vector<int64_t> group_ids;
  at::Tensor future_inputs;
};

// Loads `model_path` (accepted by `inspection`) onto `device` in eval and
// inference mode, calls inspection.entry_method (with the lengths when it
// declares them, and the group ids and future inputs when it declares
// those) on inputs [S, T] (right-padded) with input_lengths [S], in batches
// of at most batch_size series (for a model that takes groups, whole groups:
// a larger group is a batch of its own), and returns the forecasts with
// their timings. Every call gets its own copy of its arguments. Throws BadModelOutput for a wrong
// shape, dtype or size, and std::runtime_error with a one-line reason for anything else: the
// model's own exception or the failing op's error, without the interpreter's
// traceback.
ForecastRun run_model_forecasts(const std::string& model_path, const ModelInspection& inspection,
                                const at::Tensor& inputs, const at::Tensor& input_lengths,
                                const ForecastRequest& request, const c10::Device& device);

// The same over a task: its inputs, input lengths, groups and future
// inputs, horizon = the widest target.
ForecastRun run_model_forecasts(const std::string& model_path, const ModelInspection& inspection,
                                const TaskData& task, const std::vector<double>& quantiles,
                                const c10::Device& device);

}  // namespace crucible
