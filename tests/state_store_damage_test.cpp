// Damaged state files: three generations saved at steps 1, 2 and 3, then a
// file truncated, overwritten with random bytes or deleted, in one or more
// generations. Each part must come back from the newest generation where it
// is intact, the report must say from where and what was lost, in plain
// UTF-8, and a part starts fresh (an error) only when no generation has it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "crucible/common/files.h"
#include "crucible/common/quoted_text.h"
#include "crucible/validator/state_store.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kPartFiles = {"queues.json", "ema.json", "models.json"};
const std::vector<std::string> kGenerationFiles = {"meta.json", "queues.json", "ema.json",
                                                   "models.json"};
constexpr int kUids = 4;
constexpr uint32_t kSeed = 20240519;

enum class Damage { kTruncate, kRandomBytes, kDelete };
const Damage kDamages[] = {Damage::kTruncate, Damage::kRandomBytes, Damage::kDelete};

std::string damage_name(Damage damage) {
  switch (damage) {
    case Damage::kTruncate:
      return "truncated to 50 bytes";
    case Damage::kRandomBytes:
      return "100 random bytes written";
    case Damage::kDelete:
      return "deleted";
  }
  return "";
}

std::string generation(int number) { return "state-00000" + std::to_string(number); }

// True when `text` is valid UTF-8 holding no control character (C0, DEL,
// C1); checked here independently of the code under test.
bool plain_utf8(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
    const unsigned char lead = byte(0);
    const int length = lead < 0x80 ? 1 : lead < 0xC2 ? 0 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    if (length == 0 || lead > 0xF4 || i + length > text.size()) return false;
    uint32_t code = length == 1 ? lead : lead & (0x7F >> length);
    for (int k = 1; k < length; ++k) {
      if ((byte(k) & 0xC0) != 0x80) return false;
      code = code << 6 | (byte(k) & 0x3F);
    }
    const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < smallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    if (code < 0x20 || (code >= 0x7F && code <= 0x9F)) return false;
    i += length;
  }
  return true;
}

bool any_line_has(const std::vector<std::string>& lines, const std::vector<std::string>& parts) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
    return std::all_of(parts.begin(), parts.end(), [&](const std::string& part) {
      return line.find(part) != std::string::npos;
    });
  });
}

std::string all_lines(const StateStore::LoadReport& report) {
  std::string text;
  for (const std::string& line : report.warnings) text += "\n  warning: " + line;
  for (const std::string& line : report.errors) text += "\n  error: " + line;
  return text;
}

const nlohmann::json& part_of(const ValidatorStateSnapshot& snapshot, const std::string& file) {
  return file == "queues.json" ? snapshot.queues
         : file == "ema.json"  ? snapshot.ema
                               : snapshot.models;
}

class StateStoreDamageTest : public ::testing::Test {
 protected:
  // Saves generations 1, 2 and 3 (steps 1, 2, 3), each with other content.
  void save_three_generations() {
    fs::remove_all(dir_);
    ValidatorState state;
    for (int number = 1; number <= 3; ++number) {
      grow(state, number);
      StateStore(dir_).save(state, number);
      saved_[number] = state.snapshot();
      for (Uid uid = 0; uid < kUids; ++uid) emas_[number][uid] = ema(state, uid);
    }
  }

  static void grow(ValidatorState& state, int number) {
    for (CompetitionId competition = 0; competition < 3; ++competition) {
      state.add_pending(competition, 10 * number + competition);
      state.take_pending(competition);
      state.add_pending(competition, 50 + number);
    }
    state.with_trackers([number](ModelTracker& models, CompetitionEmaTracker& ema) {
      for (Uid uid = 0; uid < kUids; ++uid) {
        const std::string hotkey = "hotkey-" + std::to_string(uid);
        models.set_model(hotkey, ModelMetadata{"ns/model-" + std::to_string(uid) + ":rev" +
                                                   std::to_string(number) + "::0",
                                               100 * number + uid, "hash", ""});
        models.record_evaluation(hotkey, 0,
                                 EvaluationRecord{100 * number, 0.1 * number + uid, 100, 0.05});
        ema.update(0, uid, hotkey, 1.0 / (number + uid + 3.0), 100 * number, EmaParams{});
      }
    });
  }

