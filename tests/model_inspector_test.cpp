// inspect_model() on models the test builds from TorchScript source: honest
// ones are accepted, each hostile or malformed one refused with its reason.
#include "crucible/engine/models/torchscript/model_inspector.h"

#include <gtest/gtest.h>

#include <torch/script.h>
#include "crucible/common/files.h"

#include <filesystem>
#include <fstream>

namespace crucible {
namespace {

namespace fs = std::filesystem;

const char* const kNaive = R"(
def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float]) -> Tensor:
    last = inputs[:, -1:, :]
    q = torch.tensor(quantiles, dtype=inputs.dtype)
    out = last.unsqueeze(-1).expand(inputs.size(0), prediction_length, 1, len(quantiles))
    return out + (q - 0.5) * self.scale
)";

class ModelInspectorTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = temp_.path(); }

  // Saves a module with a `scale` parameter and the given methods.
  std::string save(const std::string& name, const std::string& source,
                   int64_t parameter_count = 1) {
    torch::jit::Module module("Model");
    module.register_parameter("scale", torch::ones({parameter_count}), false);
    module.define(source);
    const std::string path = dir_ + "/" + name + ".pt";
    module.save(path);
    return path;
  }

  TemporaryFolder temp_{"model_inspector_test"};
  std::string dir_;
};

TEST_F(ModelInspectorTest, AcceptsAnHonestModel) {
  const ModelInspection r = inspect_model(save("naive", kNaive), ModelLimits{});
  EXPECT_TRUE(r.accepted) << r.reason;
  EXPECT_EQ(r.entry_method, "forecast");
  EXPECT_FALSE(r.takes_lengths);
  EXPECT_EQ(r.parameters, 1);
  EXPECT_GT(r.op_counts.at("aten::slice"), 0);
  EXPECT_GT(r.file_bytes, 0);
  EXPECT_TRUE(r.refused_ops.empty());
}

TEST_F(ModelInspectorTest, AcceptsForwardAndTheLengthsArgument) {
  const ModelInspection forward = inspect_model(save("forward", R"(
def forward(self, inputs: Tensor, prediction_length: int, quantiles: List[float]) -> Tensor:
    return inputs[:, :prediction_length, :].unsqueeze(-1).repeat(1, 1, 1, len(quantiles))
)"),
                                                ModelLimits{});
  EXPECT_TRUE(forward.accepted) << forward.reason;
  EXPECT_EQ(forward.entry_method, "forward");

  const ModelInspection lengths = inspect_model(save("lengths", R"(
def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float], lengths: Tensor) -> Tensor:
    return inputs[:, :prediction_length, :].unsqueeze(-1).repeat(1, 1, 1, len(quantiles))
)"),
                                                ModelLimits{});
  EXPECT_TRUE(lengths.accepted) << lengths.reason;
  EXPECT_TRUE(lengths.takes_lengths);
}

TEST_F(ModelInspectorTest, RefusesReadingAFile) {
  const ModelInspection r = inspect_model(save("reads_file", R"(
def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float]) -> Tensor:
    secret = torch.from_file("/etc/passwd", False, 16)
    return secret.view(1, 16, 1, 1)
)"),
                                          ModelLimits{});
  EXPECT_FALSE(r.accepted);
  EXPECT_NE(r.reason.find("aten::from_file"), std::string::npos) << r.reason;
  EXPECT_EQ(r.refused_ops, std::vector<std::string>{"aten::from_file"});
}

TEST_F(ModelInspectorTest, FindsRefusedOpsInNestedBlocksAndHelperMethods) {
  const ModelInspection r = inspect_model(save("nested", R"(
def helper(self, x: Tensor) -> Tensor:
    for i in range(3):
        if i == 2:
            print("leak")
    return x

def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float]) -> Tensor:
    return self.helper(inputs).unsqueeze(-1)
)"),
                                          ModelLimits{});
  EXPECT_FALSE(r.accepted);
  EXPECT_NE(r.reason.find("prim::Print"), std::string::npos) << r.reason;
}

TEST_F(ModelInspectorTest, RefusesAWrongSignature) {
  const ModelInspection r = inspect_model(save("signature", R"(
def forecast(self, inputs: Tensor) -> Tensor:
    return inputs
)"),
                                          ModelLimits{});
  EXPECT_FALSE(r.accepted);
  EXPECT_NE(r.reason.find("does not match"), std::string::npos) << r.reason;
  const ModelInspection none = inspect_model(save("none", R"(
def predict(self, inputs: Tensor) -> Tensor:
    return inputs
)"),
                                             ModelLimits{});
  EXPECT_FALSE(none.accepted);
  EXPECT_NE(none.reason.find("neither"), std::string::npos) << none.reason;
}

TEST_F(ModelInspectorTest, EnforcesTheLimits) {
  ModelLimits small;
  small.max_parameters = 100;
  const ModelInspection big = inspect_model(save("big", kNaive, 1000), small);
  EXPECT_FALSE(big.accepted);
  EXPECT_NE(big.reason.find("1000 parameters"), std::string::npos) << big.reason;

  small = ModelLimits{};
  small.max_file_bytes = 10;
  const ModelInspection large = inspect_model(save("large", kNaive), small);
  EXPECT_FALSE(large.accepted);
  EXPECT_NE(large.reason.find("over the limit of 10 bytes"), std::string::npos) << large.reason;
  EXPECT_TRUE(large.op_counts.empty());  // refused before loading
}

