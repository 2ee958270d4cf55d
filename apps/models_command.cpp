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
#include "competition_rules.h"
#include "crucible/common/files.h"
#include "crucible/common/model_files.h"
#include "crucible/engine/models/native/native_model.h"
#include "crucible/engine/models/torchscript/baseline_models.h"
#include "crucible/engine/models/torchscript/model_inspector.h"
#include "crucible/validator/disk_model_store.h"
#include "crucible/validator/model_id.h"
#include "crucible/validator/safe_names.h"

namespace crucible {
namespace {

struct InspectOptions {
  std::string path;
  CompetitionRulesOptions rules;  // --schedule, --competition, --block, the limits
};

struct HashOptions {
  std::string folder;
  std::string hotkey;
  std::string repo;    // "namespace/name"; empty: no commitment
  std::string commit;  // empty: no commitment
  int64_t competition = 0;
  CompetitionRulesOptions rules;  // its --competition is the commitment's
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
                r.takes_groups    ? " (with input lengths, group ids and future inputs)"
                : r.takes_lengths ? " (with input lengths)"
                                  : "");
  }
  for (const std::string& method : r.methods) std::printf("method      %s\n", method.c_str());
  for (const auto& [op, count] : r.op_counts) {
    std::printf("op %8lld  %s%s\n", static_cast<long long>(count), op.c_str(),
                is_allowed_op(op) ? "" : "   <- not allowed");
  }
}

void print_native_inspection(const std::string& path, const NativeModelInspection& r) {
  std::printf("model         %s\n", path.c_str());
  std::printf("format        native (config.json + %s)\n",
              r.sharded ? "model.safetensors.index.json and its shards" : "model.safetensors");
  std::printf("verdict       %s\n", r.accepted ? "accepted" : "refused");
  if (!r.accepted) std::printf("reason        %s\n", r.reason.c_str());
  if (!r.architecture.empty()) std::printf("architecture  %s\n", r.architecture.c_str());
  for (const std::string& missing : r.defaults_used) {
    std::printf("default       %s\n", missing.c_str());
  }
  std::printf("file bytes    %lld\n", static_cast<long long>(r.file_bytes));
  if (r.parameters > 0) std::printf("parameters    %lld\n", static_cast<long long>(r.parameters));
  for (const auto& [dtype, count] : r.dtype_counts) {
    std::printf("dtype         %s (%lld tensors)\n", dtype.c_str(), static_cast<long long>(count));
  }
  if (!r.accepted) return;
  for (const auto& [label, text] : r.config->summary()) {
    std::printf("%-13s %s\n", label.c_str(), text.c_str());
  }
}

// The files a validator counts in a folder, one line each, and their total.
void print_counted_files(const std::vector<RepositoryFile>& files) {
  for (const RepositoryFile& file : files) {
    std::printf("counted       %s (%lld bytes)\n", file.relative_path.c_str(),
                static_cast<long long>(file.size));
  }
  std::printf("total bytes   %lld (every file above counts against the size limit)\n",
              static_cast<long long>(total_bytes(files)));
}

// The verdict a validator gives `path` under `limits`: a native folder's
// inspection, or a TorchScript archive's (a folder's model.pt, with every
// file of the folder counted), or the layout's refusal. Printed in full
// with `print`. Returns the reason when refused, else "".
std::string model_verdict(const std::string& path, const ModelLimits& limits, bool print) {
  std::error_code error;
  const bool folder = std::filesystem::is_directory(path, error);
  std::vector<RepositoryFile> files;
  if (folder) {
    try {
      files = list_repository_files(path);
    } catch (const RepositoryFilesError& e) {
      return e.what();
    }
  }
  std::string reason;
  if (is_native_model_folder(path)) {
    const NativeModelInspection inspection = inspect_native_model(path, limits);
    if (print) print_native_inspection(path, inspection);
    reason = inspection.accepted ? "" : inspection.reason;
  } else if (folder && model_layout(path) != ModelLayout::kTorchScript) {
    reason = model_layout_reason(path);
    if (print) {
      std::printf("model         %s\nverdict       refused\nreason        %s\n", path.c_str(),
                  reason.c_str());
    }
  } else {
    ModelInspection inspection =
        inspect_untrusted_model(folder ? path + "/model.pt" : path, limits);
    if (folder) {
      // The folder's other files count too; every problem is reported.
      const std::string too_large =
          repository_size_reason(total_bytes(files), limits.max_file_bytes);
      if (!too_large.empty() && inspection.reason.find(too_large) == std::string::npos) {
        inspection.reason = too_large + (inspection.reason.empty() ? "" : "; " + inspection.reason);
        inspection.accepted = false;
      }
      inspection.file_bytes = total_bytes(files);
    }
    if (print) print_inspection(path, inspection);
    reason = inspection.accepted ? "" : inspection.reason;
  }
  if (folder && print) print_counted_files(files);
  return reason;
}

