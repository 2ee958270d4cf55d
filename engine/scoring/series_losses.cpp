#include "crucible/engine/scoring/series_losses.h"

#include <ATen/ATen.h>

#include <stdexcept>

#include "crucible/engine/scoring/quantile_levels.h"

namespace crucible {
namespace {

struct MetricName {
  const char* name;
  LossMetric metric;
};
constexpr MetricName kMetrics[] = {{"crps", LossMetric::kCrps},
                                   {"pinball", LossMetric::kPinball},
                                   {"wql", LossMetric::kWql},
                                   {"mae", LossMetric::kMae},
                                   {"mse", LossMetric::kMse}};

std::string shape_text(const at::Tensor& t) {
  std::string text = "[";
  for (int64_t d = 0; d < t.dim(); ++d) text += (d ? ", " : "") + std::to_string(t.size(d));
  return text + "]";
}

[[noreturn]] void reject(const std::string& what) { throw std::invalid_argument(what); }

}  // namespace

LossMetric parse_loss_metric(const std::string& name) {
  for (const MetricName& m : kMetrics) {
    if (name == m.name) return m.metric;
  }
  reject("unknown metric '" + name + "' (expected crps, pinball, wql, mae or mse)");
}

const char* loss_metric_name(LossMetric metric) {
  for (const MetricName& m : kMetrics) {
    if (metric == m.metric) return m.name;
  }
  return "?";
}

ModelForecasts as_model_forecasts(const at::Tensor& forecasts, int64_t num_series,
                                  int64_t horizon) {
  const bool series_first =
      forecasts.dim() >= 3 && forecasts.size(0) == num_series && forecasts.size(1) == horizon;
  if (forecasts.dim() == 3 && series_first) return {forecasts.unsqueeze(0), false};
  if (forecasts.dim() == 4 && series_first && forecasts.size(2) == 1) {
    return {forecasts.squeeze(2).unsqueeze(0), false};
  }
  const bool model_first =
      forecasts.dim() >= 4 && forecasts.size(1) == num_series && forecasts.size(2) == horizon;
  if (forecasts.dim() == 4 && model_first) return {forecasts, true};
  if (forecasts.dim() == 5 && model_first && forecasts.size(3) == 1) {
    return {forecasts.squeeze(3), true};
  }
  reject("forecasts shape " + shape_text(forecasts) + " does not fit targets [" +
         std::to_string(num_series) + ", " + std::to_string(horizon) +
         "] (expected [S, H, Q] or [U, S, H, Q], optionally with a size-1 axis before Q)");
}

void check_target_lengths(const at::Tensor& lengths, int64_t num_series, int64_t horizon) {
  if (lengths.scalar_type() != at::kLong) reject("lengths must be int64");
  if (lengths.dim() != 1 || lengths.size(0) != num_series) {
    reject("lengths shape " + shape_text(lengths) + " does not match the " +
           std::to_string(num_series) + " series of the targets (expected [S])");
  }
  if (lengths.numel() == 0) return;
  const at::Tensor cpu = lengths.cpu();
  const int64_t lowest = cpu.min().item<int64_t>();
  const int64_t highest = cpu.max().item<int64_t>();
  if (lowest < 0) reject("lengths hold a negative value (" + std::to_string(lowest) + ")");
  if (highest > horizon) {
    reject("lengths hold " + std::to_string(highest) +
           ", more than the horizon H = " + std::to_string(horizon));
  }
}

void check_loss_inputs(const at::Tensor& targets, const at::Tensor& forecasts,
                       const at::Tensor& lengths) {
  if (targets.dim() != 2) reject("targets must be [S, H], got " + shape_text(targets));
  if (targets.scalar_type() != at::kFloat) reject("targets must be float32");
  if (forecasts.scalar_type() != at::kFloat) reject("forecasts must be float32");
  if (forecasts.dim() != 4 || forecasts.size(1) != targets.size(0) ||
      forecasts.size(2) != targets.size(1)) {
    reject("forecasts shape " + shape_text(forecasts) + " does not match targets " +
           shape_text(targets) + " (expected [U, S, H, Q])");
  }
  if (forecasts.size(3) < 1 || forecasts.size(3) > kMaxQuantiles) {
    reject("forecasts have " + std::to_string(forecasts.size(3)) +
           " values per step; expected 1 to " + std::to_string(kMaxQuantiles));
  }
  check_target_lengths(lengths, targets.size(0), targets.size(1));
  if (targets.device() != forecasts.device() || lengths.device() != forecasts.device()) {
    reject("targets, forecasts and lengths must be on one device");
  }
}

at::Tensor series_losses(LossMetric metric, const at::Tensor& targets, const at::Tensor& forecasts,
                         const at::Tensor& lengths, const std::vector<double>& levels) {
  check_loss_inputs(targets, forecasts, lengths);
  const int64_t q = forecasts.size(3);
  if (metric != LossMetric::kCrps && static_cast<int64_t>(levels.size()) != q) {
    reject(std::string(loss_metric_name(metric)) +
           " needs one forecast value per quantile level: " + "forecasts have " +
           std::to_string(q) + ", the levels are " + std::to_string(levels.size()));
  }
  const at::Tensor level_tensor =
      at::tensor(levels.empty() ? std::vector<double>{0.5} : levels, at::kDouble)
          .to(forecasts.device());
  StepLossParams params{};
  params.metric = metric;
  params.num_quantiles = static_cast<int32_t>(q);
  params.median_index = levels.empty() ? 0 : median_level_index(levels);
  params.levels = level_tensor.data_ptr<double>();

  const at::Tensor t = targets.contiguous(), f = forecasts.contiguous(), n = lengths.contiguous();
  at::Tensor out = at::empty({f.size(0), f.size(1)}, f.options().dtype(at::kDouble));
  if (f.is_cuda()) {
    series_losses_cuda(params, t, f, n, out);
  } else {
    series_losses_cpu(params, t, f, n, out);
  }
  return out;
}

}  // namespace crucible
