// Native models in a round: hostile folders are refused by reason beside
// honest native and TorchScript models whose losses do not change; the
// Gaussian baseline forecasts what it claims; chunking, out-of-memory splits
// and timeouts stay with their models.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "crucible/common/files.h"
#include "crucible/engine/data/synthetic_gp.h"
#include "crucible/engine/models/native/native_runner.h"
#include "crucible/engine/models/torchscript/baseline_models.h"
#include "crucible/engine/round/model_runner.h"
#include "crucible/engine/scoring/quantile_levels.h"
#include "engine/models/native/chronos_bolt/chronos_bolt.h"
#include "engine/models/native/chronos_bolt/chronos_bolt_baselines.h"
#include "native_fixtures.h"
#include "tensor_bits.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
namespace nf = native_fixtures;

// Each hostile variant of the Gaussian baseline, with a fragment of its reason.
struct Hostile {
  std::function<void(const std::string&)> make;
  std::string reason;
};

std::map<std::string, Hostile> hostile_variants() {
  return {
      {"10_unknown_architecture",
       {[](const std::string& f) {
          nf::edit_config(f, [](json& c) { c["architectures"] = {"GPT2LMHeadModel"}; });
        },
        "unsupported architecture \"GPT2LMHeadModel\""}},
      {"11_truncated",
       {[](const std::string& f) {
          fs::resize_file(f + "/model.safetensors", fs::file_size(f + "/model.safetensors") / 2);
        },
        "model.safetensors: tensor '"}},
      {"12_absurd_header",
       {[](const std::string& f) {
          std::string bytes = read_file(f + "/model.safetensors");
          const uint64_t absurd = uint64_t{1} << 62;
          std::memcpy(&bytes[0], &absurd, 8);
          write_file_atomically(f + "/model.safetensors", bytes);
        },
        "model.safetensors: header length"}},
      {"13_wrong_shape",
       {[](const std::string& f) {
          nf::edit_tensors(f, [](SafetensorsTensorData& t) {
            if (t.name == "decoder.final_layer_norm.weight") t.shape = {8, 8};
          });
        },
        "'decoder.final_layer_norm.weight' has shape [8, 8], expected [64]"}},
      {"14_missing_tensor",
       {[](const std::string& f) {
          nf::edit_header(
              f, [](json& h) { h.erase("encoder.block.1.layer.1.DenseReluDense.wi.weight"); });
        },
        "'encoder.block.1.layer.1.DenseReluDense.wi.weight' is missing"}},
      {"15_overlapping_offsets",
       {[](const std::string& f) {
          nf::edit_header(f, [](json& h) {
            h["encoder.final_layer_norm.weight"]["data_offsets"] =
                h["decoder.final_layer_norm.weight"]["data_offsets"];
          });
        },
        "overlap"}},
      {"16_absurd_config",
       {[](const std::string& f) {
          nf::edit_config(f, [](json& c) { c["chronos_config"]["context_length"] = 1LL << 40; });
        },
        "chronos_config.context_length: is 1099511627776, over the limit"}},
      {"17_nan_weights",
       {[](const std::string& f) {
          nf::edit_tensors(f, [](SafetensorsTensorData& t) {
            if (t.name == "shared.weight") t.values[3] = std::nanf("");
          });
        },
        "'shared.weight' holds a non-finite value"}},
  };
}

class NativeRoundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    models_ = temp_.path() + "/models";
    fs::create_directories(models_);
    honest_.push_back({0, write_baseline_models(models_).front()});  // 0_naive.pt
    for (const std::string& folder : write_chronos_bolt_baselines(models_, 6)) {
      honest_.push_back({6 + static_cast<int64_t>(honest_.size()) - 1, folder});
    }
    SyntheticGpOptions gp;
    gp.seed = 9;
    gp.num_series = 40;
    gp.length = 300;
    task_ = generate_synthetic_gp_cpu(gp);
    write_task_directory(task_, temp_.path() + "/task");
    options_.worker_executable = CRUCIBLE_BINARY;
    options_.quantiles = default_quantile_levels();
  }

  RoundResult run(const std::vector<CandidateModel>& models) const {
    return run_round(models, task_, temp_.path() + "/task", options_);
  }

  TemporaryFolder temp_{"crucible-native-round"};
  std::string models_;
  std::vector<CandidateModel> honest_;
  TaskData task_;
  RunnerOptions options_;
};

