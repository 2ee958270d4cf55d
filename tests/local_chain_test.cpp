// LocalChain: the block clock, metagraph and commitments reading with
// one-line errors, last-good copies of half-written files, the weights log,
// seed_block and block_seed (from block hashes, or predictable without them).
#include "crucible/validator/local_chain.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "crucible/common/files.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kThreeNeurons = R"({"netuid": 1, "block": 1000, "seconds_per_block": 12,
  "time": 100, "neurons": [
    {"uid": 2, "hotkey": "hk2", "stake": 0, "validator_permit": false},
    {"uid": 0, "hotkey": "hk0", "stake": 10.5, "validator_permit": true},
    {"uid": 1, "hotkey": "hk1", "stake": 3, "validator_permit": false}]})";

class LocalChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    options_.refresh_seconds = 0;
    options_.read_attempts = 3;
    options_.retry_delay_seconds = 0.001;
  }

  // Writes the file in place (not atomically), as a careless writer would.
  void write(const std::string& file, const std::string& text) {
    std::ofstream(dir_ + "/" + file, std::ios::trunc) << text;
  }

  LocalChain chain() {
    return LocalChain(
        dir_, [this] { return now_; }, options_);
  }

  // The message of the ChainError that metagraph() throws for `document`.
  std::string metagraph_error(const std::string& document) {
    write("metagraph.json", document);
    LocalChain local = chain();
    try {
      local.metagraph();
    } catch (const ChainError& e) {
      EXPECT_EQ(local.last_error(), e.what());
      return e.what();
    }
    return "no error";
  }

  std::vector<json> weights_lines() {
    std::ifstream in(dir_ + "/weights.jsonl");
    std::vector<json> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    return lines;
  }

  TemporaryFolder temp_{"local_chain_test"};
  std::string dir_;
  double now_ = 100;
  LocalChain::Options options_;
};

// kThreeNeurons with the top-level keys of `patch` replaced.
std::string three_neurons_with(const json& patch) {
  json document = json::parse(kThreeNeurons);
  document.merge_patch(patch);
  return document.dump();
}

TEST_F(LocalChainTest, BlockAdvancesWithTheClockAndRestartsOnANewBlockValue) {
  write("metagraph.json", kThreeNeurons);
  LocalChain local = chain();
  EXPECT_EQ(local.current_block(), 1000);  // block 1000 at "time" 100, now = 100
  now_ = 111.9;
  EXPECT_EQ(local.current_block(), 1000);
  now_ = 112;
  EXPECT_EQ(local.current_block(), 1001);
  now_ = 100 + 12 * 5 + 11;
  EXPECT_EQ(local.current_block(), 1005);
  EXPECT_EQ(local.metagraph().block, 1005);

  write("metagraph.json", three_neurons_with({{"block", 2000}, {"time", 200}}));
  now_ = 200;
  EXPECT_EQ(local.current_block(), 2000);
  now_ = 200 + 24;
  EXPECT_EQ(local.current_block(), 2002);
}

// A restarted validator reads the directory anew: its block must go on from
// the time stored there, not from when the new process read the file.
TEST_F(LocalChainTest, ARestartedChainNeverReportsASmallerBlock) {
  write("metagraph.json", kThreeNeurons);  // block 1000 at "time" 100
  Block before_restart = 0;
  {
    LocalChain first = chain();
    EXPECT_EQ(first.current_block(), 1000);  // now = 100
    now_ = 100 + 12 * 10 + 5;
    before_restart = first.current_block();
    EXPECT_EQ(before_restart, 1010);
  }
  LocalChain second = chain();
  EXPECT_GE(second.current_block(), before_restart);
  EXPECT_EQ(second.metagraph().block, 1010);
}

// Without "time" the block counts from the file's modification time.
TEST_F(LocalChainTest, WithoutATimeTheBlockCountsFromTheFilesModificationTime) {
  write("metagraph.json", three_neurons_with({{"time", nullptr}}));  // a merge patch: removed
  const timespec modified[2] = {{500, 0}, {500, 0}};                 // atime, mtime
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir_ + "/metagraph.json").c_str(), modified, 0), 0);
  now_ = 500 + 12 * 3;
  LocalChain first = chain();
  EXPECT_EQ(first.current_block(), 1003);
  now_ = 500 + 12 * 7;
  EXPECT_EQ(first.current_block(), 1007);
  EXPECT_EQ(chain().current_block(), 1007);  // a restart goes on
}

