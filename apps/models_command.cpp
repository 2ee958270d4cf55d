// `crucible models inspect FILE`: the verdict on a candidate model before any
// of it runs (size, parameters, methods, op histogram, allowlist).
#include <cstdio>
#include <memory>
#include <string>

#include "cli_error.h"
#include "commands.h"
#include "crucible/engine/baseline_models.h"
#include "crucible/engine/model_inspector.h"

namespace crucible {
namespace {

struct InspectOptions {
  std::string path;
  ModelLimits limits;
};

struct ModelsOptions {
  InspectOptions inspect;
  std::string baselines_out;
  bool make_baselines = false;
};

void print_inspection(const std::string& path, const ModelInspection& r) {
  std::printf("model       %s\n", path.c_str());
  std::printf("verdict     %s\n", r.accepted ? "accepted" : "refused");
  if (!r.accepted) std::printf("reason      %s\n", r.reason.c_str());
  std::printf("file bytes  %lld\n", static_cast<long long>(r.file_bytes));
  std::printf("parameters  %lld\n", static_cast<long long>(r.parameters));
  if (!r.entry_method.empty()) {
    std::printf("entry       %s%s\n", r.entry_method.c_str(),
                r.takes_lengths ? " (with input lengths)" : "");
  }
  for (const std::string& method : r.methods) std::printf("method      %s\n", method.c_str());
  for (const auto& [op, count] : r.op_counts) {
    std::printf("op %8lld  %s%s\n", static_cast<long long>(count), op.c_str(),
                is_allowed_op(op) ? "" : "   <- not allowed");
  }
}

void run_inspect(const InspectOptions& o) {
  const ModelInspection inspection = inspect_model(o.path, o.limits);
  print_inspection(o.path, inspection);
  if (!inspection.accepted) throw CliError(o.path + ": refused: " + inspection.reason);
}

}  // namespace

void run_make_baselines(const std::string& directory) {
  for (const std::string& path : write_baseline_models(directory)) {
    const ModelInspection inspection = inspect_model(path, ModelLimits{});
    std::printf("wrote %-40s %s\n", path.c_str(),
                inspection.accepted ? "accepted" : inspection.reason.c_str());
  }
}

CommandRun add_models_command(CLI::App& app) {
  auto options = std::make_shared<ModelsOptions>();
  InspectOptions* inspect = &options->inspect;
  CLI::App* models = app.add_subcommand("models", "Candidate models: checks before running them");
  models->require_subcommand(1);
  CLI::App* cmd =
      models->add_subcommand("inspect", "Validate a model file, print its limits and ops");
  cmd->add_option("file", inspect->path, "TorchScript archive (.pt)")->required();
  cmd->add_option("--max-file-bytes", inspect->limits.max_file_bytes, "file size limit")
      ->capture_default_str();
  cmd->add_option("--max-parameters", inspect->limits.max_parameters,
                  "parameter (and buffer) count limit")
      ->capture_default_str();
  CLI::App* baselines = models->add_subcommand(
      "make-baselines", "Write the baseline TorchScript models (naive, ..., transformer)");
  baselines->add_option("--out", options->baselines_out, "existing folder for the .pt files")
      ->required()
      ->check(CLI::ExistingDirectory);
  baselines->callback([options] { options->make_baselines = true; });
  return [options] {
    if (options->make_baselines) {
      run_make_baselines(options->baselines_out);
    } else {
      run_inspect(options->inspect);
    }
  };
}

}  // namespace crucible
