// The data of one evaluation task (docs/scoring.md section 1): per series
// (row), an input (context) and a target, each left-aligned and right-padded
// with 0 to the longest in the task, with the true lengths kept. A
// multivariate or covariate task also groups its rows: each row of a group is
// a target, a past-only covariate, or a known covariate whose values over the
// horizon are given; only target rows are scored. Host memory, no LibTorch:
// the runner moves it to the device once per round.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace crucible {

// A row's part in its group.
enum class SeriesRole : int64_t {
  kTarget = 0,          // forecast and scored
  kPastCovariate = 1,   // its past is known, its future is not; not scored
  kKnownCovariate = 2,  // its future is given (future_inputs); not scored
};

struct TaskData {
  int64_t num_series = 0;
  int64_t input_width = 0;                // Tmax: the longest input
  int64_t target_width = 0;               // Hmax: the longest target
  std::vector<float> inputs;              // [num_series, input_width], row-major
  std::vector<int64_t> input_lengths;     // [num_series]
  std::vector<float> targets;             // [num_series, target_width]
  std::vector<int64_t> target_lengths;    // [num_series]
  std::vector<std::string> descriptions;  // per series: its kernel or its source window
  // Groups (all three empty for a univariate task: each row its own group, a
  // target, with no future inputs). A group's rows are contiguous and share
  // their input and target lengths; each group has at least one target.
  std::vector<int64_t> group_ids;    // [num_series], non-decreasing
  std::vector<int64_t> roles;        // [num_series], SeriesRole values
  std::vector<float> future_inputs;  // [num_series, target_width]: known covariates' values
                                     // over the horizon; NaN in every other row
};

// Whether the task groups its rows (group_ids, roles and future_inputs set).
bool has_groups(const TaskData& task);

// The group id of every row: task.group_ids, or 0, 1, 2, ... for a
// univariate task.
std::vector<int64_t> row_group_ids(const TaskData& task);

// The rows that are scored, ascending: the target rows (every row of a
// univariate task).
std::vector<int64_t> scored_rows(const TaskData& task);

// The task's scored rows alone, as a univariate task (their inputs, targets,
// lengths and descriptions, widths unchanged): the rows that per-series
// losses and reports index. A univariate task is returned as it is.
TaskData scored_view(const TaskData& task);

// Throws std::invalid_argument with one line when the group arrays disagree
// with the task or with each other: wrong sizes, only some of the three set,
// decreasing ids, a group split in two, a role outside 0..2, a group without
// a target, rows of a group with different lengths, or a known covariate
// without future values (or future values in another row).
void check_task_groups(const TaskData& task);

// Groups the rows of `task`: sets group_ids and roles, and future_inputs to
// each known covariate's target values (NaN in every other row and past a
// row's target length); then check_task_groups.
void set_task_groups(TaskData& task, std::vector<int64_t> group_ids, std::vector<int64_t> roles);

// Pads `contexts[i]` and `targets[i]` into a TaskData (widths = the longest
// of each). `descriptions` may be empty (then all empty). Throws
// std::invalid_argument when the three lists differ in length.
TaskData pad_task(const std::vector<std::vector<float>>& contexts,
                  const std::vector<std::vector<float>>& targets,
                  std::vector<std::string> descriptions = {});

// Writes inputs.npy, input_lengths.npy, targets.npy, target_lengths.npy,
// kernels.json (the descriptions) and, for a grouped task, group_ids.npy,
// roles.npy (int64) and future_inputs.npy (float32 [S, H]) into `directory`, all or nothing: the
// files go to a temporary sibling folder that then replaces `directory`. Throws std::runtime_error
// naming the path on failure, leaving `directory` as it was.
void write_task_directory(const TaskData& task, const std::string& directory);

// Reads what write_task_directory wrote (descriptions are not read back).
// Throws std::runtime_error naming the file for a missing or malformed file,
// a wrong dtype or rank, files that disagree on the number of series, or
// group files that check_task_groups refuses (or only some of the three).
TaskData read_task_directory(const std::string& directory);

}  // namespace crucible
