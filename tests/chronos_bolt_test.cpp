// The native Chronos-Bolt forward against golden forecasts of the official
// pipeline (tests/golden/chronos_bolt, made by
// tests/python/make_chronos_bolt_golden.py with chronos-forecasting 1.5.3),
// and stacking: a model's forecasts in a stack equal its forecasts alone.
#include <ATen/ATen.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "crucible/common/files.h"
#include "crucible/common/npy.h"
#include "crucible/common/safetensors.h"
#include "crucible/engine/data/tensor_npy.h"
#include "crucible/engine/device.h"
#include "crucible/engine/models/native/native_model.h"
#include "engine/models/native/chronos_bolt/chronos_bolt.h"
#include "float32_error.h"
#include "native_fixtures.h"
#include "tensor_bits.h"

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
  c.config = dynamic_cast<const ChronosBoltConfig&>(*inspection.config);
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

class ChronosBoltGolden : public ::testing::TestWithParam<std::string> {};

// The bounds of float32_error.h, whose figures were measured on these cases.
void expect_within_float32_error(const at::Tensor& forecasts, const GoldenCase& c,
                                 const std::string& name) {
  crucible::expect_within_float32_error(forecasts, c.expected, c.truth, name);
}

TEST_P(ChronosBoltGolden, MatchesTheOfficialPipeline) {
  const GoldenCase c = read_case(GetParam());
  const at::Tensor forecasts = predict(c, {c.model});
  ASSERT_EQ(forecasts.sizes(),
            (std::vector<int64_t>{1, c.expected.size(0), c.expected.size(1), c.expected.size(2)}));
  expect_within_float32_error(forecasts[0], c, GetParam());
}

// Under tests/with_blas_kernel.sh (ctest engine.kernels.*), the OpenBLAS
// core it asked for is the one running, so those runs test other machines'
// kernels rather than this one's again.
TEST(BlasKernel, TheRequestedOpenBlasCoreRuns) {
  const char* requested = std::getenv("OPENBLAS_CORETYPE");
  using CoreName = char* (*)();
  const auto core_name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (requested == nullptr) GTEST_SKIP() << "OPENBLAS_CORETYPE is not set";
  if (core_name == nullptr) GTEST_SKIP() << "OpenBLAS is not loaded";
  EXPECT_STRCASEEQ(core_name(), requested);
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

// A model's forecasts are the same bits alone and in a stack, wherever it
// stands and whatever shares the stack: the validator's chunking (its memory
// budget) must not change a model's loss. Identical models in one stack get
// identical forecasts. Cases: relu and gelu_new (its tanh), one and several
// forwards (horizon 30 > prediction length), on-grid and off-grid levels.
TEST(ChronosBoltStacking, StackedEqualsEachAloneToTheBit) {
  for (const char* case_name :
       {"relu_p8_noreg_q5_h25_levels9", "gelu_p16_reg_h24_offgrid", "gelu_p8_noreg_h30_levels9"}) {
    const std::string name = case_name;
    const GoldenCase c = read_case(name);
    const TemporaryFolder temp("crucible-stack");
    const std::string copy = temp.path() + "/copy";
    native_fixtures::copy_model(c.model, copy);
    const std::vector<std::string> folders = {c.model,
                                              scaled_copy(c.model, temp.path() + "/a", 0.9f),
                                              scaled_copy(c.model, temp.path() + "/b", 1.1f), copy};
    const at::Tensor stacked = predict(c, folders);
    ASSERT_EQ(stacked.size(0), 4);
    for (size_t g = 0; g < folders.size(); ++g) {
      const at::Tensor alone = predict(c, {folders[g]})[0];
      EXPECT_TRUE(bit_identical(stacked[g], alone))
          << name << " model " << g << ": differs from alone by "
          << max_relative_error(stacked[g], alone) << " relative";
    }
    EXPECT_TRUE(bit_identical(stacked[3], stacked[0])) << name << ": identical models differ";
    const at::Tensor reversed = predict(c, {folders[3], folders[2], folders[1], folders[0]});
    for (size_t g = 0; g < folders.size(); ++g) {
      EXPECT_TRUE(bit_identical(reversed[3 - g], stacked[g])) << name << " model " << g << " moved";
    }
    // The scaled models are different models: their forecasts differ.
    EXPECT_GT(max_relative_error(stacked[1], stacked[0]), 1e-3);
    expect_within_float32_error(stacked[0], c, name + ", stacked");
  }
}

// A checkpoint saved in shards (save_pretrained above max_shard_size: three
// shards and model.safetensors.index.json) is the same model as the single
// file: the same weights, the same forecasts to the bit, alone or stacked
// with the single file.
TEST(ChronosBoltShards, ShardedWeightsForecastAsTheSingleFileToTheBit) {
  for (const char* case_name : {"gelu_p16_reg_h24_offgrid", "relu_p8_noreg_q5_h25_levels9"}) {
    const std::string name = case_name;
    const GoldenCase c = read_case(name);
    const TemporaryFolder temp("crucible-shards");
    const std::string sharded = temp.path() + "/sharded";
    native_fixtures::copy_model(c.model, sharded);
    native_fixtures::shard_model(sharded, 3);
    ASSERT_FALSE(fs::exists(sharded + "/model.safetensors"));
    const NativeModelInspection inspection = inspect_native_model(sharded, ModelLimits{});
    ASSERT_TRUE(inspection.accepted) << name << ": " << inspection.reason;
    EXPECT_TRUE(inspection.sharded);
    EXPECT_EQ(inspection.config->key(), c.config.key());

    long long single_bytes = 0, sharded_bytes = 0;
    const NativeWeights single = load_native_weights(c.config, c.model, at::kCPU, &single_bytes);
    const NativeWeights shards = load_native_weights(c.config, sharded, at::kCPU, &sharded_bytes);
    EXPECT_EQ(sharded_bytes, single_bytes);
    ASSERT_EQ(shards.size(), single.size());
    for (const auto& [tensor, values] : single) {
      EXPECT_TRUE(bit_identical(shards.at(tensor), values)) << name << ": " << tensor;
    }
    const at::Tensor alone = predict(c, {c.model});
    EXPECT_TRUE(bit_identical(predict(c, {sharded}), alone)) << name;
    const at::Tensor both = predict(c, {c.model, sharded});
    EXPECT_TRUE(bit_identical(both[1], alone[0])) << name << ": stacked";
    expect_within_float32_error(both[1], c, name + ", sharded");
  }
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
    // CUDA's float32 forward is another float32 rounding of the same
    // computation: held to the same derived bound as the CPU's, against the
    // float64 truth, rather than to the CPU's own rounding.
    expect_within_float32_error(cuda.cpu()[0], c, name + " on CUDA");
    expect_within_float32_error(cpu[0], c, name + " on the CPU");
    const at::Tensor alone = chronos_bolt_predict_quantiles(
        load_chronos_bolt_stack(c.config, {c.model}, c10::Device("cuda")), c.inputs, c.lengths,
        request);
    EXPECT_TRUE(bit_identical(cuda[0], alone[0])) << name << ": stacked and alone differ on CUDA";
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
