// A local chain, a local hub and a store in a temporary folder, for the
// model manager and step loop tests: miners are added with their model bytes
// and committed as docs/scoring.md section 7 says.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crucible/common/files.h"
#include "crucible/validator/model_id.h"

namespace crucible {

class ValidatorFixture {
 public:
  ValidatorFixture() {
    std::filesystem::create_directories(chain_dir());
    std::filesystem::create_directories(hub_dir());
  }

  std::string chain_dir() const { return root_ + "/chain"; }
  std::string hub_dir() const { return root_ + "/hub"; }
  std::string store_dir() const { return root_ + "/store"; }
  std::string state_dir() const { return root_ + "/state"; }

  // Puts `bytes` as model.pt of demo/<name> at `commit` in the hub.
  void publish(const std::string& name, const std::string& commit, const std::string& bytes) {
    const std::string folder = hub_dir() + "/demo/" + name + "/" + commit;
    std::filesystem::create_directories(folder);
    write_file_atomically(folder + "/model.pt", bytes);
  }

  // A commitment to demo/<name>@commit whose secure hash matches `bytes` for `hotkey`.
  static std::string commitment(const std::string& name, const std::string& commit,
                                const std::string& hotkey, const std::string& bytes,
                                CompetitionId competition = 0) {
    const std::string hash = content_hash({{"model.pt", bytes}});
    return "demo/" + name + ":" + commit + ":" + secure_hash(hash, hotkey) + ":" +
           std::to_string(competition);
  }

  void add_neuron(const std::string& hotkey, bool validator_permit = false) {
    neurons_.push_back({{"uid", neurons_.size()},
                        {"hotkey", hotkey},
                        {"stake", 1.0},
                        {"validator_permit", validator_permit}});
    write_chain();
  }

  void set_hotkey(size_t uid, const std::string& hotkey) {
    neurons_.at(uid)["hotkey"] = hotkey;
    write_chain();
  }

  // Gives neuron `uid` a stake and the weight row it set.
  void set_validator_weights(size_t uid, double stake, const std::vector<double>& weights) {
    neurons_.at(uid)["stake"] = stake;
    neurons_.at(uid)["weights"] = weights;
    write_chain();
  }

  // The chain's block (1000 at first; the block does not advance by itself).
  void set_block(Block block) {
    block_ = block;
    write_chain();
  }

  // metagraph.json's block_hashes ({"<block>": "<hex>"}); null: none.
  void set_block_hashes(const nlohmann::json& hashes) {
    block_hashes_ = hashes;
    write_chain();
  }

  void commit(const std::string& hotkey, const std::string& commitment, Block block) {
    commitments_[hotkey] = {{"commitment", commitment}, {"block", block}};
    write_chain();
  }

 private:
  void write_chain() {
    nlohmann::json metagraph = {
        {"netuid", 1}, {"block", block_}, {"seconds_per_block", 0}, {"neurons", neurons_}};
    if (!block_hashes_.is_null()) metagraph["block_hashes"] = block_hashes_;
    write_file_atomically(chain_dir() + "/metagraph.json", metagraph.dump());
    write_file_atomically(chain_dir() + "/commitments.json", commitments_.dump());
  }

  TemporaryFolder folder_{"validator_fixture"};
  const std::string root_ = folder_.path();
  nlohmann::json neurons_ = nlohmann::json::array();
  nlohmann::json commitments_ = nlohmann::json::object();
  Block block_ = 1000;
  nlohmann::json block_hashes_;
};

}  // namespace crucible
