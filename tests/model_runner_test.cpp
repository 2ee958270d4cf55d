// A round with hostile models beside an honest one: each hostile model fails
// with its own status, and the honest one scores exactly as it does alone.
#include "crucible/engine/round/model_runner.h"

#include <gtest/gtest.h>

#include <torch/script.h>
#include "crucible/common/files.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include "crucible/engine/data/synthetic_gp.h"
#include "crucible/engine/models/torchscript/baseline_models.h"
#include "crucible/engine/scoring/quantile_levels.h"

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
  // The endless loop is cut at its timeout (loose bound: a loaded machine is slow).
  EXPECT_LT(seconds, options_.timeout_seconds + 60.0);

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

// Saves a model with the forecast signature and `body`, padded with a buffer
// of `padding` floats (the workers take the largest file first).
std::string save_model(const std::string& path, const std::string& body, int64_t padding = 1) {
  torch::jit::Module module("Model");
  module.register_buffer("padding", torch::zeros({padding}));
  module.define(std::string(kSignature) + body);
  module.save(path);
  return path;
}

// 9000 -> "9,000".
std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

TEST_F(ModelRunnerTest, ReasonsSayWhatWentWrong) {
  const std::string dir = dir_ + "/reasons/";
  fs::create_directory(dir);
  const std::vector<CandidateModel> models = {
      {0, save_model(dir + "asserts.pt",
                     "    assert inputs.size(0) < 0, 'bad input'\n"
                     "    return inputs\n")},
      {1, save_model(dir + "throws.pt", kHostile.at("throws"))},
      {2, save_model(dir + "wrong_shape.pt", "    return inputs.sum(2)\n")},
      // 0 / 0 and x / 0: 7 values of each call are not finite.
      {3, save_model(dir + "not_finite.pt",
                     "    n = inputs.size(0) * prediction_length * len(quantiles)\n"
                     "    x = torch.arange(n).float()\n"
                     "    x = torch.where(x < 7.0, x / 0.0, x)\n"
                     "    return x.view(inputs.size(0), prediction_length, 1, len(quantiles))\n")},
  };
  const int64_t b = task_.num_series, h = task_.target_width;
  const std::string shape =
      "returned shape [" + std::to_string(b) + ", " + std::to_string(task_.input_width) +
      "], expected [B, >=H, 1, Q] or [B, >=H, Q] with B=" + std::to_string(b) +
      ", H=" + std::to_string(h) + ", Q=9";
  const std::string not_finite =
      "7 of " + with_commas(b * h * 9) + " forecast values were not finite (scored as +-1e9)";
  for (const bool isolate : {true, false}) {
    RunnerOptions options = options_;
    options.isolate = isolate;
    const RoundResult round = run_round(models, task_, dir_ + "/task", options);
    const std::vector<ModelRun>& runs = round.runs;
    EXPECT_EQ(runs[0].status, "failed") << isolate;
    EXPECT_EQ(runs[0].reason, "RuntimeError: AssertionError: bad input") << isolate;
    EXPECT_EQ(runs[1].status, "failed") << isolate;
    EXPECT_EQ(runs[1].reason.rfind("RuntimeError: shape '[7, 7, 7, 7]' is invalid", 0), 0u)
        << isolate << ": " << runs[1].reason;
    EXPECT_EQ(runs[2].status, "bad-output") << isolate;
    EXPECT_EQ(runs[2].reason, shape) << isolate;
    EXPECT_EQ(runs[3].status, "ok") << isolate;
    EXPECT_EQ(runs[3].reason, not_finite) << isolate;
    EXPECT_FALSE(round.losses[3].isinf().any().item<bool>()) << isolate;  // scored, badly
  }
}

TEST_F(ModelRunnerTest, AModelCannotChangeTheInputsOfTheNext) {
  const std::string dir = dir_ + "/writers/";
  fs::create_directory(dir);
  // The largest file, so the one worker runs it first.
  const std::string writer = save_model(dir + "writer.pt",
                                        "    inputs.add_(1000.0)\n"
                                        "    return inputs[:, :prediction_length, :].unsqueeze(-1)"
                                        ".repeat(1, 1, 1, len(quantiles))\n",
                                        1 << 20);
  const std::string naive = dir_ + "/models/0_naive.pt";
  RunnerOptions one_worker = options_;
  one_worker.parallel_workers = 1;
  const RoundResult alone = run_round({{0, naive}}, task_, dir_ + "/task", one_worker);
  ASSERT_EQ(alone.runs[0].status, "ok") << alone.runs[0].reason;
  for (const bool isolate : {true, false}) {
    RunnerOptions options = one_worker;
    options.isolate = isolate;
    const RoundResult after = run_round({{0, writer}, {1, naive}}, task_, dir_ + "/task", options);
    ASSERT_EQ(after.runs[1].status, "ok") << after.runs[1].reason;
    EXPECT_TRUE(at::equal(after.losses[1], alone.losses[0])) << isolate;
  }
}

}  // namespace
}  // namespace crucible
