// The baselines follow the model contract, pass the inspector, and forecast
// what they claim on series where the answer is known.
#include "crucible/engine/models/torchscript/baseline_models.h"

#include <gtest/gtest.h>
#include <torch/script.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>

#include "crucible/common/files.h"
#include "crucible/engine/models/torchscript/model_inspector.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

class BaselineModelsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    folder_ = std::make_unique<TemporaryFolder>("baseline_models_test");
    paths_ = write_baseline_models(folder_->path());
  }
  static void TearDownTestSuite() { folder_.reset(); }

  // Runs baseline `index` on inputs [B, T] with lengths; returns [B, H, 1, Q].
  static at::Tensor run(size_t index, const at::Tensor& inputs, const at::Tensor& lengths,
                        int64_t horizon) {
    torch::jit::Module model = torch::jit::load(paths_[index]);
    const std::vector<double> levels = {0.1, 0.5, 0.9};
    return model
        .get_method("forecast")({inputs.unsqueeze(-1), horizon, c10::List<double>(levels), lengths})
        .toTensor();
  }

  static std::unique_ptr<TemporaryFolder> folder_;
  static std::vector<std::string> paths_;
};

std::unique_ptr<TemporaryFolder> BaselineModelsTest::folder_;
std::vector<std::string> BaselineModelsTest::paths_;

TEST_F(BaselineModelsTest, AllWrittenAndAccepted) {
  ASSERT_EQ(paths_.size(), baseline_model_names().size());
  for (const std::string& path : paths_) {
    const ModelInspection r = inspect_model(path, ModelLimits{});
    EXPECT_TRUE(r.accepted) << path << ": " << r.reason;
    EXPECT_TRUE(r.takes_lengths) << path;
  }
}

TEST_F(BaselineModelsTest, ContractShapeFiniteAndOrderedQuantiles) {
  torch::manual_seed(3);
  const at::Tensor inputs = torch::randn({5, 120}).cumsum(1);
  const at::Tensor lengths = torch::tensor({120, 80, 60, 49, 3}, torch::kLong);
  for (size_t i = 0; i < paths_.size(); ++i) {
    const at::Tensor out = run(i, inputs, lengths, 30);
    EXPECT_EQ(out.sizes(), (at::IntArrayRef{5, 30, 1, 3})) << paths_[i];
    EXPECT_TRUE(out.isfinite().all().item<bool>()) << paths_[i];
    EXPECT_TRUE((out.diff(1, -1) >= 0).all().item<bool>()) << paths_[i];
  }
}

TEST_F(BaselineModelsTest, ForecastWhatTheyClaim) {
  // A straight line y = 2 + 0.5 t, padded after its length 40.
  at::Tensor line = 2 + 0.5 * torch::arange(60, torch::kFloat);
  line.narrow(0, 40, 20).zero_();
  const at::Tensor lengths = torch::tensor({40}, torch::kLong);
  const at::Tensor naive = run(0, line.unsqueeze(0), lengths, 5);
  EXPECT_NEAR(naive[0][0][0][1].item<float>(), 2 + 0.5 * 39, 1e-4);  // median = last value
  const at::Tensor drift = run(3, line.unsqueeze(0), lengths, 5);
  EXPECT_NEAR(drift[0][4][0][1].item<float>(), 2 + 0.5 * 44, 1e-3);  // continues the line
  const at::Tensor mean = run(2, line.unsqueeze(0), lengths, 5);
  EXPECT_NEAR(mean[0][0][0][1].item<float>(), 2 + 0.5 * 19.5, 1e-3);

  // A period-24 pattern: seasonal naive and the AR(24) repeat it.
  const at::Tensor t = torch::arange(120, torch::kFloat);
  const at::Tensor seasonal =
      torch::sin(t * (2 * M_PI / 24)) + 0.1 * torch::cos(t * (4 * M_PI / 24));
  const at::Tensor full = torch::tensor({96}, torch::kLong);
  const at::Tensor expected = seasonal.narrow(0, 96, 24);
  const at::Tensor snaive = run(1, seasonal.narrow(0, 0, 96).unsqueeze(0), full, 24);
  EXPECT_TRUE(at::allclose(snaive.select(3, 1).flatten(), expected, 1e-4, 1e-4));
  const at::Tensor ar = run(4, seasonal.narrow(0, 0, 96).unsqueeze(0), full, 24);
  EXPECT_LT((ar.select(3, 1).flatten() - expected).abs().max().item<float>(), 0.05);
}

}  // namespace
}  // namespace crucible