TEST_F(NativeRoundTest, HostileFoldersAreRefusedAndHonestLossesDoNotChange) {
  std::vector<CandidateModel> all = honest_;
  const auto variants = hostile_variants();
  for (const auto& [name, variant] : variants) {
    const std::string folder = models_ + "/" + name;
    nf::copy_model(honest_[1].path, folder);
    variant.make(folder);
    all.push_back({std::stoll(name), folder});
  }
  const RoundResult alone = run(honest_);
  const RoundResult mixed = run(all);
  for (size_t i = 0; i < honest_.size(); ++i) {
    EXPECT_EQ(mixed.runs[i].status, "ok") << mixed.runs[i].path << ": " << mixed.runs[i].reason;
    EXPECT_TRUE(at::equal(mixed.losses[i], alone.losses[i])) << mixed.runs[i].path;
    EXPECT_TRUE(at::isfinite(mixed.losses[i]).all().item<bool>());
  }
  EXPECT_EQ(mixed.runs[0].format, "torchscript");
  EXPECT_EQ(mixed.runs[1].format, "native");
  EXPECT_EQ(mixed.runs[1].group, 0);
  EXPECT_EQ(mixed.runs[2].group, 0);  // the same config: stacked together
  size_t k = honest_.size();
  for (const auto& [name, variant] : variants) {
    const ModelRun& run = mixed.runs[k];
    EXPECT_EQ(run.status, "refused") << name;
    EXPECT_EQ(run.format, "native") << name;
    EXPECT_NE(run.reason.find(variant.reason), std::string::npos) << name << ": " << run.reason;
    EXPECT_TRUE(at::isinf(mixed.losses[k]).all().item<bool>()) << name;
    ++k;
  }
}

TEST_F(NativeRoundTest, GaussianBaselineForecastsMeanPlusZTimesStd) {
  const ChronosBoltConfig config = baseline_chronos_bolt_config();
  const ChronosBoltStack stack = load_chronos_bolt_stack(config, {honest_[1].path}, at::kCPU);
  const at::Tensor inputs =
      at::from_blob(task_.inputs.data(), {task_.num_series, task_.input_width}, at::kFloat);
  const at::Tensor lengths = at::tensor(task_.input_lengths, at::kLong);
  QuantileForecastRequest request;
  request.horizon = 70;  // more than one prediction_length: the unrolled steps too
  request.levels = {0.1, 0.5, 0.9};
  const at::Tensor forecasts =
      chronos_bolt_predict_quantiles(stack, inputs, lengths, request);  // [1, S, H, 3]
  for (int64_t j = 0; j < 3; ++j) {
    const int64_t n = task_.input_lengths[j];
    const int64_t kept = std::min<int64_t>(n, config.context_length);
    const at::Tensor context = inputs[j].narrow(0, n - kept, kept).to(at::kDouble);
    const double mean = context.mean().item<double>();
    const double std = (context - mean).pow(2).mean().sqrt().item<double>();
    for (int64_t i = 0; i < 3; ++i) {
      const double expected = mean + standard_normal_quantile(request.levels[i]) * std;
      EXPECT_NEAR(forecasts[0][j][0][i].item<double>(), expected, 1e-4 * (std + std::abs(mean)))
          << "series " << j << " level " << request.levels[i];
    }
  }
  EXPECT_NEAR(standard_normal_quantile(0.9), 1.2815515655446004, 1e-12);
}

