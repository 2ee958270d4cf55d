// `crucible score`: win rate, bootstrap CI, gap, separation and composite from
// a loss matrix; writes scores.json and prints a per-model table.
#include <ATen/ATen.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_error.h"
#include "cli_options.h"
#include "commands.h"
#include "crucible/common/files.h"
#include "crucible/common/npy.h"
#include "crucible/engine/data/tensor_npy.h"
#include "crucible/engine/device.h"
#include "crucible/engine/scoring/model_scoring.h"

namespace crucible {
namespace {

struct ScoreOptions {
  std::string losses, uids, out;
  std::string device = "auto";
  uint64_t seed = 0;
  int64_t bootstrap_samples = 100;
  double ci_alpha = 0.05;
};

at::Tensor read_losses(const std::string& path) {
  const NpyArray array = read_npy(path);
  if ((array.dtype != NpyDtype::kFloat32 && array.dtype != NpyDtype::kFloat64) ||
      array.shape.size() != 2) {
    throw CliError(path + ": losses must be a float32 or float64 [U, S] array, got " +
                   npy_descr(array.dtype) + " with " + std::to_string(array.shape.size()) +
                   " dimensions");
  }
  return tensor_from_npy(array).to(at::kDouble);
}

std::vector<int64_t> read_uids(const std::string& path, int64_t rows) {
  std::vector<int64_t> uids;
  if (path.empty()) {
    for (int64_t u = 0; u < rows; ++u) uids.push_back(u);
    return uids;
  }
  const NpyArray array = read_npy(path);
  if ((array.dtype != NpyDtype::kInt64 && array.dtype != NpyDtype::kInt32) ||
      array.shape.size() != 1 || array.shape[0] != rows) {
    throw CliError(path + ": uids must be an int64 or int32 [U] array with one uid per loss row (" +
                   std::to_string(rows) + ")");
  }
  const at::Tensor values = tensor_from_npy(array).to(at::kLong);
  uids.assign(values.data_ptr<int64_t>(), values.data_ptr<int64_t>() + rows);
  return uids;
}

nlohmann::ordered_json scores_json(const ModelScores& s) {
  // nlohmann writes NaN and infinities as null.
  return nlohmann::ordered_json{{"uids", s.uids},          {"win_rate", s.win_rate},
                                {"ci_lo", s.ci_lo},        {"ci_hi", s.ci_hi},
                                {"agg_gap", s.agg_gap},    {"sep_score", s.sep_score},
                                {"composite", s.composite}};
}

void print_table(const ModelScores& s) {
  std::printf("%8s %10s %12s %12s %12s %10s %10s\n", "uid", "win_rate", "ci_lo", "ci_hi", "agg_gap",
              "sep", "composite");
  for (size_t u = 0; u < s.uids.size(); ++u) {
    std::printf("%8lld %10.4f %12.6g %12.6g %12.6g %10.4f %10.4f\n",
                static_cast<long long>(s.uids[u]), s.win_rate[u], s.ci_lo[u], s.ci_hi[u],
                s.agg_gap[u], s.sep_score[u], s.composite[u]);
  }
}

void run_score(const ScoreOptions& o) {
  const c10::Device device = with_context("--device", [&] { return parse_device(o.device); });
  if (o.bootstrap_samples < 1) throw CliError("--bootstrap-samples: must be at least 1");
  if (!(o.ci_alpha > 0.0 && o.ci_alpha < 1.0)) {
    throw CliError("--ci-alpha: must be strictly inside (0, 1)");
  }
  const at::Tensor losses = read_losses(o.losses);
  const std::vector<int64_t> uids = read_uids(o.uids, losses.size(0));
  const ScoringOptions options{o.seed, o.bootstrap_samples, o.ci_alpha};
  const ModelScores scores = with_context(o.uids.empty() ? o.losses : o.uids, [&] {
    return score_models(losses.to(device), uids, options);
  });
  write_file_atomically(o.out, scores_json(scores).dump(1) + "\n");
  print_table(scores);
}

}  // namespace

CommandRun add_score_command(CLI::App& app) {
  auto options = std::make_shared<ScoreOptions>();
  CLI::App* cmd = app.add_subcommand("score", "Win rate, bootstrap CI, gap and composite scores");
  cmd->add_option("--losses", options->losses, "float32/float64 [U, S] loss matrix (.npy)")
      ->required();
  cmd->add_option("--uids", options->uids, "int64 [U] uids, one per row (default 0..U-1)");
  add_seed_option(cmd, options->seed, "round seed for the bootstrap")->required();
  cmd->add_option("--bootstrap-samples", options->bootstrap_samples, "bootstrap replicates")
      ->capture_default_str();
  cmd->add_option("--ci-alpha", options->ci_alpha, "two-sided CI level")->capture_default_str();
  cmd->add_option("--device", options->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--out", options->out, "scores.json to write")->required();
  return [options] { run_score(*options); };
}

}  // namespace crucible