  static double ema(ValidatorState& state, Uid uid) {
    return state.with_trackers([uid](ModelTracker&, CompetitionEmaTracker& ema) {
      return ema.ema(0, uid).value_or(-1.0);
    });
  }

  // Damages DIR/`file` in the way `damage` says (random bytes drawn from `random`).
  void damage(const std::string& file, Damage damage, std::mt19937& random) {
    const std::string target = dir_ + "/" + file;
    ASSERT_TRUE(fs::exists(target)) << target;
    if (file != "CURRENT") {
      ASSERT_GT(fs::file_size(target), 50u) << target;
    }
    switch (damage) {
      case Damage::kTruncate:
        fs::resize_file(target, 50);  // as `truncate -s 50`
        break;
      case Damage::kRandomBytes: {
        std::string bytes = read_file(target);
        const size_t offset = random() % bytes.size();
        bytes.resize(std::max(bytes.size(), offset + 100));
        for (size_t i = offset; i < offset + 100; ++i) bytes[i] = static_cast<char>(random());
        std::ofstream(target, std::ios::binary | std::ios::trunc) << bytes;
        break;
      }
      case Damage::kDelete:
        fs::remove(target);
        break;
    }
  }

  // Loads the folder in which `damaged` ({generation number, file}; CURRENT
  // as {0, "CURRENT"}) were damaged by `how`, and checks that every part came
  // from the newest generation where it is intact, and what the report says.
  void expect_restored(const std::set<std::pair<int, std::string>>& damaged, Damage how) {
    const auto is_damaged = [&](int number, const std::string& file) {
      return damaged.count({number, file}) > 0;
    };
    int64_t step = 0;  // the largest step of an intact meta.json
    for (int number = 1; number <= 3; ++number) {
      if (!is_damaged(number, "meta.json")) step = std::max<int64_t>(step, number);
    }
    EXPECT_EQ(StateStore(dir_).saved_step(), step);

    ValidatorState loaded;
    const StateStore::LoadReport report = StateStore(dir_).load(loaded);
    SCOPED_TRACE("the report:" + all_lines(report));
    const ValidatorStateSnapshot snapshot = loaded.snapshot();
    const ValidatorStateSnapshot fresh = ValidatorState().snapshot();
    ASSERT_EQ(report.parts.size(), kPartFiles.size());
    std::map<std::string, int> from;  // part file -> generation number (0: fresh)
    int oldest_read = 3;              // the oldest generation load() had to read
    for (size_t p = 0; p < kPartFiles.size(); ++p) {
      const std::string& file = kPartFiles[p];
      int number = 3;
      while (number > 0 && is_damaged(number, file)) --number;
      from[file] = number;
      oldest_read = std::min(oldest_read, std::max(number, 1));
      const StateStore::PartSource& source = report.parts[p];
      EXPECT_EQ(source.part, file);
      if (number == 0) {
        EXPECT_TRUE(source.fresh) << file;
        EXPECT_EQ(source.generation, "") << file;
        EXPECT_EQ(part_of(snapshot, file), part_of(fresh, file)) << file;
        EXPECT_TRUE(any_line_has(report.errors, {file, "no intact copy in state-000003",
                                                 "state-000002", "state-000001", "fresh"}))
            << file;
        continue;
      }
      EXPECT_FALSE(source.fresh) << file;
      EXPECT_EQ(source.generation, generation(number)) << file;
      const bool step_known = !is_damaged(number, "meta.json");
      EXPECT_EQ(source.step, step_known ? number : 0) << file;
      EXPECT_EQ(part_of(snapshot, file), part_of(saved_[number], file)) << file;
      if (number < 3) {
        const std::string label =
            generation(number) + (step_known ? " (step " + std::to_string(number) + ")" : "");
        EXPECT_TRUE(any_line_has(report.warnings, {file + ": no intact copy in state-000003",
                                                   "restored from " + label, "lost"}))
            << file;
      }
    }
    for (Uid uid = 0; uid < kUids; ++uid) {
      EXPECT_EQ(ema(loaded, uid), from["ema.json"] == 0 ? -1.0 : emas_[from["ema.json"]][uid]);
    }

    // Each damaged file load() read is named, and moved aside unless deleted.
    for (const auto& [number, file] : damaged) {
      const bool read =
          number > 0 && (file == "meta.json" ? number >= oldest_read : number > from[file]);
      if (!read) continue;
      EXPECT_TRUE(any_line_has(report.warnings, {file + " of " + generation(number),
                                                 how == Damage::kDelete ? "missing" : "damaged"}))
          << file << " of " << number;
      EXPECT_EQ(fs::exists(dir_ + "/corrupt-" + generation(number) + "-" + file),
                how != Damage::kDelete)
          << file << " of " << number;
    }
    if (is_damaged(0, "CURRENT") && how != Damage::kDelete) {
      EXPECT_TRUE(any_line_has(report.warnings, {"CURRENT", "does not name a generation"}));
      EXPECT_TRUE(fs::exists(dir_ + "/CURRENT.corrupt"));
    }

    const bool all_fresh =
        std::all_of(from.begin(), from.end(), [](const auto& f) { return f.second == 0; });
    const bool any_fresh =
        std::any_of(from.begin(), from.end(), [](const auto& f) { return f.second == 0; });
    EXPECT_EQ(report.fresh, all_fresh);
    EXPECT_EQ(report.ema_restored_or_fresh, from["ema.json"] != 3);
    EXPECT_EQ(!report.errors.empty(), any_fresh);
    EXPECT_EQ(
        report.warnings.empty(),
        damaged.empty() || (damaged == std::set<std::pair<int, std::string>>{{0, "CURRENT"}} &&
                            how == Damage::kDelete));
    for (const std::vector<std::string>* lines : {&report.warnings, &report.errors}) {
      for (const std::string& line : *lines) {
        EXPECT_TRUE(plain_utf8(line)) << quoted_for_message(line, line.size());
      }
    }
  }