TEST_F(LocalChainTest, TheBlockNeverGoesBackWhenTheClockDoes) {
  write("metagraph.json", kThreeNeurons);
  LocalChain local = chain();
  now_ = 100 + 12 * 4;
  EXPECT_EQ(local.current_block(), 1004);
  now_ = 100;  // the wall clock stepped back
  EXPECT_EQ(local.current_block(), 1004);
  EXPECT_EQ(local.metagraph().block, 1004);
}

TEST_F(LocalChainTest, ABadTimeIsRefusedNamingTheField) {
  EXPECT_EQ(metagraph_error(three_neurons_with({{"time", -1}})),
            dir_ + "/metagraph.json: $.time: expected a finite number >= 0, got -1");
}

TEST_F(LocalChainTest, FractionalSecondsPerBlock) {
  write("metagraph.json", three_neurons_with({{"seconds_per_block", 0.25}}));
  LocalChain local = chain();
  EXPECT_EQ(local.current_block(), 1000);
  now_ += 1.1;
  EXPECT_EQ(local.current_block(), 1004);
}

TEST_F(LocalChainTest, ZeroSecondsPerBlockFreezesTheBlock) {
  write("metagraph.json", three_neurons_with({{"seconds_per_block", 0}}));
  LocalChain local = chain();
  EXPECT_EQ(local.current_block(), 1000);
  now_ += 1e6;
  EXPECT_EQ(local.current_block(), 1000);
}

TEST_F(LocalChainTest, MetagraphIsSortedByUid) {
  write("metagraph.json", kThreeNeurons);
  const Metagraph metagraph = chain().metagraph();
  EXPECT_EQ(metagraph.netuid, 1);
  EXPECT_EQ(metagraph.block, 1000);
  ASSERT_EQ(metagraph.neurons.size(), 3u);
  const std::string hotkeys[] = {"hk0", "hk1", "hk2"};
  const double stakes[] = {10.5, 3, 0};
  const bool permits[] = {true, false, false};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(metagraph.neurons[i].uid, static_cast<Uid>(i));
    EXPECT_EQ(metagraph.neurons[i].hotkey, hotkeys[i]);
    EXPECT_EQ(metagraph.neurons[i].stake, stakes[i]);
    EXPECT_EQ(metagraph.neurons[i].validator_permit, permits[i]);
  }
}

TEST_F(LocalChainTest, EmptyMetagraphIsValid) {
  write("metagraph.json", three_neurons_with({{"neurons", json::array()}}));
  EXPECT_TRUE(chain().metagraph().neurons.empty());
}

