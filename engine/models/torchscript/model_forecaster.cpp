#include "crucible/engine/models/torchscript/model_forecaster.h"

#include <torch/script.h>

#include <chrono>
#include <regex>
#include <sstream>

namespace crucible {
namespace {

std::string shape_of(const at::Tensor& t) {
  std::ostringstream text;
  text << t.sizes();
  return text.str();
}

// 9000 -> "9,000".
std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
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
    throw BadModelOutput(
        "returned shape " + shape_of(value.toTensor()) +
        ", expected [B, >=H, 1, Q] or [B, >=H, Q] with B=" + std::to_string(batch) +
        ", H=" + std::to_string(horizon) + ", Q=" + std::to_string(q));
  }
  return out.narrow(1, 0, horizon);
}

// One line that says why a model failed. The interpreter's error is a
// traceback, then "<exception class>: <message>" (the model's own exception,
// or the op's error): that line, without "builtins."; else the first line.
std::string failure_reason(const std::exception& e) {
  const auto* error = dynamic_cast<const c10::Error*>(&e);
  std::istringstream text(error != nullptr ? error->what_without_backtrace() : e.what());
  static const std::regex cause(R"(^(?:builtins\.)?([A-Za-z_][\w.]*: .*))");
  std::string line, first, reason;
  std::smatch match;
  bool after_traceback = false;
  while (std::getline(text, line)) {
    if (first.empty()) first = line;
    if (line.find("<--- HERE") != std::string::npos) {
      after_traceback = true;  // the cause follows the innermost frame
      reason.clear();
    } else if (after_traceback && reason.empty() && std::regex_match(line, match, cause)) {
      reason = match[1];
    }
  }
  return reason.empty() ? first : reason;
}

ForecastRun forecast_batches(const std::string& model_path, const ModelInspection& inspection,
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
    // Copies, so a model that writes into its arguments changes nothing another call sees.
    std::vector<c10::IValue> args = {
        inputs.narrow(0, begin, count)
            .unsqueeze(-1)
            .to(device, at::kFloat, /*non_blocking=*/false, /*copy=*/true),
        request.horizon, c10::List<double>(request.quantiles)};
    if (inspection.takes_lengths) {
      args.emplace_back(input_lengths.narrow(0, begin, count)
                            .to(device, at::kLong, /*non_blocking=*/false, /*copy=*/true));
    }
    const at::Tensor out = checked_output(method(std::move(args)), count, request.horizon, q);
    result.values.narrow(0, begin, count).copy_(out.cpu());
  }
  result.forward_seconds = std::chrono::duration<double>(Clock::now() - loaded).count();
  const int64_t total = result.values.numel();
  const int64_t non_finite = total - result.values.isfinite().sum().item<int64_t>();
  if (non_finite > 0) {
    result.note = with_commas(non_finite) + " of " + with_commas(total) +
                  " forecast values were not finite (scored as +-1e9)";
  }
  return result;
}

}  // namespace

ForecastRun run_model_forecasts(const std::string& model_path, const ModelInspection& inspection,
                                const at::Tensor& inputs, const at::Tensor& input_lengths,
                                const ForecastRequest& request, const c10::Device& device) {
  try {
    return forecast_batches(model_path, inspection, inputs, input_lengths, request, device);
  } catch (const BadModelOutput&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(failure_reason(e));
  }
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
