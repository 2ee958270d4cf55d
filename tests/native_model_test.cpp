// Native model folders: a golden Chronos-Bolt model is accepted with its
// config read right, and every hostile variant of it is refused with a
// reason that names what is wrong, before any weight is read where the
// config or header already tells.
#include "crucible/engine/models/native/native_model.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "crucible/common/files.h"
#include "crucible/common/model_files.h"
#include "crucible/common/safetensors.h"
#include "engine/models/native/chronos_bolt/chronos_bolt_config.h"
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
  const auto& c = dynamic_cast<const ChronosBoltConfig&>(*result.config);
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
  EXPECT_EQ(result.parameters, c.parameter_count());
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
  EXPECT_EQ(c.parameter_count(), 4 + 78 + 138 + 140 + 208);
}

TEST_F(NativeModelTest, RefusesAnUnknownArchitecture) {
  edit_config([](json& c) { c["architectures"] = {"LlamaForCausalLM"}; });
  expect_refused("unsupported architecture \"LlamaForCausalLM\"");
}

TEST_F(NativeModelTest, RefusesAMissingWeightsFile) {
  fs::remove(folder_ + "/model.safetensors");
  expect_refused(
      "config.json but no model.safetensors (nor a sharded model.safetensors.index.json)");
}

// A pickled checkpoint is refused with the fix, and its folder is still a
// native candidate (listed, then refused, not skipped).
TEST_F(NativeModelTest, RefusesAPickledCheckpointWithTheFix) {
  fs::remove(folder_ + "/model.safetensors");
  write_file_atomically(folder_ + "/pytorch_model.bin", "PK\x03\x04 not read");
  EXPECT_TRUE(is_native_model_folder(folder_));
  const NativeModelInspection result = inspect();
  EXPECT_FALSE(result.accepted);
  EXPECT_EQ(result.reason, model_layout_reason(folder_));
  EXPECT_NE(result.reason.find("pytorch_model.bin is a pickled checkpoint"), std::string::npos)
      << result.reason;
  EXPECT_NE(result.reason.find("save_pretrained(DIR, safe_serialization=True)"), std::string::npos)
      << result.reason;
  EXPECT_EQ(result.parameters, 0);  // refused before config.json is read
}

TEST_F(NativeModelTest, RefusesAFolderThatIsAlsoTorchScript) {
  write_file_atomically(folder_ + "/model.pt", "not read");
  expect_refused("model.pt and config.json are both present");
}