TEST_F(LocalChainTest, MetagraphErrorsNameTheFileAndTheJsonPath) {
  const std::string file = dir_ + "/metagraph.json: ";
  const auto neuron = [](json uid, json hotkey, json stake, json permit) {
    return json{{"uid", uid}, {"hotkey", hotkey}, {"stake", stake}, {"validator_permit", permit}};
  };
  const auto with_neurons = [&](const json& neurons) {
    return three_neurons_with({{"neurons", neurons}});
  };
  const json good0 = neuron(0, "a", 1, false), good1 = neuron(1, "b", 1, false);

  EXPECT_EQ(metagraph_error(with_neurons({good0, good1, neuron(2, "", 1, false)})),
            file + "$.neurons[2].hotkey: expected a non-empty string, got string");
  EXPECT_EQ(metagraph_error(with_neurons({good0, good1, neuron(2, 7, 1, false)})),
            file + "$.neurons[2].hotkey: expected a non-empty string, got 7");
  EXPECT_EQ(
      metagraph_error(with_neurons({good0, neuron(3, "c", 1, false), good1})),
      file + "$.neurons[1].uid: uid 3 is out of range: the 3 neurons must have the uids 0..2");
  EXPECT_EQ(metagraph_error(with_neurons({good0, good1, neuron(0, "c", 1, false)})),
            file + "$.neurons[2].uid: duplicate uid 0 (also at $.neurons[0].uid)");
  EXPECT_EQ(metagraph_error(with_neurons({good0, neuron(-1, "c", 1, false)})),
            file + "$.neurons[1].uid: expected an integer >= 0, got -1");
  EXPECT_EQ(metagraph_error(with_neurons({good0, neuron(1, "a", 1, false)})),
            file + "$.neurons[1].hotkey: duplicate hotkey \"a\" (also at $.neurons[0].hotkey)");
  EXPECT_EQ(metagraph_error(with_neurons(json::array({neuron(0, "a", -1.5, false)}))),
            file + "$.neurons[0].stake: expected a finite number >= 0, got -1.5");
  EXPECT_EQ(metagraph_error(with_neurons(json::array({neuron(0, "a", "10", false)}))),
            file + "$.neurons[0].stake: expected a finite number >= 0, got string");
  EXPECT_EQ(metagraph_error(with_neurons(json::array({neuron(0, "a", 1, "yes")}))),
            file + "$.neurons[0].validator_permit: expected true or false, got string");
  EXPECT_EQ(metagraph_error(with_neurons(json::array({json{{"hotkey", "a"}}}))),
            file + "$.neurons[0].uid: missing; expected an integer >= 0");
  json weighted = good0;
  weighted["weights"] = json::array({0.5, -1});
  EXPECT_EQ(metagraph_error(with_neurons(json::array({weighted}))),
            file + "$.neurons[0].weights[1]: expected a finite number >= 0, got -1");
  weighted["weights"] = "heavy";
  EXPECT_EQ(metagraph_error(with_neurons(json::array({weighted}))),
            file + "$.neurons[0].weights: expected an array of finite numbers >= 0, got string");
  EXPECT_EQ(metagraph_error(with_neurons(json::array({3}))),
            file + "$.neurons[0]: expected an object, got 3");
  EXPECT_EQ(metagraph_error(with_neurons("all")),
            file + "$.neurons: expected an array, got string");
  EXPECT_EQ(metagraph_error(three_neurons_with({{"block", 1000.5}})),
            file + "$.block: expected an integer >= 0, got 1000.5");
  EXPECT_EQ(metagraph_error(three_neurons_with({{"seconds_per_block", -12}})),
            file + "$.seconds_per_block: expected a finite number >= 0, got -12");
  EXPECT_EQ(metagraph_error(R"({"block": 1, "seconds_per_block": 1, "neurons": []})"),
            file + "$.netuid: missing; expected an integer >= 0");
  EXPECT_EQ(metagraph_error("[]"), file + "$: expected an object, got array");
}

TEST_F(LocalChainTest, MissingMetagraphThrowsNamingTheFile) {
  LocalChain local = chain();
  try {
    local.current_block();
    FAIL() << "no ChainError";
  } catch (const ChainError& e) {
    EXPECT_EQ(std::string(e.what()),
              dir_ + "/metagraph.json: cannot open file: No such file or directory");
  }
}

TEST_F(LocalChainTest, CommitmentsAreReadAsWritten) {
  LocalChain local = chain();
  EXPECT_TRUE(local.commitments().empty());  // no file: no commitments

  write("commitments.json", R"({"hk0": {"commitment": "ns/a:c1:h1:0", "block": 990},
                                "hk1": {"commitment": "not a model id", "block": 5}})");
  const std::map<std::string, Commitment> commitments = local.commitments();
  ASSERT_EQ(commitments.size(), 2u);
  EXPECT_EQ(commitments.at("hk0").commitment, "ns/a:c1:h1:0");
  EXPECT_EQ(commitments.at("hk0").block, 990);
  EXPECT_EQ(commitments.at("hk1").commitment, "not a model id");
  EXPECT_EQ(commitments.at("hk1").block, 5);
}

