// pad_task and write_task_directory: padding, the five files with their
// shapes and dtypes, replacing a folder, and failing without leaving anything.
#include "crucible/engine/data/task_data.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crucible/common/files.h"
#include "crucible/common/npy.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

// A fresh folder under /tmp, removed with everything in it at the end.
class TempDir {
 public:
  std::string path(const std::string& name) const { return folder_.path() + "/" + name; }
  // The names in the folder, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder_.path())) {
      names.push_back(entry.path().filename());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  TemporaryFolder folder_{"task_data_test"};
};

template <typename T>
std::vector<T> values_of(const NpyArray& array) {
  std::vector<T> values(array.data.size() / sizeof(T));
  std::memcpy(values.data(), array.data.data(), array.data.size());
  return values;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TaskData sample_task() {
  return pad_task({{1, 2, 3}, {4}}, {{5}, {6, 7}}, {"rbf", "periodic + white"});
}

TEST(TaskData, PadsToTheLongestAndKeepsLengths) {
  const TaskData task = pad_task({{1, 2, 3}, {4}, {}}, {{5}, {6, 7}, {8}});
  EXPECT_EQ(task.num_series, 3);
  EXPECT_EQ(task.input_width, 3);
  EXPECT_EQ(task.target_width, 2);
  EXPECT_EQ(task.inputs, (std::vector<float>{1, 2, 3, 4, 0, 0, 0, 0, 0}));
  EXPECT_EQ(task.targets, (std::vector<float>{5, 0, 6, 7, 8, 0}));
  EXPECT_EQ(task.input_lengths, (std::vector<int64_t>{3, 1, 0}));
  EXPECT_EQ(task.target_lengths, (std::vector<int64_t>{1, 2, 1}));
  EXPECT_EQ(task.descriptions, (std::vector<std::string>{"", "", ""}));
}

TEST(TaskData, KeepsDescriptions) {
  EXPECT_EQ(sample_task().descriptions, (std::vector<std::string>{"rbf", "periodic + white"}));
}

TEST(TaskData, EmptyListsGiveAnEmptyTask) {
  const TaskData task = pad_task({}, {});
  EXPECT_EQ(task.num_series, 0);
  EXPECT_EQ(task.input_width, 0);
  EXPECT_EQ(task.target_width, 0);
  EXPECT_TRUE(task.inputs.empty());
  EXPECT_TRUE(task.descriptions.empty());
}

TEST(TaskData, RejectsListsOfDifferentLengths) {
  EXPECT_THROW(pad_task({{1}, {2}}, {{3}}), std::invalid_argument);
  EXPECT_THROW(pad_task({{1}}, {{3}}, {"a", "b"}), std::invalid_argument);
}

TEST(TaskData, WritesTheFiveFilesWithShapesAndDtypes) {
  TempDir temp;
  const std::string dir = temp.path("task");
  write_task_directory(sample_task(), dir);

  const NpyArray inputs = read_npy(dir + "/inputs.npy");
  EXPECT_EQ(inputs.dtype, NpyDtype::kFloat32);
  EXPECT_EQ(inputs.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(values_of<float>(inputs), (std::vector<float>{1, 2, 3, 4, 0, 0}));

  const NpyArray input_lengths = read_npy(dir + "/input_lengths.npy");
  EXPECT_EQ(input_lengths.dtype, NpyDtype::kInt64);
  EXPECT_EQ(input_lengths.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(values_of<int64_t>(input_lengths), (std::vector<int64_t>{3, 1}));

  const NpyArray targets = read_npy(dir + "/targets.npy");
  EXPECT_EQ(targets.dtype, NpyDtype::kFloat32);
  EXPECT_EQ(targets.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(values_of<float>(targets), (std::vector<float>{5, 0, 6, 7}));

  const NpyArray target_lengths = read_npy(dir + "/target_lengths.npy");
  EXPECT_EQ(target_lengths.dtype, NpyDtype::kInt64);
  EXPECT_EQ(target_lengths.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(values_of<int64_t>(target_lengths), (std::vector<int64_t>{1, 2}));

  const nlohmann::json kernels = nlohmann::json::parse(read_text(dir + "/kernels.json"));
  EXPECT_EQ(kernels, nlohmann::json::array({"rbf", "periodic + white"}));

  // Only the five files, and no temporary folder beside the task.
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path().filename());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"input_lengths.npy", "inputs.npy", "kernels.json",
                                             "target_lengths.npy", "targets.npy"}));
  EXPECT_EQ(temp.entries(), (std::vector<std::string>{"task"}));
}

TEST(TaskData, WritesAnEmptyTask) {
  TempDir temp;
  write_task_directory(pad_task({}, {}), temp.path("empty"));
  EXPECT_EQ(read_npy(temp.path("empty/inputs.npy")).shape, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(read_text(temp.path("empty/kernels.json")), "[]\n");
}

TEST(TaskData, ReplacesAnExistingDirectory) {
  TempDir temp;
  const std::string dir = temp.path("task");
  fs::create_directory(dir);
  std::ofstream(dir + "/stale.txt") << "from an earlier round";
  write_task_directory(pad_task({{9, 8}}, {{7}}, {"new"}), dir + "/");  // a trailing slash too

  EXPECT_FALSE(fs::exists(dir + "/stale.txt"));
  EXPECT_EQ(values_of<float>(read_npy(dir + "/inputs.npy")), (std::vector<float>{9, 8}));
  EXPECT_EQ(read_text(dir + "/kernels.json"), "[\"new\"]\n");
  EXPECT_EQ(temp.entries(), (std::vector<std::string>{"task"}));  // no .old- or .tmp- left
}

TEST(TaskData, FailureUnderARegularFileLeavesNothing) {
  TempDir temp;
  const std::string file = temp.path("not_a_folder");
  std::ofstream(file) << "data";
  const std::string dir = file + "/task";
  try {
    write_task_directory(sample_task(), dir);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir + ": ", 0), 0u) << e.what();
  }
  EXPECT_EQ(temp.entries(), (std::vector<std::string>{"not_a_folder"}));
  EXPECT_EQ(read_text(file), "data");
}

