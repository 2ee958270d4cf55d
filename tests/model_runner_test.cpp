// A round with hostile models beside an honest one: each hostile model fails
// with its own status, and the honest one scores exactly as it does alone.
#include "crucible/engine/model_runner.h"

#include <gtest/gtest.h>

#include <torch/script.h>
#include "crucible/common/files.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include "crucible/engine/baseline_models.h"
#include "crucible/engine/quantile_levels.h"
#include "crucible/engine/synthetic_gp.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

const char* const kSignature =
    "def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float]) -> "
    "Tensor:\n";

// Hostile bodies, by the status they must get.
const std::map<std::string, std::string> kHostile = {
    {"loops", "    i = 0\n    while i >= 0:\n        i = i + 1\n    return inputs\n"},
    {"throws", "    return inputs.view(7, 7, 7, 7)\n"},  // a shape error at run time
    {"wrong_shape", "    return inputs\n"},
    {"wrong_dtype",
     "    return inputs.new_zeros([inputs.size(0), prediction_length, 1, len(quantiles)])"
     ".double()\n"},
    {"allocates", "    big = torch.zeros(1 << 40)\n    return big.view(1, 1, 1, -1)\n"},
    {"reads_file", "    return torch.from_file('/etc/passwd', False, 9).view(1, 1, 1, 9)\n"},
};

const std::map<std::string, std::string> kExpectedStatus = {
    {"loops", "timeout"},
    {"throws", "failed"},
    {"wrong_shape", "bad-output"},
    {"wrong_dtype", "bad-output"},
    {"allocates", "failed"},
    {"reads_file", "refused"},
    {"truncated", "refused"},
    {"not_an_archive", "refused"},
    {"0_naive", "ok"},
    {"2_mean", "ok"},
    {"3_drift", "ok"},
};

class ModelRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    fs::create_directory(dir_ + "/models");
    const std::string naive = write_baseline_models(dir_ + "/models").front();  // 0_naive.pt
    for (const auto& [name, body] : kHostile) {
      torch::jit::Module module("Hostile");
      module.define(std::string(kSignature) + body);
      module.save(dir_ + "/models/" + name + ".pt");
    }
    fs::copy_file(naive, dir_ + "/models/truncated.pt");
    fs::resize_file(dir_ + "/models/truncated.pt", fs::file_size(naive) / 2);
    std::ofstream(dir_ + "/models/not_an_archive.pt") << "hello";
    for (const auto& e : fs::directory_iterator(dir_ + "/models")) {
      if (kExpectedStatus.count(e.path().stem())) {
        paths_.push_back(e.path().string());
      }
    }
    SyntheticGpOptions gp;
    gp.seed = 5;
    gp.num_series = 12;
    gp.length = 96;
    task_ = generate_synthetic_gp_cpu(gp);
    write_task_directory(task_, dir_ + "/task");
    options_.worker_executable = CRUCIBLE_BINARY;
    options_.parallel_workers = 2;
    options_.timeout_seconds = 5.0;
    options_.memory_limit_bytes = 8LL << 30;
    options_.quantiles = default_quantile_levels();
  }

  TemporaryFolder temp_{"model_runner_test"};
  std::string dir_;
  std::vector<std::string> paths_;
  TaskData task_;
  RunnerOptions options_;
};

TEST_F(ModelRunnerTest, HostileModelsFailAloneWithTheirStatus) {
  std::vector<CandidateModel> models;
  for (size_t i = 0; i < paths_.size(); ++i) models.push_back({static_cast<int64_t>(i), paths_[i]});
  const auto start = std::chrono::steady_clock::now();
  const RoundResult round = run_round(models, task_, dir_ + "/task", options_);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, options_.timeout_seconds + 10.0);  // the loop is cut at its timeout

  std::vector<CandidateModel> honest;
  std::vector<int64_t> honest_rows;
  for (size_t i = 0; i < round.runs.size(); ++i) {
    const std::string name = fs::path(round.runs[i].path).stem().string();
    EXPECT_EQ(round.runs[i].status, kExpectedStatus.at(name))
        << name << ": " << round.runs[i].reason;
    if (round.runs[i].status != "ok") {
      EXPECT_FALSE(round.runs[i].reason.empty()) << name;
      EXPECT_TRUE(round.losses[static_cast<int64_t>(i)].isinf().all().item<bool>()) << name;
    } else {
      honest.push_back(models[i]);
      honest_rows.push_back(static_cast<int64_t>(i));
    }
  }
  ASSERT_EQ(honest.size(), 3u);

  // The honest models alone, on one worker (so one process runs them one
  // after the other): the same losses, bit for bit.
  RunnerOptions one_worker = options_;
  one_worker.parallel_workers = 1;
  const RoundResult alone = run_round(honest, task_, dir_ + "/task", one_worker);
  // In-process mode gives them the same losses too.
  RunnerOptions in_process = options_;
  in_process.isolate = false;
  const RoundResult trusted = run_round(honest, task_, dir_ + "/task", in_process);
  for (size_t k = 0; k < honest.size(); ++k) {
    const int64_t row = static_cast<int64_t>(k);
    ASSERT_EQ(alone.runs[k].status, "ok") << alone.runs[k].reason;
    EXPECT_TRUE(at::equal(alone.losses[row], round.losses[honest_rows[k]])) << honest[k].path;
    EXPECT_TRUE(at::equal(trusted.losses[row], round.losses[honest_rows[k]])) << honest[k].path;
    EXPECT_GT(alone.runs[k].forward_seconds, 0.0);
  }
}

}  // namespace
}  // namespace crucible