TEST_F(ModelInspectorTest, RefusesFilesThatAreNotArchives) {
  const std::string good = save("good", kNaive);
  const std::string truncated = dir_ + "/truncated.pt";
  fs::copy_file(good, truncated);
  fs::resize_file(truncated, fs::file_size(good) / 2);
  std::ofstream(dir_ + "/text.pt") << "not a model";
  for (const std::string& path : {truncated, dir_ + "/text.pt", dir_ + "/missing.pt"}) {
    const ModelInspection r = inspect_model(path, ModelLimits{});
    EXPECT_FALSE(r.accepted) << path;
    EXPECT_FALSE(r.reason.empty());
    EXPECT_EQ(r.reason.find('\n'), std::string::npos) << r.reason;
  }
}

TEST_F(ModelInspectorTest, AcceptsTheInPlaceBranchesOfLayers) {
  // TorchScript's nn.ReLU, nn.Dropout, nn.SiLU, ... hold an `if inplace:`
  // branch that calls the in-place op, inspected even when never taken.
  const ModelInspection r = inspect_model(save("inplace", R"(
def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float]) -> Tensor:
    x = inputs.clone()
    if prediction_length < 0:
        x = torch.relu_(x)
        x = torch.dropout_(x, 0.1, False)
        x = torch.silu_(x)
        x = torch.leaky_relu_(x, 0.01)
        x = torch.elu_(x, 1.0, 1, 1)
        x = torch.hardtanh_(x, -1.0, 1.0)
        x = torch.sigmoid_(x)
        x = torch.tanh_(x)
        x = torch.exp_(x)
    return x[:, -prediction_length:, :].unsqueeze(-1).repeat(1, 1, 1, len(quantiles))
)"),
                                          ModelLimits{});
  EXPECT_TRUE(r.accepted) << r.reason;
  EXPECT_EQ(r.op_counts.at("aten::relu_"), 1);
}

TEST_F(ModelInspectorTest, ReportsEveryProblem) {
  ModelLimits small;
  small.max_parameters = 100;
  const ModelInspection r = inspect_model(save("many_problems", R"(
def forecast(self, inputs: Tensor) -> Tensor:
    print("leak")
    return torch.from_file("/etc/passwd", False, 16)
)",
                                               1000),
                                          small);
  EXPECT_FALSE(r.accepted);
  for (const char* problem : {"aten::from_file", "prim::Print",
                              "1000 parameters, over the limit of 100", "does not match"}) {
    EXPECT_NE(r.reason.find(problem), std::string::npos) << problem << " not in: " << r.reason;
  }
  EXPECT_EQ(r.refused_ops, (std::vector<std::string>{"aten::from_file", "prim::Print"}));
  EXPECT_EQ(r.reason.find('\n'), std::string::npos) << r.reason;
}

TEST(OpAllowlist, InPlaceVariantsAndTheTransformerLayer) {
  for (const char* op :
       {"aten::relu_", "aten::dropout_", "aten::silu_", "aten::leaky_relu_", "aten::elu_",
        "aten::hardtanh_", "aten::gelu_", "aten::sigmoid_", "aten::tanh_", "aten::exp_",
        "aten::_native_multi_head_attention", "aten::_transformer_encoder_layer_fwd",
        "aten::is_grad_enabled", "prim::is_nested", "prim::requires_grad"}) {
    EXPECT_TRUE(is_allowed_op(op)) << op;
  }
  EXPECT_FALSE(is_allowed_op("aten::set_"));
  EXPECT_FALSE(is_allowed_op("aten::_unsafe_view"));
}

TEST(OpAllowlist, PureMathInFilesOut) {
  EXPECT_TRUE(is_allowed_op("aten::matmul"));
  EXPECT_TRUE(is_allowed_op("prim::If"));
  EXPECT_FALSE(is_allowed_op("aten::from_file"));
  EXPECT_FALSE(is_allowed_op("aten::save"));
  EXPECT_FALSE(is_allowed_op("prim::Print"));
  EXPECT_FALSE(is_allowed_op("prim::SetAttr"));
  EXPECT_FALSE(is_allowed_op("prim::CallFunction"));
  EXPECT_FALSE(is_allowed_op("my_ops::anything"));
}

// Archives found by fuzzing (tests/fuzz/README.md) whose pickled debug
// information makes LibTorch's unpickler ask for hundreds of megabytes to
// tens of gigabytes (for the first, the size LibTorch reads varies from run
// to run: 0.5 to 3.7 GB seen). Under the loading cap a worker applies, each is
// refused, either by the cap or by LibTorch once the bytes run out, and the
// honest model next to them is still accepted.
TEST(UntrustedModelInspection, ArchivesAskingForHugeAllocationsAreRefused) {
  const std::string corpus = CRUCIBLE_FUZZ_CORPUS_DIR "/torchscript/";
  for (const char* name :
       {"regression-unpickler-readbytes-3gb", "regression-unpickler-memo-index-38gb"}) {
    const ModelInspection inspection = inspect_untrusted_model(corpus + name, ModelLimits{});
    EXPECT_FALSE(inspection.accepted) << name;
    EXPECT_EQ(inspection.reason.rfind("not a loadable TorchScript archive: ", 0), 0u)
        << name << ": " << inspection.reason;
  }
  EXPECT_TRUE(inspect_untrusted_model(corpus + "valid-linear-ar.pt", ModelLimits{}).accepted);
}

// The cap's own refusal, worded for a miner.
TEST(UntrustedModelInspection, AnAllocationOverTheCapIsRefusedWithTheCapsReason) {
  const ModelInspection inspection = inspect_untrusted_model(
      CRUCIBLE_FUZZ_CORPUS_DIR "/torchscript/regression-unpickler-memo-index-38gb", ModelLimits{});
  EXPECT_EQ(inspection.reason,
            "not a loadable TorchScript archive: loading it asked for more memory than 1 GiB + 4 x "
            "its size");
}

}  // namespace
}  // namespace crucible
