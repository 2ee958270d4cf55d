#include "crucible/engine/models/torchscript/model_forecaster.h"

#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <regex>
#include <sstream>
#include <utility>
#include <vector>

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

// Each series' group id: `given`, or 0 .. series - 1 when empty.
std::vector<int64_t> series_group_ids(const std::vector<int64_t>& given, int64_t series) {
  if (!given.empty()) return given;
  std::vector<int64_t> ids(static_cast<size_t>(series));
  for (int64_t j = 0; j < series; ++j) ids[static_cast<size_t>(j)] = j;
  return ids;
}

// The (first series, count) of each call: `batch_size` series at a time, or,
// when `whole_groups`, as many whole groups as fit in batch_size (a larger
// group alone).
std::vector<std::pair<int64_t, int64_t>> forecast_batches(const std::vector<int64_t>& group_ids,
                                                          int64_t batch_size, bool whole_groups) {
  const auto series = static_cast<int64_t>(group_ids.size());
  std::vector<std::pair<int64_t, int64_t>> batches;
  int64_t begin = 0;
  while (begin < series) {
    int64_t end = std::min(series, begin + batch_size);
    if (whole_groups) {
      const auto group_end = [&](int64_t j) {
        while (j < series && group_ids[j] == group_ids[j - 1]) ++j;
        return j;
      };
      int64_t fitted = group_end(begin + 1);  // the first group, whatever its size
      while (fitted < series && group_end(fitted + 1) - begin <= batch_size) {
        fitted = group_end(fitted + 1);
      }
      end = fitted;
    }
    batches.emplace_back(begin, end - begin);
    begin = end;
  }
  return batches;
}

ForecastRun forecast_in_batches(const std::string& model_path, const ModelInspection& inspection,
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

  const std::vector<int64_t> group_ids = series_group_ids(request.group_ids, series);
  const at::Tensor future_inputs =
      request.future_inputs.defined()
          ? request.future_inputs
          : at::full({series, request.horizon}, std::numeric_limits<float>::quiet_NaN());
  const auto copy_to_device = [&](const at::Tensor& values, at::ScalarType dtype) {
    return values.to(device, dtype, /*non_blocking=*/false, /*copy=*/true);
  };
  c10::InferenceMode inference;
  for (const auto& [begin, count] :
       forecast_batches(group_ids, request.batch_size, inspection.takes_groups)) {
    // Copies, so a model that writes into its arguments changes nothing another call sees.
    std::vector<c10::IValue> args = {
        copy_to_device(inputs.narrow(0, begin, count).unsqueeze(-1), at::kFloat), request.horizon,
        c10::List<double>(request.quantiles)};
    if (inspection.takes_lengths) {
      args.emplace_back(copy_to_device(input_lengths.narrow(0, begin, count), at::kLong));
    }
    if (inspection.takes_groups) {
      args.emplace_back(copy_to_device(
          at::tensor(
              std::vector<int64_t>(group_ids.begin() + begin, group_ids.begin() + begin + count),
              at::kLong),
          at::kLong));
      args.emplace_back(copy_to_device(future_inputs.narrow(0, begin, count), at::kFloat));
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
    return forecast_in_batches(model_path, inspection, inputs, input_lengths, request, device);
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
  if (has_groups(task)) {
    request.group_ids = task.group_ids;
    request.future_inputs = at::from_blob(const_cast<float*>(task.future_inputs.data()),
                                          {task.num_series, task.target_width}, at::kFloat);
  }
  return run_model_forecasts(model_path, inspection, inputs, lengths, request, device);
}

}  // namespace crucible
