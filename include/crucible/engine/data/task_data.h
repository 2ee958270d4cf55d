// The data of one evaluation task (docs/scoring.md section 1): per series, an input
// (context) and a target, each left-aligned and right-padded with 0 to the
// longest in the task, with the true lengths kept. Host memory, no LibTorch:
// the runner moves it to the device once per round.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace crucible {

struct TaskData {
  int64_t num_series = 0;
  int64_t input_width = 0;                // Tmax: the longest input
  int64_t target_width = 0;               // Hmax: the longest target
  std::vector<float> inputs;              // [num_series, input_width], row-major
  std::vector<int64_t> input_lengths;     // [num_series]
  std::vector<float> targets;             // [num_series, target_width]
  std::vector<int64_t> target_lengths;    // [num_series]
  std::vector<std::string> descriptions;  // per series: its kernel or its source window
};

// Pads `contexts[i]` and `targets[i]` into a TaskData (widths = the longest
// of each). `descriptions` may be empty (then all empty). Throws
// std::invalid_argument when the three lists differ in length.
TaskData pad_task(const std::vector<std::vector<float>>& contexts,
                  const std::vector<std::vector<float>>& targets,
                  std::vector<std::string> descriptions = {});

// Writes inputs.npy, input_lengths.npy, targets.npy, target_lengths.npy and
// kernels.json (the descriptions) into `directory`, all or nothing: the files
// go to a temporary sibling folder that then replaces `directory`. Throws
// std::runtime_error naming the path on failure, leaving `directory` as it was.
void write_task_directory(const TaskData& task, const std::string& directory);

// Reads what write_task_directory wrote (descriptions are not read back).
// Throws std::runtime_error naming the file for a missing or malformed file,
// a wrong dtype or rank, or files that disagree on the number of series.
TaskData read_task_directory(const std::string& directory);

}  // namespace crucible
