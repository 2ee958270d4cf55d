// The native Chronos-Bolt forward against golden forecasts of the official
// pipeline (tests/golden/chronos_bolt, made by
// tests/python/make_chronos_bolt_golden.py with chronos-forecasting 1.5.3),
// and stacking: a model's forecasts in a stack equal its forecasts alone.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>

#include "crucible/common/files.h"
#include "crucible/common/npy.h"
#include "crucible/common/safetensors.h"
#include "crucible/engine/chronos_bolt.h"
#include "crucible/engine/device.h"
#include "crucible/engine/native_model.h"
#include "crucible/engine/tensor_npy.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

const std::string kGolden = CRUCIBLE_GOLDEN_DIR "/chronos_bolt";

at::Tensor load(const std::string& path) { return tensor_from_npy(read_npy(path)); }

std::vector<std::string> golden_cases() {
  std::vector<std::string> cases;
  for (const auto& entry : fs::directory_iterator(kGolden)) {
    if (entry.is_directory()) cases.push_back(entry.path().filename().string());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

struct GoldenCase {
  std::string model;
  ChronosBoltConfig config;
  at::Tensor inputs, lengths, expected, truth;
  std::vector<double> levels;
};

GoldenCase read_case(const std::string& name) {
  GoldenCase c;
  const std::string dir = kGolden + "/" + name;
  c.model = dir + "/model";
  const NativeModelInspection inspection = inspect_native_model(c.model, ModelLimits{});
  EXPECT_TRUE(inspection.accepted) << name << ": " << inspection.reason;
  c.config = inspection.config;
  c.inputs = load(dir + "/inputs.npy");
  c.lengths = load(dir + "/input_lengths.npy");
  c.expected = load(dir + "/expected.npy");
  c.truth = load(dir + "/truth.npy");
  const at::Tensor levels = load(dir + "/quantiles.npy");
  c.levels.assign(levels.data_ptr<double>(), levels.data_ptr<double>() + levels.numel());
  return c;
}

at::Tensor predict(const GoldenCase& c, const std::vector<std::string>& folders) {
  const ChronosBoltStack stack = load_chronos_bolt_stack(c.config, folders, at::kCPU);
  QuantileForecastRequest request;
  request.horizon = c.expected.size(1);
  request.levels = c.levels;
  return chronos_bolt_predict_quantiles(stack, c.inputs, c.lengths, request);
}

// The largest |a - b| / max(|b|, 1e-3 * the forecasts' scale) over all values.
double max_relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  const at::Tensor floor = at::full({}, 1e-3 * expected.abs().max().item<double>(), at::kDouble);
  const at::Tensor e = expected.to(at::kDouble);
  return ((actual.to(at::kDouble) - e).abs() / at::maximum(e.abs(), floor)).max().item<double>();
}

class ChronosBoltGolden : public ::testing::TestWithParam<std::string> {};

// The tolerance, derived. Both crucible and the official pipeline compute the
// same forward in float32; neither is exact. The truth is the official
// pipeline run in float64 (truth.npy). The official float32 forecasts
// (expected.npy) differ from it by err_official, which is the float32 error
// of this computation on these inputs (1.4e-6 to 7.4e-5 over the cases: it
// grows with depth, horizon and the attention's softmax conditioning).
// crucible's float32 forward performs the same operations in another order
// (its own matmul shapes, whichever BLAS kernel the CPU selects), so its
// error has the same magnitude but is not the same rounding: we require
// err_crucible <= kErrorMultiple * err_official + kErrorFloor.
// kErrorMultiple = 4: measured ratios were at most 2.4 over 8 cases and the
// OpenBLAS kernels Prescott, Haswell and Zen (OPENBLAS_CORETYPE, on an AMD
// EPYC without AVX-512; docs/native-models.md has the figures);
// 4 leaves room for other kernels while a real defect (a wrong bucket, norm or
// scale) gives errors of 1e-2 and above, 100x past it. kErrorFloor = 1e-6
// covers cases whose official error is itself at the level of the truth's
// own float32 rounding (6e-8 relative) times the forward's amplification.
constexpr double kErrorMultiple = 4.0;
constexpr double kErrorFloor = 1e-6;

// The forecasts of a case's model are as close to the float64 truth as the
// official float32 pipeline is, within the derived tolerance above.
void expect_within_float32_error(const at::Tensor& forecasts, const GoldenCase& c,
                                 const std::string& name) {
  const double err_crucible = max_relative_error(forecasts, c.truth);
  const double err_official = max_relative_error(c.expected, c.truth);
  std::cout << name << ": error against float64 " << err_crucible << ", official float32 "
            << err_official << " (ratio " << err_crucible / err_official << ")\n";
  EXPECT_LE(err_crucible, kErrorMultiple * err_official + kErrorFloor) << name;
}

TEST_P(ChronosBoltGolden, MatchesTheOfficialPipeline) {
  const GoldenCase c = read_case(GetParam());
  const at::Tensor forecasts = predict(c, {c.model});
  ASSERT_EQ(forecasts.sizes(),
            (std::vector<int64_t>{1, c.expected.size(0), c.expected.size(1), c.expected.size(2)}));
  expect_within_float32_error(forecasts[0], c, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Cases, ChronosBoltGolden, ::testing::ValuesIn(golden_cases()),
                         [](const auto& info) { return info.param; });

// A copy of `model` with every weight scaled by `factor` (same config).
std::string scaled_copy(const std::string& model, const std::string& dir, float factor) {
  fs::create_directories(dir);
  fs::copy_file(model + "/config.json", dir + "/config.json");
  const SafetensorsFile file = SafetensorsFile::open(model + "/model.safetensors");
  std::vector<SafetensorsTensorData> tensors;
  for (const auto& [name, entry] : file.header().tensors) {
    std::vector<float> values = file.read_float32(name);
    for (float& v : values) v *= factor;
    tensors.push_back({name, entry.shape, values});
  }
  write_safetensors(dir + "/model.safetensors", tensors);
  return dir;
}

TEST(ChronosBoltStacking, StackedEqualsEachAloneAndRepeats) {
  for (const std::string& name : {"relu_p8_noreg_q5_h25_levels9", "gelu_p16_reg_h24_offgrid"}) {
    const GoldenCase c = read_case(name);
    const TemporaryFolder temp("crucible-stack");
    const std::vector<std::string> folders = {c.model,
                                              scaled_copy(c.model, temp.path() + "/a", 0.9f),
                                              scaled_copy(c.model, temp.path() + "/b", 1.1f)};
    const at::Tensor stacked = predict(c, folders);
    ASSERT_EQ(stacked.size(0), 3);
    for (size_t g = 0; g < folders.size(); ++g) {
      const at::Tensor alone = predict(c, {folders[g]})[0];
      EXPECT_LT(max_relative_error(stacked[g], alone), 1e-6) << name << " model " << g;
    }
    // The scaled models are different models: their forecasts differ.
    EXPECT_GT(max_relative_error(stacked[1], stacked[0]), 1e-3);
    EXPECT_TRUE(at::equal(predict(c, folders), stacked)) << "repeated runs differ";
  }
}

TEST(ChronosBoltStacking, AnOrderOfModelsDoesNotChangeAModel) {
  const GoldenCase c = read_case("relu_p16_reg_h40_subset");
  const TemporaryFolder temp("crucible-stack");
  const std::string other = scaled_copy(c.model, temp.path() + "/a", 0.8f);
  const at::Tensor first = predict(c, {c.model, other});
  const at::Tensor second = predict(c, {other, c.model});
  EXPECT_LT(max_relative_error(first[0], second[1]), 1e-6);
  EXPECT_LT(max_relative_error(first[1], second[0]), 1e-6);
  expect_within_float32_error(first[0], c, "relu_p16_reg_h40_subset, stacked");
}

TEST(ChronosBoltGpu, StackedForwardOnCudaMatchesTheCpu) {
  if (!cuda_usable()) GTEST_SKIP() << "no CUDA device";
  for (const std::string& name : golden_cases()) {
    const GoldenCase c = read_case(name);
    const TemporaryFolder temp("crucible-stack");
    const std::vector<std::string> folders = {c.model,
                                              scaled_copy(c.model, temp.path() + "/a", 0.9f)};
    QuantileForecastRequest request;
    request.horizon = c.expected.size(1);
    request.levels = c.levels;
    const at::Tensor cpu = chronos_bolt_predict_quantiles(
        load_chronos_bolt_stack(c.config, folders, at::kCPU), c.inputs, c.lengths, request);
    const at::Tensor cuda = chronos_bolt_predict_quantiles(
        load_chronos_bolt_stack(c.config, folders, c10::Device("cuda")), c.inputs, c.lengths,
        request);
    EXPECT_EQ(cuda.device().type(), c10::kCUDA);
    EXPECT_LT(max_relative_error(cuda.cpu(), cpu), 1e-4) << name;
    expect_within_float32_error(cuda.cpu()[0], c, name + " on CUDA");
  }
}

TEST(ChronosBoltBuckets, MatchTheT5Reference) {
  // Bidirectional, 32 buckets, max distance 128: |d| < 8 exact, then
  // 8 + floor(2 log2(|d| / 8)) up to 15, +16 for keys after the query. Values
  // from transformers 4.48's T5Attention._relative_position_bucket.
  const at::Tensor buckets = t5_relative_position_buckets(1, 200, true, 32, 128);
  const std::vector<std::pair<int64_t, int64_t>> expected = {
      {0, 0},   {1, 17},  {7, 23},  {8, 24},   {11, 24},  {12, 25}, {16, 26},
      {23, 27}, {32, 28}, {64, 30}, {127, 31}, {128, 31}, {199, 31}};
  for (const auto& [distance, bucket] : expected) {
    EXPECT_EQ(buckets[0][distance].item<int64_t>(), bucket) << "distance " << distance;
  }
  const at::Tensor backwards = t5_relative_position_buckets(20, 1, true, 32, 128);
  EXPECT_EQ(backwards[19][0].item<int64_t>(), 10);  // distance -19
  EXPECT_EQ(backwards[3][0].item<int64_t>(), 3);    // distance -3
}

}  // namespace
}  // namespace crucible
