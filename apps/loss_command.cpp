// `crucible loss`: per-series losses from targets and forecasts (.npy in and out).
#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "cli_error.h"
#include "commands.h"
#include "crucible/common/npy.h"
#include "crucible/engine/data/tensor_npy.h"
#include "crucible/engine/device.h"
#include "crucible/engine/scoring/quantile_levels.h"
#include "crucible/engine/scoring/series_losses.h"

namespace crucible {
namespace {

struct LossOptions {
  std::string metric = "crps";
  std::string targets, forecasts, lengths, quantiles, out;
  std::string device = "auto";
};

at::Tensor read_targets(const std::string& path) {
  const NpyArray array = read_npy(path);
  if (array.dtype != NpyDtype::kFloat32 || array.shape.size() != 2) {
    throw CliError(path + ": targets must be a float32 [S, H] array, got " +
                   npy_descr(array.dtype) + " with " + std::to_string(array.shape.size()) +
                   " dimensions");
  }
  return tensor_from_npy(array);
}

ModelForecasts read_forecasts(const std::string& path, const at::Tensor& targets) {
  const NpyArray array = read_npy(path);
  if (array.dtype != NpyDtype::kFloat32) {
    throw CliError(path + ": forecasts must be float32, got " + npy_descr(array.dtype));
  }
  return with_context(path, [&] {
    return as_model_forecasts(tensor_from_npy(array), targets.size(0), targets.size(1));
  });
}

at::Tensor read_lengths(const std::string& path, const at::Tensor& targets) {
  if (path.empty()) return at::full({targets.size(0)}, targets.size(1), at::kLong);
  const NpyArray array = read_npy(path);
  if (array.dtype != NpyDtype::kInt64 && array.dtype != NpyDtype::kInt32) {
    throw CliError(path + ": lengths must be int64 or int32, got " + npy_descr(array.dtype));
  }
  const at::Tensor lengths = tensor_from_npy(array).to(at::kLong);
  with_context(path, [&] { check_target_lengths(lengths, targets.size(0), targets.size(1)); });
  return lengths;
}

void run_loss(const LossOptions& o) {
  const LossMetric metric = with_context("--metric", [&] { return parse_loss_metric(o.metric); });
  if (metric == LossMetric::kCrps && !o.quantiles.empty()) {
    throw CliError(
        "--quantiles: crps scores the forecast values as an ensemble and takes no levels; "
        "the levels are for pinball, wql, mae and mse");
  }
  const std::vector<double> levels =
      o.quantiles.empty()
          ? default_quantile_levels()
          : with_context("--quantiles", [&] { return parse_quantile_levels(o.quantiles); });
  const c10::Device device = with_context("--device", [&] { return parse_device(o.device); });

  const at::Tensor targets = read_targets(o.targets);
  const ModelForecasts model_forecasts = read_forecasts(o.forecasts, targets);
  const at::Tensor& forecasts = model_forecasts.values;
  const at::Tensor lengths = read_lengths(o.lengths, targets);

  at::Tensor losses = with_context(o.forecasts, [&] {
    return series_losses(metric, targets.to(device), forecasts.to(device), lengths.to(device),
                         levels);
  });
  if (!model_forecasts.has_model_axis) losses = losses.squeeze(0);
  write_npy(o.out, npy_from_tensor(losses.cpu()));
}

}  // namespace

CommandRun add_loss_command(CLI::App& app) {
  auto options = std::make_shared<LossOptions>();
  CLI::App* cmd = app.add_subcommand("loss", "Per-series losses from targets and forecasts (.npy)");
  cmd->add_option("--metric", options->metric, "crps, pinball, wql, mae or mse")
      ->capture_default_str();
  cmd->add_option("--targets", options->targets, "float32 [S, H] targets")->required();
  cmd->add_option("--forecasts", options->forecasts,
                  "float32 [S, H, Q] or [U, S, H, Q] (a size-1 axis before Q is accepted)")
      ->required();
  cmd->add_option("--lengths", options->lengths, "int64 or int32 [S] target lengths (default H)");
  cmd->add_option("--quantiles", options->quantiles,
                  "comma-separated quantile levels in (0, 1) (default 0.1,...,0.9); not with crps");
  cmd->add_option("--device", options->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--out", options->out, "float64 [S] or [U, S] losses (.npy)")->required();
  return [options] { run_loss(*options); };
}

}  // namespace crucible
