// `crucible worker` (internal): a long-lived worker process of the model
// runner (see worker_pool.h for the protocol). It loads the task once, says
// "ready", then for each request line "<model path>\t<output .npy path>"
// inspects and runs that model, writes its forecasts (float32 [S, H, Q]) and
// replies with one line: "ok <load seconds> <forward seconds> <L>[ <note>]"
// (L is 1 when the model takes the input lengths, else 0; the note when some
// forecast values are not finite), or "refused: ...",
// "bad-output: ..." or "failed: ..." with the reason. The protocol has its own
// copy of stdout; the process's stdout goes to stderr, so nothing a model
// prints can forge a reply.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "cli_error.h"
#include "commands.h"
#include "crucible/common/npy.h"
#include "crucible/engine/data/tensor_npy.h"
#include "crucible/engine/device.h"
#include "crucible/engine/models/torchscript/model_forecaster.h"
#include "crucible/engine/scoring/quantile_levels.h"

namespace crucible {
namespace {

struct WorkerOptions {
  std::string task, quantiles;
  std::string device = "cpu";
  int threads = 0;
  ModelLimits limits;
};

// The first line of `text`, so a reply stays one line.
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string evaluate(const std::string& request, const TaskData& task,
                     const std::vector<double>& levels, const c10::Device& device,
                     const ModelLimits& limits) {
  const size_t tab = request.find('\t');
  if (tab == std::string::npos) return "failed: malformed request";
  const std::string model = request.substr(0, tab), out = request.substr(tab + 1);
  const ModelInspection inspection = inspect_untrusted_model(model, limits);
  if (!inspection.accepted) return "refused: " + first_line(inspection.reason);
  try {
    const ForecastRun forecasts = run_model_forecasts(model, inspection, task, levels, device);
    write_npy(out, npy_from_tensor(forecasts.values));
    char timing[64];
    std::snprintf(timing, sizeof timing, "ok %.6f %.6f %d", forecasts.load_seconds,
                  forecasts.forward_seconds, inspection.takes_lengths ? 1 : 0);
    return forecasts.note.empty() ? timing : timing + (" " + first_line(forecasts.note));
  } catch (const BadModelOutput& e) {
    return "bad-output: " + first_line(e.what());
  } catch (const std::exception& e) {
    return "failed: " + first_line(e.what());
  }
}

void run_worker(const WorkerOptions& o) {
  const int protocol_fd = ::dup(1);
  FILE* protocol = protocol_fd >= 0 ? ::fdopen(protocol_fd, "w") : nullptr;
  if (protocol == nullptr || ::dup2(2, 1) < 0) throw CliError("cannot set up the protocol pipe");

  set_cpu_threads(o.threads);
  const std::vector<double> levels =
      o.quantiles.empty() ? default_quantile_levels() : parse_quantile_levels(o.quantiles);
  const c10::Device device = parse_device(o.device);
  const TaskData task = read_task_directory(o.task);
  std::fprintf(protocol, "ready\n");
  std::fflush(protocol);
  std::string request;
  while (std::getline(std::cin, request)) {
    std::fprintf(protocol, "%s\n", evaluate(request, task, levels, device, o.limits).c_str());
    std::fflush(protocol);
  }
}

}  // namespace

CommandRun add_worker_command(CLI::App& app) {
  auto o = std::make_shared<WorkerOptions>();
  CLI::App* cmd = app.add_subcommand("worker", "internal: evaluate models sent on stdin");
  cmd->group("");  // not listed in --help
  cmd->add_option("--task", o->task)->required();
  cmd->add_option("--quantiles", o->quantiles);
  cmd->add_option("--device", o->device);
  cmd->add_option("--threads", o->threads);
  cmd->add_option("--max-file-bytes", o->limits.max_file_bytes);
  cmd->add_option("--max-parameters", o->limits.max_parameters);
  return [o] { run_worker(*o); };
}

}  // namespace crucible
