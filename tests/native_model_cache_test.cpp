// NativeModelCache: a model's inspection and weights are read once and kept
// while its files are unchanged; a changed file is read again; the budget
// keeps what the current round uses and evicts the least recently used of
// the rest; a refused value is refused at load, with inspection's reason.
#include <ATen/ATen.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "crucible/common/files.h"
#include "crucible/engine/models/native/native_model_cache.h"
#include "engine/models/native/chronos_bolt/chronos_bolt_baselines.h"
#include "native_fixtures.h"
#include "tensor_bits.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;
namespace nf = native_fixtures;

class NativeModelCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folders_ = write_chronos_bolt_baselines(temp_.path(), 0);
    config_ = baseline_chronos_bolt_config();
  }

  // The tensor bytes of a folder's model.safetensors (what a load reads).
  long long tensor_bytes(const std::string& folder) const {
    const SafetensorsFile file = SafetensorsFile::open(folder + "/model.safetensors");
    return static_cast<long long>(file.view().header().data_size);
  }

  // Rewrites the folder's float32 weights in place, every value times
  // `factor`, keeping the file's inode, size and modification time: a reader
  // that trusts the stamp does not see the change, one that reads does.
  static void overwrite_keeping_stamp(const std::string& folder, float factor) {
    const std::string path = folder + "/model.safetensors";
    struct stat before;
    ASSERT_EQ(::stat(path.c_str(), &before), 0);
    uint64_t data_offset = 0;
    {
      const SafetensorsFile file = SafetensorsFile::open(path);
      data_offset = file.view().header().data_offset;
      for (const auto& [name, entry] : file.view().header().tensors) {
        ASSERT_EQ(entry.dtype, SafetensorsDtype::kF32) << name;
      }
    }
    std::string bytes = read_file(path);
    for (size_t at = data_offset; at + sizeof(float) <= bytes.size(); at += sizeof(float)) {
      float value;
      std::memcpy(&value, bytes.data() + at, sizeof value);
      value *= factor;
      std::memcpy(bytes.data() + at, &value, sizeof value);
    }
    FILE* out = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(out, nullptr);
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), out), bytes.size());
    std::fclose(out);
    const struct timespec times[2] = {before.st_atim, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }

  TemporaryFolder temp_{"crucible-model-cache"};
  std::vector<std::string> folders_;
  ChronosBoltConfig config_;
};

TEST_F(NativeModelCacheTest, AnUnchangedModelIsReadOnce) {
  NativeModelCache cache(1LL << 30);
  const std::string& folder = folders_[1];  // random weights (the gaussian's are 0)
  ASSERT_TRUE(cache.inspect(folder, ModelLimits{}).accepted);
  const auto first = cache.weights(folder, config_, at::kCPU);
  EXPECT_EQ(cache.bytes_read(), tensor_bytes(folder));
  EXPECT_GT(cache.resident_bytes(), 0);

  // Same stamp: nothing is read, and the weights are the same tensors.
  overwrite_keeping_stamp(folder, 2.0f);
  cache.begin_round();
  EXPECT_TRUE(cache.inspect(folder, ModelLimits{}).accepted);
  const auto again = cache.weights(folder, config_, at::kCPU);
  EXPECT_EQ(again.get(), first.get());
  EXPECT_EQ(cache.bytes_read(), tensor_bytes(folder));

  // A load that does read sees the overwritten values: the check above could fail.
  const NativeWeights fresh = load_native_weights(config_, folder, at::kCPU);
  EXPECT_FALSE(bit_identical(fresh.at("shared.weight"), first->at("shared.weight")));
}

TEST_F(NativeModelCacheTest, AChangedFileIsReadAgain) {
  NativeModelCache cache(1LL << 30);
  const std::string& folder = folders_[1];
  const auto first = cache.weights(folder, config_, at::kCPU);
  // A new version as the model store installs one: new files.
  const std::string staged = temp_.path() + "/staged";
  nf::copy_model(folder, staged);
  nf::edit_tensors(staged, [](SafetensorsTensorData& t) {
    for (float& v : t.values) v *= 2.0f;
  });
  fs::remove(folder + "/model.safetensors");
  fs::rename(staged + "/model.safetensors", folder + "/model.safetensors");
  cache.begin_round();
  const auto second = cache.weights(folder, config_, at::kCPU);
  EXPECT_EQ(cache.bytes_read(), 2 * tensor_bytes(folder));
  EXPECT_TRUE(at::equal(second->at("shared.weight"), 2.0f * first->at("shared.weight")));
  EXPECT_EQ(cache.resident_bytes(), 4 * config_.parameter_count());
}

