// The LibTorch half of a native architecture (native_architecture.h has the
// torch-free half): its models' weights, loaded generically from their
// folders, and the forecaster that runs a group of same-config models as
// one stacked forward. The registry finds the forecaster by the config's
// architecture.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "crucible/engine/data/task_data.h"
#include "crucible/engine/models/native/native_architecture.h"

namespace crucible {

// One model's weights on a device, by name: every tensor of its config's
// tensor_shapes(), float32.
using NativeWeights = std::map<std::string, at::Tensor>;

// A model's weight values were refused as they loaded: the model's fault.
// what() is the reason inspection gives ("model.safetensors: tensor 'x' holds
// a non-finite value at index i", or the architecture's check across tensors).
class NativeWeightsRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The predict loop ran past its deadline between two forwards.
class ForecastDeadlineExceeded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The work a prediction did, counted as it runs: for its FLOP count.
struct ForecastWork {
  int64_t forwards = 0;        // calls of the stacked forward
  int64_t series_steps = 0;    // sum over forwards of models x series
  int64_t positions = 0;       // ... of models x series x encoder positions
  int64_t position_pairs = 0;  // ... of models x series x positions^2
};

// What to forecast for a task's series.
struct QuantileForecastRequest {
  int64_t horizon = 0;                // H: forecast steps 0 .. H-1
  std::vector<double> levels;         // the task's sorted quantile levels
  std::vector<int64_t> needed_steps;  // per series, <= H (its target length); empty = H for all
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  ForecastWork* work = nullptr;  // when set, the forwards are counted into it
};

class NativeForecaster {
 public:
  virtual ~NativeForecaster() = default;

  // The pipeline's predict_quantiles for every model of `models` (G models
  // of this architecture sharing `config`, loaded by load_native_weights on
  // one device) on `task`'s series. Returns float32 [G, S, H, levels] on the
  // weights' device; the steps of a series past its needed steps are NaN. A
  // model's forecasts are the same bits whatever other models share the
  // call. Throws ForecastDeadlineExceeded when the request's deadline passes
  // between two forwards.
  virtual at::Tensor predict_quantiles(const NativeConfig& config,
                                       const std::vector<const NativeWeights*>& models,
                                       const TaskData& task,
                                       const QuantileForecastRequest& request) const = 0;

  // Bytes a model is expected to hold at its peak while its stack forecasts
  // `series` series (its weights and one forward's activations), for the
  // memory budget that cuts stacks into chunks.
  virtual long long bytes_per_model(const NativeConfig& config, int64_t series) const = 0;
};

// The forecaster of `config`'s architecture. Throws std::logic_error when
// none is registered (inspection accepts registered architectures only).
const NativeForecaster& native_forecaster(const NativeConfig& config);

// The weights of `folder` (accepted by inspect_native_model, at either depth,
// with this `config`; model.safetensors or its shards) on `device`, widened
// from F16 / BF16 to float32 and each value checked as it is read, then the
// architecture's checks across tensors (so a header-only inspection plus
// this load checks what a full inspection does, reading the files once).
// Throws NativeWeightsRefused for a refused value, SafetensorsError (naming
// the file in the folder) if the files changed since their inspection. Adds
// the tensor bytes read to *bytes_read when given.
NativeWeights load_native_weights(const NativeConfig& config, const std::string& folder,
                                  const c10::Device& device, long long* bytes_read = nullptr);

}  // namespace crucible
