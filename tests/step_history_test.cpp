// The step history read from metrics.jsonl: exact documents for 0, 1 and
// several steps (uids appearing and leaving, nulls, lines older than
// "seconds"/"pending"/"active"), skipped lines, the bound on steps, lines
// longer than a read block, and a 20,000-step file read from its end.
#include "crucible/validator/step_history.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "crucible/common/files.h"
#include "crucible/validator/step_report.h"

namespace crucible {
namespace {

using Json = nlohmann::ordered_json;

class StepHistoryTest : public ::testing::Test {
 protected:
  std::string path() const { return folder_.path() + "/metrics.jsonl"; }

  void write(const std::string& contents) const {
    std::ofstream(path(), std::ios::binary) << contents;
  }

  Json history(size_t max_steps = kDefaultHistorySteps) const {
    return step_history_document(read_last_step_records(path(), max_steps));
  }

  TemporaryFolder folder_{"crucible-step-history-test"};
};

// A step line with two models (uids 1 and 2) whose numbers derive from `step`.
std::string numbered_line(int step) {
  char line[512];
  std::snprintf(line, sizeof line,
                R"({"step":%d,"block":%d,"competition_id":0,"seed":7,"seconds":%d.5,)"
                R"("pending":%d,"active":1,"models":[)"
                R"({"uid":1,"hotkey":"a","status":"ok","reason":"","mean_loss":%d,)"
                R"("win_rate":1,"composite":1,"ema":0.5,"weight":1},)"
                R"({"uid":2,"hotkey":"b","status":"timeout","reason":"slow","mean_loss":null,)"
                R"("win_rate":0,"composite":0,"ema":null,"weight":0}],"subnet_weights":[0,1,0]})"
                "\n",
                step, 1000 + step, step % 10, step % 5, step);
  return line;
}

const char* const kEmptyDocument =
    R"({"steps":[],"times":[],"blocks":[],"competition_ids":[],"seconds":[],"pending":[],)"
    R"("active":[],"uids":[],"series":{},"failures":{},"current_weights":[],"miners":[],)"
    R"("skipped_lines":0,"total_steps_in_window":0})";

TEST_F(StepHistoryTest, AMissingOrEmptyFileIsZeroSteps) {
  EXPECT_EQ(history().dump(), kEmptyDocument);
  write("");
  EXPECT_EQ(history().dump(), kEmptyDocument);
  write("\n\n  \n");
  EXPECT_EQ(history().dump(), kEmptyDocument);
}

TEST_F(StepHistoryTest, OneStep) {
  write(numbered_line(4));
  EXPECT_EQ(history().dump(),
            R"({"steps":[4],"times":[null],"blocks":[1004],"competition_ids":[0],"seconds":[4.5],)"
            R"("pending":[4],"active":[1],"uids":[1,2],)"
            R"("series":{"1":{"hotkey":"a","ema":[0.5],"weight":[1],"mean_loss":[4],)"
            R"("composite":[1]},"2":{"hotkey":"b","ema":[null],"weight":[0],)"
            R"("mean_loss":[null],"composite":[0]}},"failures":{"timeout":[1]},)"
            R"("current_weights":[0,1,0],"miners":[{"uid":1,"hotkey":"a","model":"","status":"ok",)"
            R"("reason":"","ema":0.5,"weight":1},{"uid":2,"hotkey":"b","model":"",)"
            R"("status":"timeout","reason":"slow","ema":null,"weight":0}],"skipped_lines":0,)"
            R"("total_steps_in_window":1})");
}

// Step 5 is an old line (no seconds, pending, active); uid 10 appears at step
// 6 with a new hotkey for uid 3; uid 2 leaves after step 5.
TEST_F(StepHistoryTest, SeveralStepsWithUidsComingAndGoing) {
  write(
      R"({"step":5,"block":100,"competition_id":1,"seed":1,"models":[)"
      R"({"uid":3,"hotkey":"old","status":"ok","mean_loss":0.25,"composite":0.5,"ema":0.1,"weight":0.4},)"
      R"({"uid":2,"hotkey":"two","status":"crashed","mean_loss":null,"composite":0,"ema":0.2,"weight":0.6}],)"
      R"("subnet_weights":[0,0,0.6,0.4]})"
      "\n"
      R"({"step":6,"block":110,"competition_id":0,"seed":2,"seconds":1.25,"pending":3,"active":0,"models":[)"
      R"({"uid":10,"hotkey":"ten","status":"crashed","mean_loss":null,"composite":0,"ema":null,"weight":0},)"
      R"({"uid":3,"hotkey":"new","status":"timeout","mean_loss":null,"composite":0,"ema":0.05,"weight":1}],)"
      R"("subnet_weights":[0,0,0,1]})"
      "\n"
      R"({"step":7,"block":120,"competition_id":0,"seed":3,"seconds":2,"pending":0,"active":2,"models":[],)"
      R"("subnet_weights":[0.5,0.5]})"
      "\n");
  const Json expected = Json::parse(R"({
    "steps": [5, 6, 7], "times": [null, null, null], "blocks": [100, 110, 120],
    "competition_ids": [1, 0, 0],
    "seconds": [null, 1.25, 2], "pending": [null, 3, 0], "active": [null, 0, 2],
    "uids": [2, 3, 10],
    "series": {
      "2": {"hotkey": "two", "ema": [0.2, null, null], "weight": [0.6, null, null],
            "mean_loss": [null, null, null], "composite": [0, null, null]},
      "3": {"hotkey": "new", "ema": [0.1, 0.05, null], "weight": [0.4, 1, null],
            "mean_loss": [0.25, null, null], "composite": [0.5, 0, null]},
      "10": {"hotkey": "ten", "ema": [null, null, null], "weight": [null, 0, null],
             "mean_loss": [null, null, null], "composite": [null, 0, null]}},
    "failures": {"crashed": [1, 1, 0], "timeout": [0, 1, 0]},
    "current_weights": [0.5, 0.5], "miners": [], "skipped_lines": 0,
    "total_steps_in_window": 3})");
  EXPECT_EQ(history(), expected) << history().dump(2);
}

TEST_F(StepHistoryTest, MalformedAndPartialLinesAreSkippedAndCounted) {
  write(numbered_line(1) + "not json\n" + "[1,2]\n" + R"({"block":3})" + "\n" + R"({"step":"4"})" +
        "\n\n" + numbered_line(2) + R"({"step": 9, "blo)");
  const Json document = history();
  EXPECT_EQ(document["steps"], Json::parse("[1,2]"));
  EXPECT_EQ(document["skipped_lines"], 5);
  EXPECT_EQ(document["total_steps_in_window"], 2);
  EXPECT_EQ(document["current_weights"], Json::parse("[0,1,0]"));
}

// Only the lines read count: a bad line before the window is never reached.
TEST_F(StepHistoryTest, AtMostTheRequestedStepsAreReadNewestKept) {
  std::string contents = numbered_line(1) + "garbage\n";
  for (int step = 2; step <= 10; ++step) contents += numbered_line(step);
  write(contents);
  const Json last_three = history(3);
  EXPECT_EQ(last_three["steps"], Json::parse("[8,9,10]"));
  EXPECT_EQ(last_three["blocks"], Json::parse("[1008,1009,1010]"));
  EXPECT_EQ(last_three["series"]["1"]["mean_loss"], Json::parse("[8,9,10]"));
  EXPECT_EQ(last_three["skipped_lines"], 0);
  EXPECT_EQ(last_three["total_steps_in_window"], 3);
  const Json all = history(100);
  EXPECT_EQ(all["total_steps_in_window"], 10);
  EXPECT_EQ(all["skipped_lines"], 1);
  EXPECT_EQ(history(0).dump(), kEmptyDocument);
}

TEST_F(StepHistoryTest, RotatedFilesAreReadAcrossAndTheOldestIsDropped) {
  // Steps 1..4 in files rotated three times, then step 5 in the current one.
  for (int step = 1; step <= 5; ++step) {
    if (step > 1) rotate_step_log(path());
    write(numbered_line(step));
  }
  // kRotatedStepLogs (3) older files are kept: step 1's fell off the end.
  EXPECT_FALSE(std::filesystem::exists(path() + ".4"));
  EXPECT_EQ(history(100)["steps"], Json::parse("[2,3,4,5]"));
  EXPECT_EQ(history(2)["steps"], Json::parse("[4,5]"));
  // A crash between the rotation and the next line leaves no current file.
  rotate_step_log(path());
  EXPECT_FALSE(std::filesystem::exists(path()));
  EXPECT_EQ(history(100)["steps"], Json::parse("[3,4,5]"));
}

TEST_F(StepHistoryTest, MinersAreTheLastStepsRowsAndWaitingIsNoFailure) {
  write(
      numbered_line(1) +
      R"({"step":2,"time":1700000000.5,"block":1002,"models":[)"
      R"({"uid":1,"hotkey":"a","model":"ns/a@c1","status":"ok","reason":"","ema":0.5,"weight":1},)"
      R"({"uid":3,"hotkey":"c","model":"-","status":"not-found","reason":"404","ema":null,"weight":0},)"
      R"({"uid":4,"hotkey":"d","model":"ns/d@c4","status":"waiting","reason":"installed"}]})"
      "\n");
  const Json doc = history();
  EXPECT_EQ(doc["times"], Json::parse("[null,1700000000.5]"));
  EXPECT_EQ(doc["miners"],
            Json::parse(R"([{"uid":1,"hotkey":"a","model":"ns/a@c1","status":"ok","reason":"",)"
                        R"("ema":0.5,"weight":1},{"uid":3,"hotkey":"c","model":"-",)"
                        R"("status":"not-found","reason":"404","ema":null,"weight":0},)"
                        R"({"uid":4,"hotkey":"d","model":"ns/d@c4","status":"waiting",)"
                        R"("reason":"installed","ema":null,"weight":null}])"));
  EXPECT_EQ(doc["failures"], Json::parse(R"({"not-found":[0,1],"timeout":[1,0]})"));
}

// Lines far longer than the 64 KiB read block are put together whole.
TEST_F(StepHistoryTest, LinesLongerThanAReadBlockAreReadWhole) {
  const std::string long_hotkey(200 * 1024, 'h');
  std::string contents;
  for (int step = 1; step <= 3; ++step) {
    contents += R"({"step":)" + std::to_string(step) + R"(,"models":[{"uid":0,"hotkey":")" +
                long_hotkey + std::to_string(step) + R"(","ema":)" + std::to_string(step) + "}]}\n";
  }
  write(contents);
  const Json document = history(2);
  EXPECT_EQ(document["steps"], Json::parse("[2,3]"));
  EXPECT_EQ(document["series"]["0"]["hotkey"], long_hotkey + "3");
  EXPECT_EQ(document["series"]["0"]["ema"], Json::parse("[2,3]"));
  EXPECT_EQ(document["skipped_lines"], 0);
}