// A sharded folder is stamped by all its files: a changed shard, or any
// file added to the folder (its bytes count against the size limit), makes
// it read again.
TEST_F(NativeModelCacheTest, AChangedShardOrNewFileIsReadAgain) {
  NativeModelCache cache(1LL << 30);
  const std::string& folder = folders_[1];
  const nlohmann::json index = nf::shard_model(folder, 2);
  const long long bytes = 4 * config_.parameter_count();
  const NativeModelInspection first_inspection = cache.inspect(folder, ModelLimits{});
  ASSERT_TRUE(first_inspection.accepted) << first_inspection.reason;
  EXPECT_TRUE(first_inspection.sharded);
  const auto first = cache.weights(folder, config_, at::kCPU);
  EXPECT_EQ(cache.bytes_read(), bytes);

  cache.begin_round();
  EXPECT_EQ(cache.weights(folder, config_, at::kCPU).get(), first.get());
  EXPECT_EQ(cache.bytes_read(), bytes);

  // shared.weight is in the second shard: doubled there, read again.
  const std::string shard = nf::shard_name(2, 2);
  ASSERT_EQ(index["weight_map"]["shared.weight"], shard);
  nf::edit_shard(folder, shard, [](std::vector<SafetensorsTensorData>& tensors) {
    for (SafetensorsTensorData& t : tensors) {
      for (float& v : t.values) v *= 2.0f;
    }
  });
  cache.begin_round();
  const auto second = cache.weights(folder, config_, at::kCPU);
  EXPECT_EQ(cache.bytes_read(), 2 * bytes);
  EXPECT_TRUE(at::equal(second->at("shared.weight"), 2.0f * first->at("shared.weight")));

  // A new file: the inspection is made again, and counts it.
  write_file_atomically(folder + "/README.md", std::string(5000, 'x'));
  const NativeModelInspection with_readme = cache.inspect(folder, ModelLimits{});
  EXPECT_EQ(with_readme.file_bytes, first_inspection.file_bytes + 5000);
  cache.begin_round();
  cache.weights(folder, config_, at::kCPU);
  EXPECT_EQ(cache.bytes_read(), 3 * bytes);
}

TEST_F(NativeModelCacheTest, TheBudgetKeepsWhatTheRoundUsesAndEvictsTheRest) {
  ASSERT_GE(folders_.size(), 2u);
  const long long one_model = 4 * config_.parameter_count();
  NativeModelCache cache(one_model);  // room for one model
  const std::string &a = folders_[0], &b = folders_[1];
  const long long bytes_a = tensor_bytes(a), bytes_b = tensor_bytes(b);

  // Round 1 uses a then b: a stays (the round used it), b is not kept.
  cache.begin_round();
  cache.weights(a, config_, at::kCPU);
  cache.weights(b, config_, at::kCPU);
  EXPECT_EQ(cache.resident_bytes(), one_model);
  // Round 2, the same models: a is resident, b is read again.
  cache.begin_round();
  cache.weights(a, config_, at::kCPU);
  cache.weights(b, config_, at::kCPU);
  EXPECT_EQ(cache.bytes_read(), bytes_a + 2 * bytes_b);
  // Round 3 uses b alone: a, unused this round, is evicted for it.
  cache.begin_round();
  cache.weights(b, config_, at::kCPU);
  cache.begin_round();
  const long long before = cache.bytes_read();
  cache.weights(b, config_, at::kCPU);
  EXPECT_EQ(cache.bytes_read(), before) << "b should be resident";
  cache.weights(a, config_, at::kCPU);
  EXPECT_EQ(cache.bytes_read(), before + bytes_a) << "a should have been evicted";

  cache.set_budget_bytes(0);
  EXPECT_EQ(cache.resident_bytes(), 0);
}

TEST_F(NativeModelCacheTest, ANonFiniteValueIsRefusedAtLoadWithInspectionsReason) {
  const std::string& folder = folders_[0];
  nf::edit_tensors(folder, [](SafetensorsTensorData& t) {
    if (t.name == "shared.weight") t.values[3] = std::nanf("");
  });
  NativeModelCache cache(1LL << 30);
  ASSERT_TRUE(cache.inspect(folder, ModelLimits{}).accepted) << "a header-only inspection";
  const NativeModelInspection full = inspect_native_model(folder, ModelLimits{});
  ASSERT_FALSE(full.accepted);
  try {
    cache.weights(folder, config_, at::kCPU);
    FAIL() << "the load accepted a NaN";
  } catch (const NativeWeightsRefused& e) {
    EXPECT_EQ(std::string(e.what()), full.reason);
  }
  EXPECT_EQ(cache.resident_bytes(), 0);
}

}  // namespace
}  // namespace crucible
