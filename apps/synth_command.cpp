// `crucible synth`: a task's data for a seed, from the synthetic GP generator
// or windows of a real dataset, written all-or-nothing to a folder.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli_error.h"
#include "cli_options.h"
#include "commands.h"
#include "crucible/engine/data/real_datasets.h"
#include "crucible/engine/data/synthetic_gp_torch.h"
#include "crucible/engine/device.h"

namespace crucible {
namespace {

struct SynthOptions {
  SyntheticGpOptions gp;
  std::string dataset = "synthetic";
  int64_t horizon = 64;
  std::string device = "auto";
  std::string out;
};

TaskData real_dataset_task(const SynthOptions& o) {
  if (o.horizon < 1 || o.horizon >= o.gp.length) {
    throw CliError("--horizon: must be at least 1 and less than --length");
  }
  WindowOptions windows;
  windows.seed = o.gp.seed;
  windows.num_windows = o.gp.num_series;
  windows.horizon = o.horizon;
  windows.max_context = o.gp.length - o.horizon;
  windows.min_context = std::min<int64_t>(windows.min_context, windows.max_context);
  const WindowedTask task = make_windows(load_dataset(o.dataset), windows);
  if (task.skipped_series > 0) {
    std::fprintf(stderr, "%s: %lld series shorter than %lld points skipped\n", o.dataset.c_str(),
                 static_cast<long long>(task.skipped_series),
                 static_cast<long long>(windows.min_context + windows.horizon));
  }
  return task.task;
}

void check_group_flags(const SynthOptions& o) {
  if (o.dataset != "synthetic" && gp_has_groups(o.gp)) {
    throw CliError(
        "--group-targets, --past-covariates, --known-covariates: for --dataset synthetic only (a "
        "real dataset's records give their groups)");
  }
  if (gp_rows_per_group(o.gp) > kMaxGroupRows) {
    throw CliError("--group-targets, --past-covariates, --known-covariates: at most " +
                   std::to_string(kMaxGroupRows) + " rows per group, got " +
                   std::to_string(gp_rows_per_group(o.gp)));
  }
}

void run_synth(const SynthOptions& o) {
  const c10::Device device = with_context("--device", [&] { return parse_device(o.device); });
  check_group_flags(o);
  const TaskData task =
      o.dataset == "synthetic" ? generate_synthetic_gp(o.gp, device) : real_dataset_task(o);
  write_task_directory(task, o.out);
  const std::vector<int64_t> groups = row_group_ids(task);
  std::printf(
      "wrote %lld series in %lld groups (inputs up to %lld, targets up to %lld points) to %s\n",
      static_cast<long long>(task.num_series),
      static_cast<long long>(groups.empty() ? 0 : groups.back() + 1),
      static_cast<long long>(task.input_width), static_cast<long long>(task.target_width),
      o.out.c_str());
}

}  // namespace

CommandRun add_synth_command(CLI::App& app) {
  auto o = std::make_shared<SynthOptions>();
  CLI::App* cmd = app.add_subcommand("synth", "Generate a task's data for a seed");
  cmd->add_option("--length", o->gp.length, "series length L")->capture_default_str();
  cmd->add_option("--series", o->gp.num_series, "number of series S (of groups, with covariates)")
      ->capture_default_str();
  add_seed_option(cmd, o->gp.seed, "round seed")->required();
  cmd->add_option("--samples-per-kernel", o->gp.samples_per_kernel, "series sharing one kernel")
      ->capture_default_str();
  cmd->add_option("--min-input-frac", o->gp.min_input_fraction, "smallest input fraction")
      ->capture_default_str();
  cmd->add_option("--max-input-frac", o->gp.max_input_fraction, "largest input fraction")
      ->capture_default_str();
  cmd->add_option("--group-targets", o->gp.group_targets, "target rows per group")
      ->check(CLI::Range(int64_t{1}, kMaxGroupRows))
      ->capture_default_str();
  cmd->add_option("--past-covariates", o->gp.past_covariates,
                  "past-only covariate rows per group (not scored)")
      ->check(CLI::Range(int64_t{0}, kMaxGroupRows))
      ->capture_default_str();
  cmd->add_option("--known-covariates", o->gp.known_covariates,
                  "known covariate rows per group, future values given (not scored)")
      ->check(CLI::Range(int64_t{0}, kMaxGroupRows))
      ->capture_default_str();
  cmd->add_option("--dataset", o->dataset, "synthetic, or a .csv/.jsonl/.npy file")
      ->capture_default_str();
  cmd->add_option("--horizon", o->horizon, "target length for a real dataset")
      ->capture_default_str();
  cmd->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--out", o->out,
                  "folder for inputs.npy, targets.npy, lengths, kernels.json (and group_ids.npy, "
                  "roles.npy, future_inputs.npy for groups)")
      ->required();
  return [o] { run_synth(*o); };
}

}  // namespace crucible
