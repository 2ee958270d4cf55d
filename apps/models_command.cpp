// `crucible models inspect PATH`: the verdict on a candidate model before any
// of it runs. A TorchScript file: size, parameters, methods, op histogram,
// allowlist. A native folder: architecture, config, parameters, dtypes.
#include <cstdio>
#include <memory>
#include <string>

#include "cli_error.h"
#include "commands.h"
#include "crucible/engine/baseline_models.h"
#include "crucible/engine/model_inspector.h"
#include "crucible/engine/native_baselines.h"
#include "crucible/engine/native_model.h"

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

void print_native_inspection(const std::string& path, const NativeModelInspection& r) {
  std::printf("model         %s\n", path.c_str());
  std::printf("format        native (config.json + model.safetensors)\n");
  std::printf("verdict       %s\n", r.accepted ? "accepted" : "refused");
  if (!r.accepted) std::printf("reason        %s\n", r.reason.c_str());
  if (!r.architecture.empty()) std::printf("architecture  %s\n", r.architecture.c_str());
  std::printf("file bytes    %lld\n", static_cast<long long>(r.file_bytes));
  if (r.parameters > 0) std::printf("parameters    %lld\n", static_cast<long long>(r.parameters));
  for (const auto& [dtype, count] : r.dtype_counts) {
    std::printf("dtype         %s (%lld tensors)\n", dtype.c_str(), static_cast<long long>(count));
  }
  if (!r.accepted) return;
  const ChronosBoltConfig& c = r.config;
  std::printf(
      "t5            d_model %lld, d_ff %lld, %lld heads x d_kv %lld, %lld + %lld layers, "
      "%s%s\n",
      static_cast<long long>(c.d_model), static_cast<long long>(c.d_ff),
      static_cast<long long>(c.num_heads), static_cast<long long>(c.d_kv),
      static_cast<long long>(c.num_layers), static_cast<long long>(c.num_decoder_layers),
      c.gated_feed_forward ? "gated " : "", activation_name(c.activation));
  std::printf("chronos       context %lld, prediction %lld, patch %lld / stride %lld, [REG] %s\n",
              static_cast<long long>(c.context_length), static_cast<long long>(c.prediction_length),
              static_cast<long long>(c.input_patch_size),
              static_cast<long long>(c.input_patch_stride), c.use_reg_token ? "yes" : "no");
  std::printf("quantiles    ");
  for (double level : c.quantiles) std::printf(" %g", level);
  std::printf("\n");
}

void run_inspect(const InspectOptions& o) {
  if (is_native_model_folder(o.path)) {
    const NativeModelInspection inspection = inspect_native_model(o.path, o.limits);
    print_native_inspection(o.path, inspection);
    if (!inspection.accepted) throw CliError(o.path + ": refused: " + inspection.reason);
    return;
  }
  const ModelInspection inspection = inspect_model(o.path, o.limits);
  print_inspection(o.path, inspection);
  if (!inspection.accepted) throw CliError(o.path + ": refused: " + inspection.reason);
}

}  // namespace

void run_make_baselines(const std::string& directory) {
  const std::vector<std::string> scripts = write_baseline_models(directory);
  for (const std::string& path : scripts) {
    const ModelInspection inspection = inspect_model(path, ModelLimits{});
    std::printf("wrote %-40s %s\n", path.c_str(),
                inspection.accepted ? "accepted" : inspection.reason.c_str());
  }
  const int64_t first_native_uid = static_cast<int64_t>(scripts.size());
  for (const std::string& path : write_native_baseline_models(directory, first_native_uid)) {
    const NativeModelInspection inspection = inspect_native_model(path, ModelLimits{});
    std::printf("wrote %-40s %s\n", path.c_str(),
                inspection.accepted ? "accepted (native)" : inspection.reason.c_str());
  }
}

CommandRun add_models_command(CLI::App& app) {
  auto options = std::make_shared<ModelsOptions>();
  InspectOptions* inspect = &options->inspect;
  CLI::App* models = app.add_subcommand("models", "Candidate models: checks before running them");
  models->require_subcommand(1);
  CLI::App* cmd =
      models->add_subcommand("inspect", "Validate a model, print its limits and ops or config");
  cmd->add_option("path", inspect->path,
                  "TorchScript archive (.pt) or native model folder (config.json + "
                  "model.safetensors)")
      ->required();
  cmd->add_option("--max-file-bytes", inspect->limits.max_file_bytes, "file size limit")
      ->capture_default_str();
  cmd->add_option("--max-parameters", inspect->limits.max_parameters,
                  "parameter (and buffer) count limit")
      ->capture_default_str();
  CLI::App* baselines = models->add_subcommand(
      "make-baselines",
      "Write the baseline models: TorchScript (naive, ..., transformer) and native Chronos-Bolt");
  baselines->add_option("--out", options->baselines_out, "existing folder for the models")
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