TEST_F(LocalChainTest, CommitmentErrorsNameTheFileAndTheJsonPath) {
  const std::string file = dir_ + "/commitments.json: ";
  const auto error = [&](const std::string& document) -> std::string {
    write("commitments.json", document);
    try {
      chain().commitments();
    } catch (const ChainError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(
      error(
          R"({"hk0": {"commitment": "ns/a:c:h:0", "block": 1}, "hk1": {"commitment": 5, "block": 1}})"),
      file + "$[\"hk1\"].commitment: expected a string, got 5");
  EXPECT_EQ(error(R"({"hk0": {"commitment": "ns/a:c:h:0"}})"),
            file + "$[\"hk0\"].block: missing; expected an integer >= 0");
  EXPECT_EQ(error(R"({"": {"commitment": "ns/a:c:h:0", "block": 1}})"),
            file + "$[\"\"]: expected a non-empty hotkey");
  EXPECT_EQ(error(R"({"hk0": "ns/a:c:h:0"})"), file + "$[\"hk0\"]: expected an object, got string");
  EXPECT_EQ(error("[1]"), file + "$: expected an object, got array");
}

TEST_F(LocalChainTest, HalfWrittenFileAfterAGoodReadKeepsTheLastGoodCopy) {
  write("metagraph.json", kThreeNeurons);
  LocalChain local = chain();
  EXPECT_EQ(local.metagraph().neurons.size(), 3u);
  EXPECT_EQ(local.last_error(), "");

  const std::string text = kThreeNeurons;
  write("metagraph.json", text.substr(0, text.size() / 2));
  const Metagraph kept = local.metagraph();
  ASSERT_EQ(kept.neurons.size(), 3u);
  EXPECT_EQ(kept.neurons[0].hotkey, "hk0");
  EXPECT_EQ(local.last_error().rfind(dir_ + "/metagraph.json: invalid JSON: ", 0), 0u)
      << local.last_error();

  // A document that parses but does not validate is not half-applied either.
  write("metagraph.json", three_neurons_with({{"neurons", {{{"uid", 0}, {"hotkey", "new"}}}}}));
  EXPECT_EQ(local.metagraph().neurons.size(), 3u);
  EXPECT_EQ(local.last_error(),
            dir_ + "/metagraph.json: $.neurons[0].stake: missing; expected a finite number >= 0");

  write("metagraph.json", three_neurons_with({{"neurons", json::array()}}));
  EXPECT_TRUE(local.metagraph().neurons.empty());
  EXPECT_EQ(local.last_error(), "");
}

// A writer rewrites both files over and over while the chain reads them:
// metagraph.json in place, a few bytes at a time (as a careless writer
// would), commitments.json atomically. Every read returns one whole version,
// never a mix and never an error, and the block never goes back.
TEST_F(LocalChainTest, FilesRewrittenWhileReadGiveWholeVersionsOnly) {
  const std::string version_a = kThreeNeurons;
  const std::string version_b = three_neurons_with(
      {{"block", 2000},
       {"neurons",
        {{{"uid", 0}, {"hotkey", "new0"}, {"stake", 1}, {"validator_permit", true}},
         {{"uid", 1}, {"hotkey", "new1"}, {"stake", 2}, {"validator_permit", false}},
         {{"uid", 2}, {"hotkey", "new2"}, {"stake", 3}, {"validator_permit", false}},
         {{"uid", 3}, {"hotkey", "new3"}, {"stake", 4}, {"validator_permit", false}},
         {{"uid", 4}, {"hotkey", "new4"}, {"stake", 5}, {"validator_permit", false}}}}});
  const std::string commitments_a = R"({"hk0": {"commitment": "ns/a:c:h:0", "block": 1}})";
  const std::string commitments_b =
      R"({"new0": {"commitment": "ns/b:c:h:0", "block": 2}, "new1": {"commitment": "ns/c:c:h:1", "block": 3}})";
  write("metagraph.json", version_a);
  write("commitments.json", commitments_a);
  LocalChain local = chain();
  ASSERT_EQ(local.metagraph().neurons.size(), 3u);

  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int rewrite = 0; rewrite < 200; ++rewrite) {
      const std::string& text = rewrite % 2 == 0 ? version_b : version_a;
      std::ofstream out(dir_ + "/metagraph.json", std::ios::trunc);
      for (size_t at = 0; at < text.size(); at += 64) {
        out << text.substr(at, 64) << std::flush;
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      out.close();
      write_file_atomically(dir_ + "/commitments.json",
                            rewrite % 2 == 0 ? commitments_b : commitments_a);
    }
    done = true;
  });
  size_t reads = 0, saw_a = 0, saw_b = 0, saw_bad_file = 0;
  Block highest = 0;
  while (!done) {
    const Metagraph metagraph = local.metagraph();
    saw_bad_file += !local.last_error().empty();
    ASSERT_TRUE(metagraph.neurons.size() == 3 || metagraph.neurons.size() == 5);
    const bool is_b = metagraph.neurons.size() == 5;
    (is_b ? saw_b : saw_a) += 1;
    for (size_t uid = 0; uid < metagraph.neurons.size(); ++uid) {
      EXPECT_EQ(metagraph.neurons[uid].hotkey, (is_b ? "new" : "hk") + std::to_string(uid));
    }
    const std::map<std::string, Commitment> commitments = local.commitments();
    ASSERT_TRUE(commitments.size() == 1 || commitments.size() == 2);
    EXPECT_EQ(commitments.begin()->first, commitments.size() == 2 ? "new0" : "hk0");
    const Block block = local.current_block();
    EXPECT_GE(block, highest);
    highest = block;
    ++reads;
  }
  writer.join();
  EXPECT_GT(saw_a, 0u);
  EXPECT_GT(saw_b, 0u);
  std::printf("%zu reads while rewritten: %zu of version A, %zu of B, %zu met a partial file\n",
              reads, saw_a, saw_b, saw_bad_file);
}

