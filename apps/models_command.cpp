// `crucible models ...`: what a miner checks before publishing (docs/models.md).
//  - inspect PATH: the verdict on a candidate model before any of it runs. A
//    TorchScript file: size, parameters, methods, op histogram, allowlist. A
//    native folder: architecture, config, parameters, dtypes.
//  - ops: the TorchScript op allowlist, one op per line, sorted.
//  - hash DIR --hotkey HK: the content and secure hashes a validator computes
//    for the folder's files (docs/scoring.md section 7), and with --repo and
//    --commit the commitment string to put on the chain.
//  - make-baselines --out DIR: the baseline models.
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "cli_error.h"
#include "commands.h"
#include "crucible/common/files.h"
#include "crucible/engine/baseline_models.h"
#include "crucible/engine/model_inspector.h"
#include "crucible/engine/native_baselines.h"
#include "crucible/engine/native_model.h"
#include "crucible/validator/disk_model_store.h"
#include "crucible/validator/model_id.h"
#include "crucible/validator/safe_names.h"

namespace crucible {
namespace {

struct InspectOptions {
  std::string path;
  ModelLimits limits;
};

struct HashOptions {
  std::string folder;
  std::string hotkey;
  std::string repo;    // "namespace/name"; empty: no commitment
  std::string commit;  // empty: no commitment
  int64_t competition = 0;
};

enum class ModelsJob { kInspect, kOps, kHash, kMakeBaselines };

struct ModelsOptions {
  ModelsJob job = ModelsJob::kInspect;
  InspectOptions inspect;
  HashOptions hash;
  std::string baselines_out;
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
  const ModelInspection inspection = inspect_untrusted_model(o.path, o.limits);
  print_inspection(o.path, inspection);
  if (!inspection.accepted) throw CliError(o.path + ": refused: " + inspection.reason);
}

void run_ops() {
  for (const std::string& op : allowed_ops()) std::printf("%s\n", op.c_str());
}

// Every file under `folder` (relative '/'-separated path -> bytes), as the
// validator reads a downloaded model folder; links and special files are
// refused, as the validator refuses them.
std::map<std::string, std::string> read_model_folder(const std::string& folder) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(folder, error)) throw CliError(folder + ": not a folder");
  std::map<std::string, std::string> files;
  fs::recursive_directory_iterator it(folder, error), end;
  for (; !error && it != end; it.increment(error)) {
    const fs::file_type type = it->symlink_status().type();
    if (type == fs::file_type::directory) continue;
    const std::string relative = it->path().lexically_relative(folder).generic_string();
    if (type != fs::file_type::regular) {
      throw CliError(folder + ": " + relative +
                     " is a link or a special file, which a validator refuses (bad-files)");
    }
    files[relative] = read_file(it->path().string());
  }
  if (error) throw CliError(folder + ": cannot list the folder: " + error.message());
  const bool torchscript = files.count("model.pt") > 0;
  const bool native = files.count("config.json") > 0 && files.count("model.safetensors") > 0;
  if (!torchscript && !native) {
    throw CliError(folder +
                   ": neither model.pt nor config.json + model.safetensors at the top level, "
                   "which a validator refuses (bad-files)");
  }
  return files;
}

// The commitment for --repo and --commit, checked as a validator's hub checks them.
std::string commitment_for(const HashOptions& o, const std::string& secure) {
  const size_t slash = o.repo.find('/');
  ModelId id;
  id.namespace_ = o.repo.substr(0, slash);
  id.name = slash == std::string::npos ? "" : o.repo.substr(slash + 1);
  if (slash == std::string::npos || !is_safe_path_segment(id.namespace_) ||
      !is_safe_path_segment(id.name)) {
    throw CliError(
        "--repo: expected namespace/name, each of [A-Za-z0-9._-] and not starting "
        "with '.', got \"" +
        o.repo + "\"");
  }
  if (!is_safe_path_segment(o.commit)) {
    throw CliError("--commit: expected [A-Za-z0-9._-], not starting with '.', got \"" + o.commit +
                   "\"");
  }
  if (o.competition < 0) throw CliError("--competition: expected an id >= 0");
  id.commit = o.commit;
  id.secure_hash = secure;
  id.competition_id = o.competition;
  std::string commitment;
  try {
    commitment = id.to_commitment();
  } catch (const ModelIdError& e) {
    throw CliError(std::string("--repo: ") + e.what());
  }
  const std::string committed_repo = ModelId::parse(commitment).repo_id();
  if (committed_repo != id.repo_id()) {
    std::fprintf(stderr,
                 "note: the name is shortened to fit %zu bytes; a validator downloads "
                 "%s, so publish the model under that name\n",
                 ModelId::kMaxCommitmentBytes, committed_repo.c_str());
  }
  return commitment;
}