void run_inspect(const InspectOptions& o) {
  const CompetitionRules rules = chosen_rules(o.rules);
  std::printf("rules         %s\n", rules.description.c_str());
  const std::string refused = model_verdict(
      o.path, {rules.competition.max_file_bytes, rules.competition.max_parameters}, true);
  if (!refused.empty()) throw CliError(o.path + ": refused: " + refused);
}

void run_ops() {
  for (const std::string& op : allowed_ops()) std::printf("%s\n", op.c_str());
}

// Every file of `folder` a validator downloads (relative '/'-separated path
// -> bytes): all but .git/ and .cache/, which a hub's file list never holds.
// Links and special files are refused, as the validator refuses them.
std::map<std::string, std::string> read_model_folder(const std::string& folder) {
  std::error_code error;
  if (!std::filesystem::is_directory(folder, error)) throw CliError(folder + ": not a folder");
  std::map<std::string, std::string> files;
  try {
    for (const RepositoryFile& file : list_repository_files(folder)) {
      files[file.relative_path] = read_file(folder + "/" + file.relative_path);
    }
  } catch (const RepositoryFilesError& e) {
    throw CliError(folder + ": " + e.what() + ", which a validator refuses (bad-files)");
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
  CompetitionRulesOptions chosen = o.rules;
  chosen.competition = o.competition;
  const CompetitionRules rules = chosen_rules(chosen);
  const std::map<std::string, std::string> files = read_model_folder(o.folder);
  const std::string refused = model_verdict(
      o.folder, {rules.competition.max_file_bytes, rules.competition.max_parameters}, false);
  if (!refused.empty()) {
    throw CliError(o.folder + ": refused: " + refused + " (a validator would not score it)");
  }
  const std::string content = content_hash(files);
  const std::string secure = secure_hash(content, o.hotkey);
  const std::string commitment = o.repo.empty() ? "" : commitment_for(o, secure);

  std::printf("rules         %s\n", rules.description.c_str());
  std::printf("verdict       accepted\n");
  std::printf("folder        %s\n", o.folder.c_str());
  for (const auto& [path, bytes] : files) {
    std::printf("file          %s (%zu bytes)\n", path.c_str(), bytes.size());
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
  const auto print_script = [](const std::string& path) {
    const ModelInspection inspection = inspect_model(path, ModelLimits{});
    std::printf("wrote %-40s %s\n", path.c_str(),
                inspection.accepted ? "accepted" : inspection.reason.c_str());
  };
  // Uids: the univariate TorchScript baselines, each native architecture's,
  // then the covariate regression.
  const std::vector<std::string> scripts = write_baseline_models(directory);
  for (const std::string& path : scripts) print_script(path);
  const std::vector<std::string> natives =
      write_native_baseline_models(directory, static_cast<int64_t>(scripts.size()));
  for (const std::string& path : natives) {
    const NativeModelInspection inspection = inspect_native_model(path, ModelLimits{});
    std::printf("wrote %-40s %s\n", path.c_str(),
                inspection.accepted ? "accepted (native)" : inspection.reason.c_str());
  }
  print_script(write_covariate_baseline_model(
      directory, static_cast<int64_t>(scripts.size() + natives.size())));
}

CommandRun add_models_command(CLI::App& app) {
  auto options = std::make_shared<ModelsOptions>();
  InspectOptions* inspect = &options->inspect;
  CLI::App* models = app.add_subcommand("models", "Candidate models: checks before running them");
  models->require_subcommand(1);
  CLI::App* cmd =
      models->add_subcommand("inspect", "Validate a model, print its limits and ops or config");
  cmd->add_option("path", inspect->path,
                  "a TorchScript archive (.pt), or a model's folder as uploaded: native "
                  "(config.json + model.safetensors, or sharded) or TorchScript (model.pt)")
      ->required();
  add_competition_rules_options(cmd, inspect->rules);
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
  hash_cmd->add_option("--repo", hash->repo, "the hub repository: namespace/name");
  hash_cmd->add_option("--commit", hash->commit, "the repository's commit holding these files");
  CLI::Option* competition =
      hash_cmd
          ->add_option("--competition", hash->competition,
                       "the competition id: the commitment's, and with --schedule the rules")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str();
  add_competition_rules_options(hash_cmd, hash->rules, competition);
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