TEST_F(LocalChainTest, HalfWrittenFileWithNoGoodCopyThrows) {
  write("commitments.json", R"({"hk0": {"commitment": "ns/a:c:h:0", )");
  LocalChain local = chain();
  EXPECT_THROW(local.commitments(), ChainError);
  EXPECT_EQ(local.last_error().rfind(dir_ + "/commitments.json: invalid JSON: ", 0), 0u)
      << local.last_error();
}

TEST_F(LocalChainTest, FileCompletedDuringTheRetriesIsRead) {
  options_.read_attempts = 5;
  options_.retry_delay_seconds = 0.1;
  write("metagraph.json", "{\"netuid\": 1, ");
  LocalChain local = chain();
  std::thread writer([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    write_file_atomically(dir_ + "/metagraph.json", kThreeNeurons);
  });
  const Metagraph metagraph = local.metagraph();
  writer.join();
  EXPECT_EQ(metagraph.neurons.size(), 3u);
  EXPECT_EQ(local.last_error(), "");
}

TEST_F(LocalChainTest, FilesAreReReadOnlyWhenTheRefreshIntervalHasPassed) {
  options_.refresh_seconds = 10;
  write("metagraph.json", kThreeNeurons);
  LocalChain local = chain();
  EXPECT_EQ(local.metagraph().neurons.size(), 3u);
  write("metagraph.json", three_neurons_with({{"neurons", json::array()}}));
  now_ += 9.9;
  EXPECT_EQ(local.metagraph().neurons.size(), 3u);
  now_ += 0.1;
  EXPECT_EQ(local.metagraph().neurons.size(), 0u);
}

TEST_F(LocalChainTest, SetWeightsAppendsOneJsonLinePerCall) {
  write("metagraph.json", kThreeNeurons);
  LocalChain local = chain();
  const double before =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  local.set_weights({{0, 2}, {0.25, 0.75}, 7});
  now_ += 24;
  local.set_weights({{}, {}, 8});

  const std::vector<json> lines = weights_lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].at("block"), 1000);
  EXPECT_EQ(lines[0].at("uids"), json({0, 2}));
  EXPECT_EQ(lines[0].at("weights"), json({0.25, 0.75}));
  EXPECT_EQ(lines[0].at("version_key"), 7);
  EXPECT_GE(lines[0].at("time").get<double>(), before);
  EXPECT_LT(lines[0].at("time").get<double>(), before + 60);
  EXPECT_EQ(lines[0].at("hotkey"), nullptr);  // no writer_hotkey: unknown
  EXPECT_EQ(lines[1].at("block"), 1002);
  EXPECT_EQ(lines[1].at("uids"), json::array());
  EXPECT_EQ(lines[1].at("version_key"), 8);
}