void run_hash(const HashOptions& o) {
  if (!DiskModelStore::is_valid_hotkey(o.hotkey)) {
    throw CliError("--hotkey: expected 1 to 128 characters of [A-Za-z0-9_-], got \"" + o.hotkey +
                   "\"");
  }
  if (o.repo.empty() != o.commit.empty()) {
    throw CliError(o.repo.empty() ? "--commit needs --repo" : "--repo needs --commit");
  }
  const std::map<std::string, std::string> files = read_model_folder(o.folder);
  const std::string content = content_hash(files);
  const std::string secure = secure_hash(content, o.hotkey);
  const std::string commitment = o.repo.empty() ? "" : commitment_for(o, secure);

  std::printf("folder        %s\n", o.folder.c_str());
  for (const auto& [path, bytes] : files) {
    std::printf("file          %s (%zu bytes)\n", path.c_str(), bytes.size());
    const std::string top = path.substr(0, path.find('/'));
    if (top == ".git" || top == ".cache") {
      std::fprintf(stderr,
                   "warning: %s is hashed; a hub repository's file list does not hold it, so "
                   "a validator's hash would differ: hash a folder without %s/\n",
                   path.c_str(), top.c_str());
    }
  }
  std::printf("hotkey        %s\n", o.hotkey.c_str());
  std::printf("content hash  %s\n", content.c_str());
  std::printf("secure hash   %s\n", secure.c_str());
  if (!commitment.empty()) std::printf("commitment    %s\n", commitment.c_str());
}

}  // namespace

void run_make_baselines(const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error)
    throw CliError("--out: " + directory + ": cannot create the folder: " + error.message());
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
  cmd->callback([options] { options->job = ModelsJob::kInspect; });

  CLI::App* ops = models->add_subcommand(
      "ops", "Print the ops a TorchScript model may use, one per line, sorted");
  ops->callback([options] { options->job = ModelsJob::kOps; });

  HashOptions* hash = &options->hash;
  CLI::App* hash_cmd = models->add_subcommand(
      "hash",
      "Print a model folder's content hash and secure hash as a validator computes them, and "
      "with --repo and --commit the commitment string");
  hash_cmd->add_option("folder", hash->folder, "the folder of the model's files, as uploaded")
      ->required();
  hash_cmd->add_option("--hotkey", hash->hotkey, "the miner's hotkey (SS58 address)")->required();
  CLI::Option* repo =
      hash_cmd->add_option("--repo", hash->repo, "the hub repository: namespace/name");
  hash_cmd->add_option("--commit", hash->commit, "the repository's commit holding these files");
  hash_cmd->add_option("--competition", hash->competition, "the competition id")
      ->capture_default_str()
      ->needs(repo);
  hash_cmd->callback([options] { options->job = ModelsJob::kHash; });

  CLI::App* baselines = models->add_subcommand(
      "make-baselines",
      "Write the baseline models: TorchScript (naive, ..., transformer) and native Chronos-Bolt");
  baselines
      ->add_option("--out", options->baselines_out, "folder for the models (created when missing)")
      ->required();
  baselines->callback([options] { options->job = ModelsJob::kMakeBaselines; });
  return [options] {
    switch (options->job) {
      case ModelsJob::kInspect:
        run_inspect(options->inspect);
        break;
      case ModelsJob::kOps:
        run_ops();
        break;
      case ModelsJob::kHash:
        run_hash(options->hash);
        break;
      case ModelsJob::kMakeBaselines:
        run_make_baselines(options->baselines_out);
        break;
    }
  };
}

}  // namespace crucible