TEST_F(NativeModelTest, RefusesAWeightsFileMarkedForAnotherFramework) {
  native_fixtures::edit_tensor_list(folder_, [](std::vector<SafetensorsTensorData>&) {});
  ASSERT_TRUE(inspect().accepted) << inspect().reason;  // no metadata: read as PyTorch's
  edit_header([](json& h) { h["__metadata__"] = {{"format", "tf"}}; });
  expect_refused("model.safetensors: __metadata__ format \"tf\" is not a PyTorch checkpoint's");
  edit_header([](json& h) { h["__metadata__"] = {{"format", "mlx"}}; });
  EXPECT_TRUE(inspect().accepted) << inspect().reason;
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

// chronos' ChronosBoltConfig is a dataclass: an unknown chronos_config key
// makes ChronosBoltConfig(**chronos_config) raise, so it is refused.
TEST_F(NativeModelTest, RefusesAnUnknownChronosConfigKey) {
  edit_config([](json& c) { c["chronos_config"]["use_regularization"] = true; });
  const NativeModelInspection result = inspect();
  EXPECT_FALSE(result.accepted);
  EXPECT_EQ(result.reason,
            "config.json: chronos_config: unknown key \"use_regularization\" (the official "
            "ChronosBoltConfig(**chronos_config) refuses it; its fields: context_length, "
            "prediction_length, input_patch_size, input_patch_stride, quantiles, use_reg_token)");
}

// A null the official loader keeps as None and cannot run with is refused.
TEST_F(NativeModelTest, RefusesANullT5Size) {
  edit_config([](json& c) { c["d_model"] = nullptr; });
  expect_refused("config.json: d_model: is null, which the official loader cannot run with");
}

const std::string kNoRegModel = CRUCIBLE_GOLDEN_DIR "/chronos_bolt/gelu_p8_noreg_h30_levels9/model";

// A key the official loader fills with its default is accepted and named.
TEST_F(NativeModelTest, NamesTheOfficialDefaultsAConfigReliesOn) {
  fs::remove_all(folder_);
  native_fixtures::copy_model(kNoRegModel, folder_);
  EXPECT_TRUE(inspect().defaults_used.empty());
  edit_config([](json& c) {
    c["chronos_config"].erase("use_reg_token");
    c.erase("num_decoder_layers");               // T5Config: num_layers (2, as saved)
    c.erase("relative_attention_max_distance");  // T5Config: 128, as saved
  });
  const NativeModelInspection result = inspect();
  ASSERT_TRUE(result.accepted) << result.reason;
  const auto& config = dynamic_cast<const ChronosBoltConfig&>(*result.config);
  EXPECT_FALSE(config.use_reg_token);
  EXPECT_EQ(config.num_decoder_layers, 2);
  EXPECT_EQ(config.relative_attention_max_distance, 128);
  EXPECT_EQ(result.defaults_used,
            (std::vector<std::string>{
                "relative_attention_max_distance missing: 128 (transformers' T5Config default)",
                "num_decoder_layers missing: 2 (num_layers, transformers' T5Config default)",
                "chronos_config.use_reg_token missing: false (the official default)"}));
  edit_config([](json& c) { c["chronos_config"]["use_reg_token"] = nullptr; });
  const NativeModelInspection with_null = inspect();
  ASSERT_TRUE(with_null.accepted) << with_null.reason;
  EXPECT_EQ(with_null.defaults_used.back(),
            "chronos_config.use_reg_token is null: false (the official default)");
}

// A checkpoint saved with a [REG] token whose config.json lost
// use_reg_token: the default (false) disagrees with the tensors, and the
// refusal says why.
TEST_F(NativeModelTest, SaysWhichDefaultMadeTheTensorsDisagree) {
  edit_config([](json& c) { c["chronos_config"].erase("use_reg_token"); });
  const NativeModelInspection result = inspect();
  EXPECT_FALSE(result.accepted);
  EXPECT_EQ(result.reason,
            "model.safetensors: tensor 'shared.weight' has shape [2, 32], expected [1, 32] "
            "(config.json has no chronos_config.use_reg_token, so the default false applies)");
  EXPECT_EQ(result.defaults_used,
            std::vector<std::string>{
                "chronos_config.use_reg_token missing: false (the official default)"});
}

// The golden model saved as save_pretrained saves above max_shard_size:
// three shards and model.safetensors.index.json.
class ShardedNativeModelTest : public NativeModelTest {
 protected:
  ShardedNativeModelTest() { index_ = native_fixtures::shard_model(folder_, 3); }

  std::string shard(int i) const { return native_fixtures::shard_name(i, 3); }

  // The first tensor (by name) the index puts in shard i.
  std::string first_tensor_of(int i) const {
    for (const auto& [tensor, file] : index_["weight_map"].items()) {
      if (file == shard(i)) return tensor;
    }
    return "";
  }

  void edit_index(const std::function<void(json&)>& edit) const {
    native_fixtures::edit_index(folder_, edit);
  }

  void expect_reason(const std::string& reason) const {
    const NativeModelInspection result = inspect();
    EXPECT_FALSE(result.accepted);
    EXPECT_EQ(result.reason, reason);
  }

  json index_;
};

TEST_F(ShardedNativeModelTest, IsAcceptedAsTheSingleFileIs) {
  const NativeModelInspection sharded = inspect();
  ASSERT_TRUE(sharded.accepted) << sharded.reason;
  EXPECT_TRUE(sharded.sharded);
  EXPECT_EQ(index_["weight_map"].size(), 72u);
  const NativeModelInspection single = inspect_native_model(kModel, ModelLimits{});
  EXPECT_FALSE(single.sharded);
  EXPECT_EQ(sharded.config->key(), single.config->key());
  EXPECT_EQ(sharded.parameters, single.parameters);
  EXPECT_EQ(sharded.dtype_counts, single.dtype_counts);
  EXPECT_TRUE(is_native_model_folder(folder_));
  // Three headers' worth of bytes more than the single file, all counted.
  EXPECT_GT(sharded.file_bytes, single.file_bytes);
}

TEST_F(ShardedNativeModelTest, RefusesATensorInTwoShards) {
  const std::string tensor = first_tensor_of(1);
  std::vector<SafetensorsTensorData> copied;
  native_fixtures::edit_shard(folder_, shard(1), [&](std::vector<SafetensorsTensorData>& t) {
    copied.push_back(t.front());
  });
  native_fixtures::edit_shard(folder_, shard(2), [&](std::vector<SafetensorsTensorData>& t) {
    t.push_back(copied.front());
  });
  expect_reason(shard(2) + ": tensor '" + tensor + "': also stored in '" + shard(1) +
                "' (a tensor belongs in one shard)");
}

TEST_F(ShardedNativeModelTest, RefusesATensorInAnotherShardThanListed) {
  const std::string tensor = first_tensor_of(1);
  edit_index([&](json& index) { index["weight_map"][tensor] = shard(2); });
  expect_reason(shard(1) + ": tensor '" + tensor +
                "': stored here, but model.safetensors.index.json puts it in '" + shard(2) + "'");
}

TEST_F(ShardedNativeModelTest, RefusesATensorTheIndexLacks) {
  const std::string tensor = first_tensor_of(2);
  edit_index([&](json& index) { index["weight_map"].erase(tensor); });
  expect_reason(shard(2) + ": tensor '" + tensor +
                "': not in model.safetensors.index.json's weight_map");
}

TEST_F(ShardedNativeModelTest, RefusesATensorListedButInNoShard) {
  const std::string tensor = first_tensor_of(3);
  native_fixtures::edit_shard(folder_, shard(3),
                              [&](std::vector<SafetensorsTensorData>& t) { t.erase(t.begin()); });
  expect_reason("model.safetensors.index.json: tensor '" + tensor + "': not in '" + shard(3) +
                "', its shard");
}

TEST_F(ShardedNativeModelTest, RefusesAMissingShard) {
  fs::remove(folder_ + "/" + shard(3));
  expect_reason("model.safetensors.index.json: shard '" + shard(3) + "' (of tensor '" +
                first_tensor_of(3) + "') is missing from the folder");
}

TEST_F(ShardedNativeModelTest, RefusesAShardFileTheIndexDoesNotName) {
  fs::copy_file(folder_ + "/" + shard(3), folder_ + "/model-00004-of-00003.safetensors");
  expect_reason(
      "model-00004-of-00003.safetensors: not named by model.safetensors.index.json: every "
      "*.safetensors file of the folder must be a shard it lists");
}

TEST_F(ShardedNativeModelTest, RefusesShardNamesOutsideTheFolder) {
  const std::string tensor = first_tensor_of(1);
  for (const std::string& name : {"sub/" + shard(1), "../" + shard(1), std::string(".."),
                                  "/etc/" + shard(1), std::string("model.bin")}) {
    edit_index([&](json& index) { index["weight_map"][tensor] = name; });
    expect_reason("model.safetensors.index.json: weight_map: tensor '" + tensor + "': shard '" +
                  name +
                  "' is not a *.safetensors file name inside the folder (no '/', '\\', '..', "
                  "leading '.' or control byte)");
  }
}

TEST_F(ShardedNativeModelTest, RefusesAnIndexThatIsNotTheJsonTransformersReads) {
  const std::string path = folder_ + "/model.safetensors.index.json";
  const std::string valid = read_file(path);
  write_file_atomically(path, "{\"weight_map\": ");
  const NativeModelInspection cut = inspect();
  EXPECT_FALSE(cut.accepted);
  EXPECT_EQ(cut.reason.rfind("model.safetensors.index.json: not valid JSON: ", 0), 0u)
      << cut.reason;
  write_file_atomically(path, "[]");
  expect_reason("model.safetensors.index.json: not a JSON object");
  edit_index([](json&) {});
  write_file_atomically(path, valid);
  edit_index([](json& index) { index.erase("metadata"); });
  expect_reason(
      "model.safetensors.index.json: metadata is missing (transformers' loader requires it)");
  write_file_atomically(path, valid);
  edit_index([](json& index) { index["shards"] = 3; });
  expect_reason(
      "model.safetensors.index.json: unexpected key 'shards' (only metadata and weight_map)");
  edit_index([](json& index) {
    index.erase("shards");
    index["weight_map"] = json::array();
  });
  expect_reason(
      "model.safetensors.index.json: weight_map is missing or not a JSON object of tensor name "
      "-> shard file name");
  const std::string tensor = first_tensor_of(1);
  write_file_atomically(path, valid);
  edit_index([&](json& index) { index["weight_map"][tensor] = 1; });
  expect_reason("model.safetensors.index.json: weight_map: tensor '" + tensor +
                "': the shard is not a file name string");
  // A tensor named twice in weight_map (nlohmann and Python would keep the last).
  write_file_atomically(path, R"({"metadata": {}, "weight_map": {"a": ")" + shard(1) +
                                  R"(", "a": ")" + shard(2) + R"("}})");
  expect_reason("model.safetensors.index.json: weight_map names tensor 'a' twice");
}

