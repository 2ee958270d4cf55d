// Native model folders: a golden Chronos-Bolt model is accepted with its
// config read right, and every hostile variant of it is refused with a
// reason that names what is wrong, before any weight is read where the
// config or header already tells.
#include "crucible/engine/native_model.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "crucible/common/files.h"
#include "crucible/common/safetensors.h"
#include "native_fixtures.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kModel = CRUCIBLE_GOLDEN_DIR "/chronos_bolt/gelu_p16_reg_h24_offgrid/model";

class NativeModelTest : public ::testing::Test {
 protected:
  NativeModelTest() : temp_("crucible-native") {
    folder_ = temp_.path() + "/model";
    native_fixtures::copy_model(kModel, folder_);
  }

  NativeModelInspection inspect() const { return inspect_native_model(folder_, ModelLimits{}); }

  void expect_refused(const std::string& fragment) const {
    const NativeModelInspection result = inspect();
    EXPECT_FALSE(result.accepted);
    EXPECT_NE(result.reason.find(fragment), std::string::npos) << result.reason;
  }

  void edit_config(const std::function<void(json&)>& edit) const {
    native_fixtures::edit_config(folder_, edit);
  }

  std::string weights() const { return read_file(folder_ + "/model.safetensors"); }

  void edit_header(const std::function<void(json&)>& edit) const {
    native_fixtures::edit_header(folder_, edit);
  }

  void edit_tensors(const std::function<void(SafetensorsTensorData&)>& edit) const {
    native_fixtures::edit_tensors(folder_, edit);
  }

  TemporaryFolder temp_;
  std::string folder_;
};

TEST_F(NativeModelTest, AcceptsTheGoldenModelAndReadsItsConfig) {
  const NativeModelInspection result = inspect();
  ASSERT_TRUE(result.accepted) << result.reason;
  EXPECT_EQ(result.architecture, "ChronosBoltModelForForecasting");
  const ChronosBoltConfig& c = result.config;
  EXPECT_EQ(c.d_model, 32);
  EXPECT_EQ(c.d_ff, 48);
  EXPECT_EQ(c.d_kv, 8);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_layers, 3);
  EXPECT_EQ(c.num_decoder_layers, 2);
  EXPECT_TRUE(c.gated_feed_forward);
  EXPECT_EQ(c.activation, Activation::kGeluTanh);
  EXPECT_TRUE(c.use_reg_token);
  EXPECT_EQ(c.context_length, 64);
  EXPECT_EQ(c.prediction_length, 8);
  EXPECT_EQ(c.input_patch_size, 16);
  EXPECT_EQ(c.quantiles.size(), 9u);
  EXPECT_EQ(c.median_index(), 4);
  // Hand count: shared 2x32; patch block 32x48+48 + 32x48+32... summed by the config.
  EXPECT_EQ(result.parameters, chronos_bolt_parameter_count(c));
  EXPECT_EQ(result.dtype_counts.at("F32"),
            static_cast<int64_t>(chronos_bolt_tensor_shapes(c).size()));
}

TEST_F(NativeModelTest, ParameterCountOfATinyConfigByHand) {
  ChronosBoltConfig c;
  c.d_model = 4;
  c.d_ff = 6;
  c.d_kv = 2;
  c.num_heads = 2;
  c.num_layers = 1;
  c.num_decoder_layers = 1;
  c.relative_attention_num_buckets = 8;
  c.prediction_length = 3;
  c.input_patch_size = 2;
  c.quantiles = {0.1, 0.5, 0.9};
  // shared 1x4 = 4; input block (in 4, hidden 6, out 4): 24+6 + 24+4 + 16+4 = 78;
  // output block (in 4, hidden 6, out 9): 24+6 + 54+9 + 36+9 = 138; encoder:
  // q,k,v,o 4x16 + bias table 16 + 2 norms 8 + wi/wo 48 + final 4 = 140;
  // decoder: self 64+16 + cross 64 + 3 norms 12 + wi/wo 48 + final 4 = 208.
  EXPECT_EQ(chronos_bolt_parameter_count(c), 4 + 78 + 138 + 140 + 208);
}

TEST_F(NativeModelTest, RefusesAnUnknownArchitecture) {
  edit_config([](json& c) { c["architectures"] = {"LlamaForCausalLM"}; });
  expect_refused("unsupported architecture \"LlamaForCausalLM\"");
}

TEST_F(NativeModelTest, RefusesAMissingWeightsFile) {
  fs::remove(folder_ + "/model.safetensors");
  expect_refused("model.safetensors is missing");
}

TEST_F(NativeModelTest, RefusesATruncatedFile) {
  const std::string bytes = weights();
  write_file_atomically(folder_ + "/model.safetensors", bytes.substr(0, bytes.size() - 100));
  expect_refused("model.safetensors: tensor '");
}

TEST_F(NativeModelTest, RefusesAnAbsurdHeaderLength) {
  std::string bytes = weights();
  const uint64_t absurd = uint64_t{1} << 60;
  std::memcpy(&bytes[0], &absurd, 8);
  write_file_atomically(folder_ + "/model.safetensors", bytes);
  expect_refused("model.safetensors: header length");
}