// The bridge submits only the lines of its own wallet's hotkey.
TEST_F(LocalChainTest, SetWeightsWritesTheWritersHotkey) {
  write("metagraph.json", kThreeNeurons);
  options_.writer_hotkey = "5FwriterHotkey";
  chain().set_weights({{1}, {1.0}, 7});
  const std::vector<json> lines = weights_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].at("hotkey"), "5FwriterHotkey");
}

TEST_F(LocalChainTest, MalformedWeightsAreRefused) {
  write("metagraph.json", kThreeNeurons);
  LocalChain local = chain();
  const std::string refused = dir_ + "/weights.jsonl: set_weights refused: ";
  const auto error = [&](const WeightsSubmission& weights) -> std::string {
    try {
      local.set_weights(weights);
    } catch (const ChainError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error({{0, 1}, {1.0}, 0}), refused + "2 uids but 1 weights");
  EXPECT_EQ(error({{0, 1}, {1.0, std::nan("")}, 0}),
            refused + "weights[1] is nan; expected a finite number >= 0");
  EXPECT_EQ(error({{0}, {-0.5}, 0}), refused + "weights[0] is -0.5; expected a finite number >= 0");
  EXPECT_EQ(error({{1, 1}, {0.5, 0.5}, 0}), refused + "uids[1] repeats uid 1");
  EXPECT_EQ(error({{-3}, {1.0}, 0}), refused + "uids[0] is negative");
  EXPECT_FALSE(fs::exists(dir_ + "/weights.jsonl"));
}

TEST_F(LocalChainTest, ConcurrentSetWeightsWriteWholeLines) {
  write("metagraph.json", kThreeNeurons);
  LocalChain local = chain();
  constexpr int kThreads = 4, kCalls = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&local, t] {
      // Long lines, so that an interleaved write would show.
      std::vector<Uid> uids(200);
      for (size_t i = 0; i < uids.size(); ++i) uids[i] = static_cast<Uid>(i);
      for (int call = 0; call < kCalls; ++call) {
        local.set_weights({uids, std::vector<double>(uids.size(), 0.1 * t), t});
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::ifstream in(dir_ + "/weights.jsonl");
  int per_thread[kThreads] = {};
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    const json parsed = json::parse(line);  // throws on a torn line
    const int thread = parsed.at("version_key").get<int>();
    ASSERT_EQ(parsed.at("uids").size(), 200u);
    EXPECT_EQ(parsed.at("weights")[199].get<double>(), 0.1 * thread);
    ++per_thread[thread];
  }
  EXPECT_EQ(lines, kThreads * kCalls);
  for (int count : per_thread) EXPECT_EQ(count, kCalls);
}

TEST(SeedBlockTest, LastMultipleOfTheCadenceAtOrBelow) {
  EXPECT_EQ(seed_block(1000), 900);
  EXPECT_EQ(seed_block(150), 150);
  EXPECT_EQ(seed_block(149), 0);
  EXPECT_EQ(seed_block(0), 0);
  EXPECT_EQ(seed_block(-1), -150);
  EXPECT_EQ(seed_block(1000, 100), 1000);
  EXPECT_EQ(seed_block(1099, 100), 1000);
  EXPECT_THROW(seed_block(5, 0), std::invalid_argument);
}

TEST_F(LocalChainTest, BlockSeedIsDeterministicPerBlockAndNetuid) {
  write("metagraph.json", kThreeNeurons);
  // First 8 bytes of SHA-256 of "crucible-local-chain:1:900" (sha256sum).
  EXPECT_EQ(chain().block_seed(900), 0xf03b12335d4d5bb0ULL);
  EXPECT_EQ(chain().block_seed(900), chain().block_seed(900));
  EXPECT_EQ(chain().block_seed(901), 0x87498bfbe4fb9a49ULL);
  write("metagraph.json", three_neurons_with({{"netuid", 2}}));
  EXPECT_EQ(chain().block_seed(900), 0xc0de70ecc9c0b4efULL);
  EXPECT_TRUE(chain().seeds_are_predictable());
}

// Two hashes the chain might have for block 900 (e.g. before and after a fork).
constexpr const char* kHash900 = "54a11104c42a13845830cff84bfae7031d6d6ffd0dd1f33c644181dfc5a73ff3";
constexpr const char* kForkedHash900 =
    "4b98d70929d221e5f9f400f0c28ee808f52389496a5089d555592ac3617fa572";

std::string with_block_hashes(const json& hashes, const json& patch = json::object()) {
  json document = json::parse(three_neurons_with(patch));
  document["block_hashes"] = hashes;
  return document.dump();
}

TEST_F(LocalChainTest, BlockSeedComesFromTheBlockHashWhenThereAreHashes) {
  write("metagraph.json", with_block_hashes({{"900", std::string("0x") + kHash900}}));
  LocalChain local = chain();
  EXPECT_FALSE(local.seeds_are_predictable());
  // First 8 bytes of SHA-256 of "crucible-block-hash:1:900:<kHash900>" (sha256sum).
  EXPECT_EQ(local.block_seed(900), 0x52f10c311940ef68ULL);
  EXPECT_EQ(local.block_seed(900), 0x52f10c311940ef68ULL);  // stable for the same hash
  std::string upper = kHash900;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& spelling : {upper, "0X" + upper, std::string(kHash900)}) {
    write("metagraph.json", with_block_hashes({{"900", spelling}}));
    EXPECT_EQ(local.block_seed(900), 0x52f10c311940ef68ULL) << spelling;
  }
  // Only the hash changes (same block, same netuid): another seed.
  write("metagraph.json", with_block_hashes({{"900", kForkedHash900}}));
  EXPECT_EQ(local.block_seed(900), 0x59c540d9ec8d01e6ULL);
  write("metagraph.json", with_block_hashes({{"900", kHash900}}, {{"netuid", 2}}));
  EXPECT_EQ(local.block_seed(900), 0x16e9619a3bc9cfa2ULL);
}