TEST_F(ShardedNativeModelTest, RefusesBothASingleFileAndShards) {
  fs::copy_file(kModel + "/model.safetensors", folder_ + "/model.safetensors");
  expect_reason(
      "model.safetensors and model.safetensors.index.json are both present, which is "
      "ambiguous: keep either the single file or the shards and their index");
}

// The per-tensor checks hold over the union and name the shard at fault.
TEST_F(ShardedNativeModelTest, TensorChecksNameTheShard) {
  const std::string tensor = first_tensor_of(2);
  native_fixtures::edit_shard(
      folder_, shard(2), [&](std::vector<SafetensorsTensorData>& t) { t.front().values[3] = NAN; });
  expect_reason(shard(2) + ": tensor '" + tensor + "' holds a non-finite value at index 3");
  native_fixtures::edit_shard(folder_, shard(2), [&](std::vector<SafetensorsTensorData>& t) {
    t.front().values[3] = 0.0f;
    t.push_back({"encoder.extra.weight", {1}, {0.0f}});
  });
  edit_index([&](json& index) { index["weight_map"]["encoder.extra.weight"] = shard(2); });
  expect_reason(shard(2) + ": unknown tensor \"encoder.extra.weight\"");
  native_fixtures::edit_shard(folder_, shard(2), [&](std::vector<SafetensorsTensorData>& t) {
    t.pop_back();
    t.front().shape.insert(t.front().shape.begin(), 1);
  });
  edit_index([&](json& index) { index["weight_map"].erase("encoder.extra.weight"); });
  const NativeModelInspection reshaped = inspect();
  EXPECT_EQ(reshaped.reason.rfind(shard(2) + ": tensor '" + tensor + "' has shape [", 0), 0u)
      << reshaped.reason;
  native_fixtures::edit_shard(folder_, shard(1),
                              [&](std::vector<SafetensorsTensorData>& t) { t.erase(t.begin()); });
  edit_index([&](json& index) { index["weight_map"].erase(first_tensor_of(1)); });
  expect_reason("model.safetensors.index.json: tensor '" + first_tensor_of(1) + "' is missing");
}

TEST(NativeModelFolder, IsAFolderWithAConfig) {
  EXPECT_TRUE(is_native_model_folder(kModel));
  EXPECT_FALSE(is_native_model_folder(kModel + "/config.json"));
  EXPECT_FALSE(is_native_model_folder(CRUCIBLE_GOLDEN_DIR));
}

}  // namespace
}  // namespace crucible