TEST_F(NativeModelTest, RefusesAWrongShape) {
  edit_tensors([](SafetensorsTensorData& t) {
    if (t.name == "encoder.final_layer_norm.weight") {
      t.shape = {16, 2};
    }
  });
  expect_refused("tensor 'encoder.final_layer_norm.weight' has shape [16, 2], expected [32]");
}

TEST_F(NativeModelTest, RefusesAMissingTensor) {
  edit_header([](json& h) { h.erase("decoder.block.1.layer.2.DenseReluDense.wo.weight"); });
  expect_refused("tensor 'decoder.block.1.layer.2.DenseReluDense.wo.weight' is missing");
}

TEST_F(NativeModelTest, RefusesAnUnknownTensor) {
  edit_tensors([](SafetensorsTensorData& t) {
    if (t.name == "encoder.final_layer_norm.weight") t.name = "encoder.extra.weight";
  });
  const NativeModelInspection result = inspect();
  EXPECT_FALSE(result.accepted);
  // The renamed tensor leaves its own name missing first.
  EXPECT_NE(result.reason.find("encoder.final_layer_norm.weight' is missing"), std::string::npos)
      << result.reason;
}

TEST_F(NativeModelTest, RefusesOverlappingAndOutOfRangeOffsets) {
  edit_header([](json& h) {
    h["encoder.final_layer_norm.weight"]["data_offsets"] =
        h["decoder.final_layer_norm.weight"]["data_offsets"];
  });
  expect_refused("overlap");
  fs::copy_file(kModel + "/model.safetensors", folder_ + "/model.safetensors",
                fs::copy_options::overwrite_existing);
  edit_header([](json& h) {
    h["encoder.final_layer_norm.weight"]["data_offsets"] = {uint64_t{1} << 40,
                                                            (uint64_t{1} << 40) + 128};
  });
  expect_refused("tensor 'encoder.final_layer_norm.weight'");
}

TEST_F(NativeModelTest, RefusesAbsurdConfigSizesBeforeReadingWeights) {
  edit_config([](json& c) { c["d_model"] = 1000000000; });
  expect_refused("config.json: d_model: is 1000000000, over the limit 8192");
  // Every size within its own bound, but billions of parameters together:
  // refused from the config alone, so fast, with the tiny weights file untouched.
  edit_config([](json& c) {
    c["d_model"] = 8192;
    c["d_ff"] = 32768;
    c["num_layers"] = 64;
  });
  const auto start = std::chrono::steady_clock::now();
  expect_refused("(implied by config.json) is over the limit 10000000");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
  edit_config([](json& c) { c["chronos_config"]["input_patch_size"] = -3; });
  expect_refused("chronos_config.input_patch_size: is -3, below 1");
  edit_config([](json& c) {
    c["chronos_config"]["input_patch_size"] = 16;
    c.erase("dense_act_fn");
    c["feed_forward_proj"] = "gated-swish";
  });
  expect_refused("\"swish\" is not supported");
}

TEST_F(NativeModelTest, RefusesMalformedConfigs) {
  write_file_atomically(folder_ + "/config.json", "{not json");
  expect_refused("config.json: not a valid JSON object");
  write_file_atomically(folder_ + "/config.json", R"({"architectures": []})");
  expect_refused("config.json: architectures: must be a non-empty list");
  write_file_atomically(folder_ + "/config.json",
                        R"({"architectures": ["ChronosBoltModelForForecasting"]})");
  expect_refused("config.json: chronos_config: is missing");
}

TEST_F(NativeModelTest, RefusesNonFiniteWeights) {
  edit_tensors([](SafetensorsTensorData& t) {
    if (t.name == "decoder.block.0.layer.1.EncDecAttention.k.weight") t.values[5] = NAN;
  });
  expect_refused(
      "tensor 'decoder.block.0.layer.1.EncDecAttention.k.weight' holds a non-finite value at "
      "index 5");
}

TEST_F(NativeModelTest, RefusesATiedCopyThatDiffersFromTheSharedEmbedding) {
  std::vector<float> copy;
  edit_tensors([&](SafetensorsTensorData& t) {
    if (t.name == "shared.weight") copy = t.values;
  });
  copy[0] += 1.0f;
  native_fixtures::edit_tensor_list(folder_, [&](std::vector<SafetensorsTensorData>& tensors) {
    tensors.push_back({"encoder.embed_tokens.weight", {2, 32}, copy});
  });
  expect_refused("tensor 'encoder.embed_tokens.weight' differs from shared.weight");
}

TEST_F(NativeModelTest, RefusesFilesOverTheSizeLimit) {
  ModelLimits limits;
  limits.max_file_bytes = 1000;
  const NativeModelInspection result = inspect_native_model(folder_, limits);
  EXPECT_FALSE(result.accepted);
  EXPECT_NE(result.reason.find("over the limit of 1000 bytes"), std::string::npos) << result.reason;
}

TEST(NativeModelFolder, IsAFolderWithAConfig) {
  EXPECT_TRUE(is_native_model_folder(kModel));
  EXPECT_FALSE(is_native_model_folder(kModel + "/config.json"));
  EXPECT_FALSE(is_native_model_folder(CRUCIBLE_GOLDEN_DIR));
}

}  // namespace
}  // namespace crucible
