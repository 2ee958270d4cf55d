#include "crucible/engine/model_forecaster.h"

#include <torch/script.h>

#include <chrono>
#include <sstream>

namespace crucible {
namespace {

std::string shape_of(const at::Tensor& t) {
  std::ostringstream text;
  text << t.sizes();
  return text.str();
}

// [B, >=H, 1, Q] or [B, >=H, Q] float32 -> [B, H, Q]; anything else throws.
at::Tensor checked_output(const c10::IValue& value, int64_t batch, int64_t horizon, int64_t q) {
  if (!value.isTensor()) throw BadModelOutput("returned a " + value.tagKind() + ", not a tensor");
  at::Tensor out = value.toTensor();
  if (out.scalar_type() != at::kFloat) {
    throw BadModelOutput(std::string("returned dtype ") + c10::toString(out.scalar_type()) +
                         ", expected float32");
  }
  if (out.dim() == 4 && out.size(2) == 1) out = out.squeeze(2);
  if (out.dim() != 3 || out.size(0) != batch || out.size(1) < horizon || out.size(2) != q) {
    throw BadModelOutput("returned shape " + shape_of(value.toTensor()) + ", expected [" +
                         std::to_string(batch) + ", >=" + std::to_string(horizon) + ", 1, " +
                         std::to_string(q) + "]");
  }
  return out.narrow(1, 0, horizon);
}

}  // namespace

ForecastRun run_model_forecasts(const std::string& model_path, const ModelInspection& inspection,
                                const at::Tensor& inputs, const at::Tensor& input_lengths,
                                const ForecastRequest& request, const c10::Device& device) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  torch::jit::Module model = torch::jit::load(model_path, device);
  model.eval();
  ForecastRun result;
  const Clock::time_point loaded = Clock::now();
  result.load_seconds = std::chrono::duration<double>(loaded - start).count();
  const torch::jit::Method method = model.get_method(inspection.entry_method);
  const int64_t series = inputs.size(0), q = static_cast<int64_t>(request.quantiles.size());
  result.values = at::empty({series, request.horizon, q}, at::kFloat);

  c10::InferenceMode inference;
  for (int64_t begin = 0; begin < series; begin += request.batch_size) {
    const int64_t count = std::min(request.batch_size, series - begin);
    std::vector<c10::IValue> args = {inputs.narrow(0, begin, count).unsqueeze(-1).to(device),
                                     request.horizon, c10::List<double>(request.quantiles)};
    if (inspection.takes_lengths)
      args.emplace_back(input_lengths.narrow(0, begin, count).to(device));
    const at::Tensor out = checked_output(method(std::move(args)), count, request.horizon, q);
    result.values.narrow(0, begin, count).copy_(out.cpu());
  }
  result.forward_seconds = std::chrono::duration<double>(Clock::now() - loaded).count();
  return result;
}

ForecastRun run_model_forecasts(const std::string& model_path, const ModelInspection& inspection,
                                const TaskData& task, const std::vector<double>& quantiles,
                                const c10::Device& device) {
  const at::Tensor inputs = at::from_blob(const_cast<float*>(task.inputs.data()),
                                          {task.num_series, task.input_width}, at::kFloat);
  const at::Tensor lengths = at::tensor(task.input_lengths, at::kLong);
  ForecastRequest request;
  request.horizon = task.target_width;
  request.quantiles = quantiles;
  return run_model_forecasts(model_path, inspection, inputs, lengths, request, device);
}

}  // namespace crucible