  // Damages `files` of each generation in `numbers` (and CURRENT when
  // `current`) by `how`, then checks the load.
  void damage_and_load(const std::vector<int>& numbers, const std::vector<std::string>& files,
                       bool current, Damage how, uint32_t seed) {
    save_three_generations();
    std::mt19937 random(seed);
    std::set<std::pair<int, std::string>> damaged;
    for (const int number : numbers) {
      for (const std::string& file : files) {
        damage(generation(number) + "/" + file, how, random);
        damaged.insert({number, file});
      }
    }
    if (current) {
      damage("CURRENT", how, random);
      damaged.insert({0, "CURRENT"});
    }
    expect_restored(damaged, how);
  }

  TemporaryFolder temp_{"state_store_damage_test"};
  std::string dir_ = temp_.path() + "/state";
  std::map<int, ValidatorStateSnapshot> saved_;
  std::map<int, std::map<Uid, double>> emas_;
};

TEST_F(StateStoreDamageTest, AFirstStartIsFreshWithoutAMessage) {
  ValidatorState state;
  const StateStore::LoadReport report = StateStore(dir_).load(state);
  EXPECT_TRUE(report.fresh);
  EXPECT_TRUE(report.parts.empty());
  EXPECT_TRUE(report.warnings.empty());
  EXPECT_TRUE(report.errors.empty());
  EXPECT_FALSE(report.ema_restored_or_fresh);
}

TEST_F(StateStoreDamageTest, AnIntactStateLoadsEveryPartFromTheCurrentGeneration) {
  damage_and_load({}, {}, false, Damage::kDelete, kSeed);
  ValidatorState loaded;
  const StateStore::LoadReport report = StateStore(dir_).load(loaded);
  EXPECT_EQ(report.generation, "state-000003");
  EXPECT_EQ(report.step, 3);
}