// The natives alone through run_native_models, with `options`.
std::vector<ModelRun> run_natives(const std::vector<CandidateModel>& models, const TaskData& task,
                                  const NativeRunOptions& options, at::Tensor& forecasts) {
  std::vector<ModelRun> runs(models.size());
  std::vector<size_t> indices;
  for (size_t i = 0; i < models.size(); ++i) {
    runs[i].uid = models[i].uid;
    runs[i].path = models[i].path;
    indices.push_back(i);
  }
  forecasts = at::zeros({static_cast<int64_t>(models.size()), task.num_series, task.target_width,
                         static_cast<int64_t>(options.quantiles.size())});
  run_native_models(indices, task, options, runs, forecasts);
  return runs;
}

TEST_F(NativeRoundTest, ChunksAndOutOfMemorySplitsGiveTheSameForecasts) {
  // Four models of one config: the two baselines and scaled copies.
  std::vector<CandidateModel> natives = {honest_[1], honest_[2]};
  for (const char* name : {"20_copy", "21_copy"}) {
    const std::string folder = models_ + "/" + name;
    nf::copy_model(honest_[2].path, folder);
    nf::edit_tensors(folder, [](SafetensorsTensorData& t) {
      for (float& v : t.values) v *= 1.05f;
    });
    natives.push_back({std::stoll(name), folder});
  }
  NativeRunOptions options;
  options.quantiles = default_quantile_levels();
  at::Tensor whole;
  run_natives(natives, task_, options, whole);

  // A budget for one model at a time: four chunks.
  options.memory_budget_bytes =
      chronos_bolt_bytes_per_model(baseline_chronos_bolt_config(), task_.num_series);
  at::Tensor chunked;
  for (const ModelRun& run : run_natives(natives, task_, options, chunked)) {
    EXPECT_EQ(run.status, "ok") << run.reason;
  }
  EXPECT_TRUE(bit_identical(chunked, whole)) << "chunks of one model changed forecasts";

  // A device that runs out of memory for more than one model at once: the
  // chunk is split down to single models, which all succeed.
  options.memory_budget_bytes = 0;
  std::vector<size_t> attempts;
  options.before_chunk = [&](size_t models) {
    attempts.push_back(models);
    if (models > 1) throw std::runtime_error("CUDA out of memory. Tried to allocate 2.00 GiB");
  };
  at::Tensor split;
  for (const ModelRun& run : run_natives(natives, task_, options, split)) {
    EXPECT_EQ(run.status, "ok") << run.reason;
  }
  EXPECT_EQ(attempts, (std::vector<size_t>{4, 2, 1, 1, 2, 1, 1}));
  EXPECT_TRUE(bit_identical(split, whole)) << "out-of-memory splits changed forecasts";

  // One model that does not fit even alone fails with a memory reason; the others succeed.
  int single_attempts = 0;
  options.before_chunk = [&](size_t models) {
    if (models > 1 || single_attempts++ == 0) throw std::runtime_error("CUDA out of memory.");
  };
  const std::vector<ModelRun> runs = run_natives(natives, task_, options, split);
  EXPECT_EQ(runs[0].status, "failed");
  EXPECT_EQ(runs[0].reason, "out of memory: CUDA out of memory.");
  for (size_t i = 1; i < runs.size(); ++i) EXPECT_EQ(runs[i].status, "ok") << runs[i].reason;
}

TEST_F(NativeRoundTest, AChunkPastItsTimeBudgetTimesOut) {
  NativeRunOptions options;
  options.quantiles = default_quantile_levels();
  options.timeout_seconds = 1e-9;
  at::Tensor forecasts;
  const std::vector<ModelRun> runs =
      run_natives({honest_[1], honest_[2]}, task_, options, forecasts);
  for (const ModelRun& run : runs) {
    EXPECT_EQ(run.status, "timeout");
    EXPECT_NE(run.reason.find("no forecast within"), std::string::npos) << run.reason;
  }
  options.timeout_seconds = 100;
  options.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  for (const ModelRun& run : run_natives({honest_[1]}, task_, options, forecasts)) {
    EXPECT_EQ(run.status, "timeout");
    EXPECT_EQ(run.reason, "the step's time ran out before this model started");
  }
}

}  // namespace
}  // namespace crucible
