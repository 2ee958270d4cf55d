// Rounds on grouped tasks (targets, past covariates and known covariates):
// TorchScript models with the grouped signature get whole groups and the
// known covariates' future values; only target rows are scored; and on a
// seeded covariate task a model that uses the covariates beats one that
// does not, by a stated margin.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <cmath>
#include <string>
#include <vector>

#include "crucible/common/files.h"
#include "crucible/engine/data/synthetic_gp.h"
#include "crucible/engine/data/task_data.h"
#include "crucible/engine/models/torchscript/baseline_models.h"
#include "crucible/engine/round/model_runner.h"
#include "crucible/engine/scoring/quantile_levels.h"

namespace crucible {
namespace {

// Returns, for every row and step, 1000 x its group id + the number of rows
// in the call + its future input (0 where NaN): what the model was given.
const char* const kProbe = R"(
def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float], lengths: Tensor, group_ids: Tensor, future_inputs: Tensor) -> Tensor:
    rows = inputs.size(0)
    given = group_ids.to(inputs.dtype) * 1000.0 + float(rows)
    out = given.unsqueeze(1) + torch.nan_to_num(future_inputs[:, :prediction_length])
    return out.unsqueeze(2).unsqueeze(3).expand(rows, prediction_length, 1, len(quantiles)).contiguous()
)";

// Three groups of 100 rows (a target, then past and known covariates),
// inputs 8 and targets 4 long; known rows' future inputs are 0.5 x (step + 1).
TaskData three_groups() {
  std::vector<std::vector<float>> contexts, targets;
  for (int j = 0; j < 300; ++j) {
    contexts.push_back(std::vector<float>(8, static_cast<float>(j % 7)));
    targets.push_back(std::vector<float>(4, static_cast<float>(j % 5)));
  }
  TaskData task = pad_task(contexts, targets);
  task.future_inputs.assign(300 * 4, std::nanf(""));
  for (int j = 0; j < 300; ++j) {
    task.group_ids.push_back(j / 100);
    const int in_group = j % 100;
    const SeriesRole role = in_group == 0   ? SeriesRole::kTarget
                            : in_group < 60 ? SeriesRole::kPastCovariate
                                            : SeriesRole::kKnownCovariate;
    task.roles.push_back(static_cast<int64_t>(role));
    if (role == SeriesRole::kKnownCovariate) {
      for (int t = 0; t < 4; ++t) task.future_inputs[j * 4 + t] = 0.5f * (t + 1);
    }
  }
  return task;
}

class GroupedRoundTest : public ::testing::Test {
 protected:
  GroupedRoundTest() {
    torch::jit::Module probe("probe");
    probe.define(kProbe);
    probe.save(folder_.path() + "/1_probe.pt");
    naive_ = write_baseline_models(folder_.path()).front();  // 0_naive.pt
    options_.quantiles = default_quantile_levels();
    options_.isolate = false;
  }

  RoundResult run(const std::vector<CandidateModel>& models, const TaskData& task) {
    const std::string task_dir = folder_.path() + "/task";
    write_task_directory(task, task_dir);
    return run_round(models, task, task_dir, options_);
  }

  TemporaryFolder folder_{"grouped_round_test"};
  std::string naive_;
  RunnerOptions options_;
};

// Calls hold whole groups: 300 rows in groups of 100 are two calls, of 200
// (groups 0 and 1) and 100 rows (group 2), never a group cut at row 256.
TEST_F(GroupedRoundTest, GroupedModelsGetWholeGroupsAndTheFutureInputs) {
  const TaskData task = three_groups();
  const RoundResult round = run({{1, folder_.path() + "/1_probe.pt"}}, task);
  ASSERT_EQ(round.runs[0].status, "ok") << round.runs[0].reason;
  const at::Tensor forecasts = round.forecasts[0].to(at::kCPU);  // [S, H, Q]
  for (int64_t j = 0; j < 300; ++j) {
    const int64_t group = j / 100;
    const float rows = group < 2 ? 200.0f : 100.0f;
    for (int64_t t = 0; t < 4; ++t) {
      const float future = j % 100 >= 60 ? 0.5f * (t + 1) : 0.0f;
      ASSERT_EQ(forecasts[j][t][0].item<float>(), 1000.0f * group + rows + future)
          << "row " << j << ", step " << t;
    }
  }
  // One loss column per target row: rows 0, 100 and 200.
  EXPECT_EQ(round.losses.size(1), 3);
}

// A univariate model on a grouped task forecasts each row alone, so its
// losses on the target rows are those of the same rows as a univariate task,
// to the bit.
TEST_F(GroupedRoundTest, OnlyTargetRowsAreScored) {
  const TaskData task = three_groups();
  const RoundResult grouped = run({{0, naive_}}, task);
  const RoundResult alone = run({{0, naive_}}, scored_view(task));
  ASSERT_EQ(grouped.runs[0].status, "ok") << grouped.runs[0].reason;
  ASSERT_EQ(grouped.losses.sizes(), alone.losses.sizes());
  EXPECT_TRUE(at::equal(grouped.losses, alone.losses));
}

// On seeded synthetic groups whose targets follow their known covariates
// (share 0.8 of their variance), the covariate regression baseline, which
// reads the covariates' future values, beats the naive forecast, which
// cannot. Measured with these seeds: CRPS ratio (covariate / naive) 0.29 to
// 0.46 over seeds 1..5 (0.33, 0.46, 0.29, 0.33, 0.43; `crucible synth` and
// `crucible eval` give the same). The bound 0.6 leaves a wide margin for float
// differences between CPU kernels (a few ulps in the regression, far below
// the gap) while failing if the covariates did not reach the model (the
// ratio is then 1: the baseline falls back to naive).
TEST_F(GroupedRoundTest, ACovariateAwareModelBeatsAUnivariateOne) {
  const std::string covariate = write_covariate_baseline_model(folder_.path(), 2);
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    SyntheticGpOptions gp;
    gp.seed = seed;
    gp.num_series = 20;
    gp.length = 256;
    gp.group_targets = 2;
    gp.past_covariates = 1;
    gp.known_covariates = 1;
    const TaskData task = generate_synthetic_gp_cpu(gp);
    const RoundResult round = run({{0, naive_}, {2, covariate}}, task);
    ASSERT_EQ(round.runs[1].status, "ok") << round.runs[1].reason;
    ASSERT_EQ(round.losses.size(1), 40);  // 20 groups x 2 targets
    const double naive = round.losses[0].mean().item<double>();
    const double aware = round.losses[1].mean().item<double>();
    EXPECT_LT(aware / naive, 0.6) << "seed " << seed << ": naive " << naive << ", covariate "
                                  << aware;
  }
}

}  // namespace
}  // namespace crucible
