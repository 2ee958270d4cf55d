// `crucible worker` (internal): evaluates ONE candidate model on a task
// folder written by `crucible synth` and writes its forecasts, float32
// [S, H, Q] .npy. `crucible eval` runs one worker process per model, so a
// model that crashes, hangs or exhausts memory fails alone. On failure the
// one stderr line starts with the status: "refused:", "bad-output:" or
// "failed:".
#include <memory>
#include <string>

#include "cli_error.h"
#include "commands.h"
#include "crucible/common/npy.h"
#include "crucible/engine/device.h"
#include "crucible/engine/model_forecaster.h"
#include "crucible/engine/quantile_levels.h"
#include "crucible/engine/tensor_npy.h"

namespace crucible {
namespace {

struct WorkerOptions {
  std::string model, task, quantiles, out;
  std::string device = "cpu";
  ModelLimits limits;
};

void run_worker(const WorkerOptions& o) {
  const std::vector<double> levels =
      o.quantiles.empty() ? default_quantile_levels() : parse_quantile_levels(o.quantiles);
  const c10::Device device = parse_device(o.device);
  const ModelInspection inspection = inspect_model(o.model, o.limits);
  if (!inspection.accepted) throw CliError("refused: " + inspection.reason);

  const TaskData task = read_task_directory(o.task);
  at::Tensor forecasts;
  try {
    forecasts = run_model_forecasts(o.model, inspection, task, levels, device);
  } catch (const BadModelOutput& e) {
    throw CliError(std::string("bad-output: ") + e.what());
  } catch (const std::exception& e) {
    throw CliError(std::string("failed: ") + e.what());
  }
  write_npy(o.out, npy_from_tensor(forecasts));
}

}  // namespace

CommandRun add_worker_command(CLI::App& app) {
  auto o = std::make_shared<WorkerOptions>();
  CLI::App* cmd = app.add_subcommand("worker", "internal: evaluate one model on a task folder");
  cmd->group("");  // not listed in --help
  cmd->add_option("--model", o->model)->required();
  cmd->add_option("--task", o->task)->required();
  cmd->add_option("--quantiles", o->quantiles);
  cmd->add_option("--device", o->device);
  cmd->add_option("--max-file-bytes", o->limits.max_file_bytes);
  cmd->add_option("--max-parameters", o->limits.max_parameters);
  cmd->add_option("--out", o->out)->required();
  return [o] { run_worker(*o); };
}

}  // namespace crucible