// What the validator writes is what the history reads back.
TEST_F(StepHistoryTest, ReadsTheLinesTheValidatorWrites) {
  StepReport report;
  report.step = 12;
  report.block = 3456;
  report.competition_id = 2;
  report.seconds = 3.75;
  report.pending = 7;
  report.active = 4;
  report.rows.push_back({5, "hk5", "-", "ok", "", 0.5, 1.0, 0.75, 0.125, 1.0});
  report.subnet_weights = {0.0, 1.0};
  write(step_metrics_line(report) + "\n");
  const Json document = history();
  EXPECT_EQ(document["seconds"], Json::parse("[3.75]"));
  EXPECT_EQ(document["pending"], Json::parse("[7]"));
  EXPECT_EQ(document["active"], Json::parse("[4]"));
  EXPECT_EQ(document["series"]["5"]["ema"], Json::parse("[0.125]"));
  EXPECT_EQ(document["series"]["5"]["composite"], Json::parse("[0.75]"));
  EXPECT_EQ(document["failures"], Json::object());
}

TEST_F(StepHistoryTest, ATwentyThousandStepFileIsReadFromItsEnd) {
  {
    std::ofstream out(path(), std::ios::binary);
    for (int step = 1; step <= 20000; ++step) out << numbered_line(step);
  }
  for (size_t steps : {kDefaultHistorySteps, kMaxHistorySteps}) {
    const auto start = std::chrono::steady_clock::now();
    const Json document = history(steps);
    const std::string body = document.dump();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("last %zu of 20000 steps: %.3f s, %zu bytes of JSON\n", steps, seconds,
                body.size());
    EXPECT_LT(seconds, 5.0);  // loose: ~0.01 s for 500 steps in a Release build
    EXPECT_EQ(document["total_steps_in_window"], steps);
    EXPECT_EQ(document["steps"].front(), 20000 - static_cast<int>(steps) + 1);
    EXPECT_EQ(document["steps"].back(), 20000);
    EXPECT_EQ(document["failures"]["timeout"].size(), steps);
  }
}

}  // namespace
}  // namespace crucible