TEST_F(StateStoreDamageTest, EachFileDamagedInTheCurrentGeneration) {
  uint32_t seed = kSeed;
  for (const Damage how : kDamages) {
    for (const std::string& file : kGenerationFiles) {
      SCOPED_TRACE(file + " of state-000003 " + damage_name(how) + ", seed " +
                   std::to_string(seed));
      damage_and_load({3}, {file}, false, how, seed++);
    }
    SCOPED_TRACE("CURRENT " + damage_name(how) + ", seed " + std::to_string(seed));
    damage_and_load({}, {}, true, how, seed++);
  }
}

TEST_F(StateStoreDamageTest, AllFilesDamagedTogetherInTheCurrentGeneration) {
  uint32_t seed = kSeed + 100;
  for (const Damage how : kDamages) {
    SCOPED_TRACE("every file of state-000003 and CURRENT " + damage_name(how) + ", seed " +
                 std::to_string(seed));
    damage_and_load({3}, kGenerationFiles, true, how, seed++);
  }
}

TEST_F(StateStoreDamageTest, AFileDamagedInTheNewestGenerationsComesFromAnOlderOne) {
  uint32_t seed = kSeed + 200;
  for (const Damage how : kDamages) {
    for (const std::string& file : kGenerationFiles) {
      for (const std::vector<int>& numbers : {std::vector<int>{3, 2}, std::vector<int>{3, 2, 1}}) {
        SCOPED_TRACE(file + " of the " + std::to_string(numbers.size()) + " newest generations " +
                     damage_name(how) + ", seed " + std::to_string(seed));
        damage_and_load(numbers, {file}, false, how, seed++);
      }
    }
  }
}

TEST_F(StateStoreDamageTest, EveryFileOfEveryGenerationDamagedStartsFreshWithErrors) {
  uint32_t seed = kSeed + 300;
  for (const Damage how : kDamages) {
    SCOPED_TRACE("every file " + damage_name(how) + ", seed " + std::to_string(seed));
    damage_and_load({3, 2, 1}, kGenerationFiles, true, how, seed++);
  }
}

TEST_F(StateStoreDamageTest, DifferentPartsComeFromDifferentGenerations) {
  save_three_generations();
  std::mt19937 random(kSeed + 400);
  damage("state-000003/ema.json", Damage::kRandomBytes, random);
  damage("state-000003/models.json", Damage::kRandomBytes, random);
  damage("state-000002/models.json", Damage::kTruncate, random);
  expect_restored({{3, "ema.json"}, {3, "models.json"}, {2, "models.json"}}, Damage::kRandomBytes);
  ValidatorState loaded;
  const StateStore::LoadReport report = StateStore(dir_).load(loaded);
  EXPECT_EQ(report.generation, "state-000003");  // the queues
  EXPECT_TRUE(any_line_has(report.warnings, {"ema.json: no intact copy in state-000003 (step 3)",
                                             "restored from state-000002 (step 2)",
                                             "the EMA updates of step 3 are lost"}));
  EXPECT_TRUE(any_line_has(report.warnings,
                           {"models.json: no intact copy in state-000003 (step 3), state-000002",
                            "restored from state-000001 (step 1)", "of steps 2 to 3 are lost"}));
}

TEST_F(StateStoreDamageTest, AfterARestoreTheNextSaveKeepsAnIntactOlderGeneration) {
  save_three_generations();
  std::mt19937 random(kSeed + 500);
  damage("state-000003/ema.json", Damage::kTruncate, random);
  ValidatorState state;
  ASSERT_EQ(StateStore(dir_).load(state).parts.at(1).generation, "state-000002");
  StateStore(dir_).save(state, 4);
  EXPECT_TRUE(fs::exists(dir_ + "/state-000002/ema.json"));

  // The new generation's ema.json is damaged too: state-000003's was moved
  // aside, state-000002's is still there.
  damage("state-000004/ema.json", Damage::kTruncate, random);
  ValidatorState loaded;
  const StateStore::LoadReport report = StateStore(dir_).load(loaded);
  ASSERT_EQ(report.parts.size(), 3u);
  EXPECT_EQ(report.parts[1].generation, "state-000002");
  EXPECT_EQ(report.parts[1].step, 2);
  EXPECT_EQ(loaded.snapshot().ema, saved_[2].ema);
  EXPECT_TRUE(report.ema_restored_or_fresh);
  EXPECT_TRUE(report.errors.empty());
  EXPECT_TRUE(any_line_has(report.warnings, {"ema.json of state-000003 (step 3) is missing"}));
}