TEST_F(LocalChainTest, ABlockWithoutAHashHasNoSeedYet) {
  write("metagraph.json", with_block_hashes({{"600", "0a"}, {"750", "0b"}}));
  LocalChain local = chain();
  try {
    local.block_seed(900);
    FAIL() << "no SeedUnavailableError";
  } catch (const SeedUnavailableError& e) {
    EXPECT_EQ(std::string(e.what()), dir_ +
                                         "/metagraph.json: no block_hashes entry for block 900 "
                                         "(has 750, 600); the bridge has not recorded it yet");
  }
  write("metagraph.json", with_block_hashes(json::object()));  // present, but empty
  EXPECT_FALSE(local.seeds_are_predictable());
  EXPECT_THROW(local.block_seed(0), SeedUnavailableError);
}

TEST_F(LocalChainTest, MalformedBlockHashesAreRefusedNamingTheField) {
  const std::string file = dir_ + "/metagraph.json: $.block_hashes";
  const std::string expected_hex =
      ": expected a hex string (0x-prefixed or not, an even number of digits, 2 to 128), got ";
  EXPECT_EQ(metagraph_error(with_block_hashes(json::array({"ab"}))),
            file + ": expected an object of block -> hex hash, got array");
  const std::string not_a_block =
      ": expected a block number (decimal digits, no sign or leading zero)";
  for (const char* key : {"-150", "0900", "9e2", "", "1234567890123456789"}) {
    EXPECT_EQ(metagraph_error(with_block_hashes({{key, "ab"}})),
              file + "[" + json(key).dump() + "]" + not_a_block);
  }
  const std::string at_900 = file + "[\"900\"]" + expected_hex;
  EXPECT_EQ(metagraph_error(with_block_hashes({{"900", 7}})), at_900 + "7");
  EXPECT_EQ(metagraph_error(with_block_hashes({{"900", "0x"}})), at_900 + "no digits");
  EXPECT_EQ(metagraph_error(with_block_hashes({{"900", "abc"}})), at_900 + "3 digits");
  EXPECT_EQ(metagraph_error(with_block_hashes({{"900", std::string(130, 'a')}})),
            at_900 + "130 digits");
  EXPECT_EQ(metagraph_error(with_block_hashes({{"900", "0xag"}})),
            at_900 + "the non-hex character \"g\"");
}

}  // namespace
}  // namespace crucible