TEST(TaskData, RefusesToReplaceARegularFile) {
  TempDir temp;
  const std::string path = temp.path("task");
  std::ofstream(path) << "keep me";
  try {
    write_task_directory(sample_task(), path);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": exists and is not a folder");
  }
  EXPECT_EQ(read_text(path), "keep me");
  EXPECT_EQ(temp.entries(), (std::vector<std::string>{"task"}));
}

TEST(TaskData, InconsistentArraysLeaveTheOldDirectory) {
  TempDir temp;
  const std::string dir = temp.path("task");
  write_task_directory(sample_task(), dir);
  TaskData broken = sample_task();
  broken.inputs.pop_back();
  EXPECT_THROW(write_task_directory(broken, dir), std::runtime_error);
  EXPECT_EQ(values_of<float>(read_npy(dir + "/inputs.npy")),
            (std::vector<float>{1, 2, 3, 4, 0, 0}));
  EXPECT_EQ(temp.entries(), (std::vector<std::string>{"task"}));
}

// Two groups: rows 0-2 (a target, a past covariate, a known covariate with
// two future values) and row 3 (a lone target), all with input 2 and target 2.
TaskData grouped_task() {
  TaskData task = pad_task({{1, 2}, {3, 4}, {5, 6}, {7, 8}}, {{9, 9}, {8, 8}, {7, 7}, {6, 6}});
  const float nan = std::nanf("");
  task.group_ids = {0, 0, 0, 1};
  task.roles = {0, 1, 2, 0};
  task.future_inputs = {nan, nan, nan, nan, 7, 7.5, nan, nan};
  return task;
}

TEST(TaskData, GroupedTaskRoundTripsAndScoresItsTargetsOnly) {
  TempDir temp;
  const std::string dir = temp.path("task");
  const TaskData task = grouped_task();
  write_task_directory(task, dir);
  const TaskData back = read_task_directory(dir);
  EXPECT_EQ(back.group_ids, task.group_ids);
  EXPECT_EQ(back.roles, task.roles);
  ASSERT_EQ(back.future_inputs.size(), 8u);
  EXPECT_EQ(back.future_inputs[4], 7.0f);
  EXPECT_EQ(back.future_inputs[5], 7.5f);
  EXPECT_TRUE(std::isnan(back.future_inputs[0]));
  EXPECT_EQ(scored_rows(back), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(row_group_ids(back), (std::vector<int64_t>{0, 0, 0, 1}));
  // A univariate task: every row scored, each its own group, no group files.
  write_task_directory(sample_task(), dir);
  const TaskData plain = read_task_directory(dir);
  EXPECT_FALSE(has_groups(plain));
  EXPECT_EQ(scored_rows(plain), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(row_group_ids(plain), (std::vector<int64_t>{0, 1}));
  EXPECT_FALSE(fs::exists(dir + "/group_ids.npy"));
}

// Each inconsistency is refused with its own sentence.
TEST(TaskData, RefusesInconsistentGroups) {
  const auto refusal = [](const std::function<void(TaskData&)>& spoil) {
    TaskData task = grouped_task();
    spoil(task);
    try {
      check_task_groups(task);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refusal([](TaskData&) {}), "accepted");
  EXPECT_EQ(refusal([](TaskData& t) { t.roles.pop_back(); }),
            "group_ids, roles and future_inputs must all be given, with one row per series");
  EXPECT_EQ(refusal([](TaskData& t) {
              t.group_ids = {0, 1, 0, 1};
            }),
            "group_ids must be non-decreasing (row 2)");
  EXPECT_EQ(refusal([](TaskData& t) { t.roles[3] = 1; }), "group 1 has no target row");
  EXPECT_EQ(refusal([](TaskData& t) {
              t.roles[0] = 2;
              t.future_inputs[0] = 1;
              t.roles[1] = 1;
            }),
            "group 0 has no target row");
  EXPECT_EQ(refusal([](TaskData& t) { t.roles[1] = 3; }),
            "roles must be 0 (target), 1 (past covariate) or 2 (known covariate); row 1 has 3");
  EXPECT_EQ(refusal([](TaskData& t) { t.input_lengths[1] = 1; }),
            "the rows of group 0 must share their input and target lengths (row 1)");
  EXPECT_EQ(refusal([](TaskData& t) { t.future_inputs[0] = 1; }),
            "row 0 is not a known covariate but has future inputs (must be NaN)");
  EXPECT_EQ(refusal([](TaskData& t) { t.future_inputs[4] = t.future_inputs[5] = std::nanf(""); }),
            "row 2 is a known covariate without future inputs");
}

// A folder with only some of the group files is refused, naming the missing one.
TEST(TaskData, RefusesAFolderWithSomeGroupFiles) {
  TempDir temp;
  const std::string dir = temp.path("task");
  write_task_directory(grouped_task(), dir);
  fs::remove(dir + "/roles.npy");
  try {
    read_task_directory(dir);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              dir +
                  "/roles.npy: missing (a grouped task has group_ids.npy, roles.npy and "
                  "future_inputs.npy)");
  }
}

}  // namespace
}  // namespace crucible