// Changes the first digit after `"ema":` in DIR/`file`: the JSON still parses.
void change_a_digit(const std::string& file) {
  std::string text = read_file(file);
  const size_t at = text.find_first_of("0123456789", text.find("\"ema\":"));
  ASSERT_NE(at, std::string::npos);
  text[at] = text[at] == '9' ? '8' : static_cast<char>(text[at] + 1);
  std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
  ASSERT_NO_THROW(nlohmann::json::parse(text));
}

TEST_F(StateStoreDamageTest, AChecksumMismatchThatStillParsesIsDetected) {
  save_three_generations();
  change_a_digit(dir_ + "/state-000003/ema.json");
  ValidatorState loaded;
  const StateStore::LoadReport report = StateStore(dir_).load(loaded);
  EXPECT_EQ(report.parts.at(1).generation, "state-000002");
  EXPECT_EQ(loaded.snapshot().ema, saved_[2].ema);
  EXPECT_TRUE(report.ema_restored_or_fresh);
  EXPECT_TRUE(any_line_has(report.warnings, {"ema.json of state-000003 (step 3) is damaged",
                                             "SHA-256", "meta.json lists"}));
  EXPECT_TRUE(fs::exists(dir_ + "/corrupt-state-000003-ema.json"));
}

// A generation saved before the checksums (no "sha256" in meta.json) loads;
// its parts are checked by parsing only.
TEST_F(StateStoreDamageTest, AGenerationWithoutChecksumsIsCheckedByParsing) {
  save_three_generations();
  std::ofstream(dir_ + "/state-000003/meta.json", std::ios::trunc)
      << R"({"format_version": 1, "step": 3})";
  change_a_digit(dir_ + "/state-000003/ema.json");
  ValidatorState loaded;
  StateStore::LoadReport report = StateStore(dir_).load(loaded);
  EXPECT_TRUE(report.warnings.empty()) << all_lines(report);
  EXPECT_EQ(report.parts.at(1).generation, "state-000003");
  EXPECT_EQ(loaded.snapshot().ema,
            nlohmann::json::parse(read_file(dir_ + "/state-000003/ema.json")));

  std::mt19937 random(kSeed + 600);
  damage("state-000003/ema.json", Damage::kTruncate, random);
  report = StateStore(dir_).load(loaded);
  EXPECT_EQ(report.parts.at(1).generation, "state-000002");
  EXPECT_EQ(loaded.snapshot().ema, saved_[2].ema);
}

// nlohmann's parse errors quote the bytes they stopped at: none of them may
// reach a message.
TEST_F(StateStoreDamageTest, BinaryGarbageIsNeverQuotedRaw) {
  save_three_generations();
  std::ofstream(dir_ + "/state-000003/models.json", std::ios::binary | std::ios::trunc)
      << "{\"hotkeys\": [\"\xff\xfe\x01\x1b[31m\xc3\x28\"]}";
  std::ofstream(dir_ + "/state-000003/queues.json", std::ios::binary | std::ios::trunc)
      << "\x80\x81\n\r\x7f";
  ValidatorState loaded;
  const StateStore::LoadReport report = StateStore(dir_).load(loaded);
  EXPECT_EQ(report.parts.at(0).generation, "state-000002");
  EXPECT_EQ(report.parts.at(2).generation, "state-000002");
  ASSERT_FALSE(report.warnings.empty());
  for (const std::string& line : report.warnings)
    EXPECT_TRUE(plain_utf8(line)) << quoted_for_message(line, line.size());
}

}  // namespace
}  // namespace crucible
