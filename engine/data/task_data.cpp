// Padding a task's series into rectangular arrays, and writing a task folder
// all or nothing (the npy files a model runner and the CLI read).
#include "crucible/engine/data/task_data.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "crucible/common/files.h"
#include "crucible/common/npy.h"

namespace crucible {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

// `values` as an .npy array of `shape`; T is float or int64_t.
template <typename T>
NpyArray to_npy(NpyDtype dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
  NpyArray array;
  array.dtype = dtype;
  array.shape = std::move(shape);
  const char* bytes = reinterpret_cast<const char*>(values.data());
  array.data.assign(bytes, bytes + values.size() * sizeof(T));
  return array;
}

// The arrays must agree with the widths, or the files would not match their shapes.
void check_shapes(const TaskData& task, const std::string& directory) {
  const auto s = static_cast<size_t>(task.num_series);
  if (task.num_series < 0 || task.input_width < 0 || task.target_width < 0 ||
      task.inputs.size() != s * static_cast<size_t>(task.input_width) ||
      task.targets.size() != s * static_cast<size_t>(task.target_width) ||
      task.input_lengths.size() != s || task.target_lengths.size() != s ||
      (!task.descriptions.empty() && task.descriptions.size() != s)) {
    fail(directory, "task arrays do not match num_series, input_width and target_width");
  }
  try {
    check_task_groups(task);
  } catch (const std::invalid_argument& e) {
    fail(directory, e.what());
  }
}

void write_files(const TaskData& task, const std::string& folder) {
  const int64_t s = task.num_series;
  write_npy(folder + "/inputs.npy", to_npy(NpyDtype::kFloat32, {s, task.input_width}, task.inputs));
  write_npy(folder + "/input_lengths.npy", to_npy(NpyDtype::kInt64, {s}, task.input_lengths));
  write_npy(folder + "/targets.npy",
            to_npy(NpyDtype::kFloat32, {s, task.target_width}, task.targets));
  write_npy(folder + "/target_lengths.npy", to_npy(NpyDtype::kInt64, {s}, task.target_lengths));
  if (has_groups(task)) {
    write_npy(folder + "/group_ids.npy", to_npy(NpyDtype::kInt64, {s}, task.group_ids));
    write_npy(folder + "/roles.npy", to_npy(NpyDtype::kInt64, {s}, task.roles));
    write_npy(folder + "/future_inputs.npy",
              to_npy(NpyDtype::kFloat32, {s, task.target_width}, task.future_inputs));
  }
  nlohmann::json descriptions = nlohmann::json::array();
  for (int64_t i = 0; i < s; ++i) {
    const auto at = static_cast<size_t>(i);
    descriptions.push_back(at < task.descriptions.size() ? task.descriptions[at] : "");
  }
  // Names come from data files and need not be UTF-8: replace bad bytes, never throw.
  write_file_atomically(
      folder + "/kernels.json",
      descriptions.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

std::string parent_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Removes a folder tree, ignoring errors (used on paths this code created).
void remove_tree(const std::string& path) {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

[[noreturn]] void refuse_groups(const std::string& what) { throw std::invalid_argument(what); }

}  // namespace

bool has_groups(const TaskData& task) { return !task.group_ids.empty(); }

std::vector<int64_t> row_group_ids(const TaskData& task) {
  if (has_groups(task)) return task.group_ids;
  std::vector<int64_t> ids(static_cast<size_t>(task.num_series));
  for (size_t j = 0; j < ids.size(); ++j) ids[j] = static_cast<int64_t>(j);
  return ids;
}

std::vector<int64_t> scored_rows(const TaskData& task) {
  std::vector<int64_t> rows;
  for (int64_t j = 0; j < task.num_series; ++j) {
    if (!has_groups(task) ||
        task.roles[static_cast<size_t>(j)] == static_cast<int64_t>(SeriesRole::kTarget)) {
      rows.push_back(j);
    }
  }
  return rows;
}

TaskData scored_view(const TaskData& task) {
  if (!has_groups(task)) return task;
  TaskData view;
  view.input_width = task.input_width;
  view.target_width = task.target_width;
  const auto copy_row = [](const std::vector<float>& from, int64_t row, int64_t width,
                           std::vector<float>& to) {
    to.insert(to.end(), from.begin() + row * width, from.begin() + (row + 1) * width);
  };
  for (int64_t j : scored_rows(task)) {
    const auto at = static_cast<size_t>(j);
    copy_row(task.inputs, j, task.input_width, view.inputs);
    copy_row(task.targets, j, task.target_width, view.targets);
    view.input_lengths.push_back(task.input_lengths[at]);
    view.target_lengths.push_back(task.target_lengths[at]);
    view.descriptions.push_back(at < task.descriptions.size() ? task.descriptions[at] : "");
    ++view.num_series;
  }
  return view;
}

void check_task_groups(const TaskData& task) {
  const auto s = static_cast<size_t>(task.num_series);
  const auto h = static_cast<size_t>(task.target_width);
  if (task.group_ids.empty() && task.roles.empty() && task.future_inputs.empty()) return;
  if (task.group_ids.size() != s || task.roles.size() != s || task.future_inputs.size() != s * h) {
    refuse_groups("group_ids, roles and future_inputs must all be given, with one row per series");
  }
  bool group_has_target = false;
  for (size_t j = 0; j < s; ++j) {
    const bool starts_group = j == 0 || task.group_ids[j] != task.group_ids[j - 1];
    if (j > 0 && task.group_ids[j] < task.group_ids[j - 1]) {
      refuse_groups("group_ids must be non-decreasing (row " + std::to_string(j) + ")");
    }
    if (starts_group && j > 0 && !group_has_target) {
      refuse_groups("group " + std::to_string(task.group_ids[j - 1]) + " has no target row");
    }
    if (starts_group) group_has_target = false;
    const int64_t role = task.roles[j];
    if (role < 0 || role > 2) {
      refuse_groups("roles must be 0 (target), 1 (past covariate) or 2 (known covariate); row " +
                    std::to_string(j) + " has " + std::to_string(role));
    }
    group_has_target = group_has_target || role == static_cast<int64_t>(SeriesRole::kTarget);
    if (!starts_group && (task.input_lengths[j] != task.input_lengths[j - 1] ||
                          task.target_lengths[j] != task.target_lengths[j - 1])) {
      refuse_groups("the rows of group " + std::to_string(task.group_ids[j]) +
                    " must share their input and target lengths (row " + std::to_string(j) + ")");
    }
    const bool known = role == static_cast<int64_t>(SeriesRole::kKnownCovariate);
    const float* future = task.future_inputs.data() + j * h;
    const auto given = static_cast<int64_t>(
        std::count_if(future, future + h, [](float v) { return !std::isnan(v); }));
    if (!known && given > 0) {
      refuse_groups("row " + std::to_string(j) +
                    " is not a known covariate but has future inputs (must be NaN)");
    }
    if (known && given == 0 && task.target_lengths[j] > 0) {
      refuse_groups("row " + std::to_string(j) + " is a known covariate without future inputs");
    }
  }
  if (s > 0 && !group_has_target) {
    refuse_groups("group " + std::to_string(task.group_ids[s - 1]) + " has no target row");
  }
}

void set_task_groups(TaskData& task, std::vector<int64_t> group_ids, std::vector<int64_t> roles) {
  const auto h = static_cast<size_t>(task.target_width);
  task.group_ids = std::move(group_ids);
  task.roles = std::move(roles);
  task.future_inputs.assign(static_cast<size_t>(task.num_series) * h,
                            std::numeric_limits<float>::quiet_NaN());
  for (size_t j = 0; j < task.roles.size() && j < static_cast<size_t>(task.num_series); ++j) {
    if (task.roles[j] != static_cast<int64_t>(SeriesRole::kKnownCovariate)) continue;
    const float* target = task.targets.data() + j * h;
    std::copy(target, target + task.target_lengths[j], task.future_inputs.data() + j * h);
  }
  check_task_groups(task);
}

TaskData pad_task(const std::vector<std::vector<float>>& contexts,
                  const std::vector<std::vector<float>>& targets,
                  std::vector<std::string> descriptions) {
  if (contexts.size() != targets.size() ||
      (!descriptions.empty() && descriptions.size() != contexts.size())) {
    throw std::invalid_argument("pad_task: " + std::to_string(contexts.size()) + " contexts, " +
                                std::to_string(targets.size()) + " targets and " +
                                std::to_string(descriptions.size()) +
                                " descriptions (must be equal, or no descriptions)");
  }
  TaskData task;
  const size_t s = contexts.size();
  task.num_series = static_cast<int64_t>(s);
  for (size_t i = 0; i < s; ++i) {
    task.input_width = std::max(task.input_width, static_cast<int64_t>(contexts[i].size()));
    task.target_width = std::max(task.target_width, static_cast<int64_t>(targets[i].size()));
  }
  const auto t_max = static_cast<size_t>(task.input_width);
  const auto h_max = static_cast<size_t>(task.target_width);
  task.inputs.assign(s * t_max, 0.0f);
  task.targets.assign(s * h_max, 0.0f);
  for (size_t i = 0; i < s; ++i) {
    std::copy(contexts[i].begin(), contexts[i].end(), task.inputs.begin() + i * t_max);
    std::copy(targets[i].begin(), targets[i].end(), task.targets.begin() + i * h_max);
    task.input_lengths.push_back(static_cast<int64_t>(contexts[i].size()));
    task.target_lengths.push_back(static_cast<int64_t>(targets[i].size()));
  }
  task.descriptions = std::move(descriptions);
  task.descriptions.resize(s);
  return task;
}

// The files go to `<dir>.tmp-XXXXXX` (fsync'd); an existing `<dir>` is moved
// to `<dir>.old-XXXXXX`, the temporary folder renamed to `<dir>`, and the old
// one removed. Between the two renames `<dir>` is briefly absent, never partial.
void write_task_directory(const TaskData& task, const std::string& directory) {
  std::string target = directory;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  check_shapes(task, target);

  struct stat existing;
  const bool exists = ::lstat(target.c_str(), &existing) == 0;
  if (exists && !S_ISDIR(existing.st_mode)) fail(target, "exists and is not a folder");

  std::string temp = target + ".tmp-XXXXXX";
  if (::mkdtemp(temp.data()) == nullptr) {
    fail(target, std::string("cannot create a temporary folder: ") + std::strerror(errno));
  }
  try {
    if (::chmod(temp.c_str(), 0755) != 0) {  // mkdtemp makes it 0700
      fail(target, std::string("cannot set the folder's permissions: ") + std::strerror(errno));
    }
    write_files(task, temp);
    sync_directory(temp);
    if (exists) {
      // rename(2) replaces an empty folder, so a fresh mkdtemp name is a safe target.
      std::string old = target + ".old-XXXXXX";
      if (::mkdtemp(old.data()) == nullptr) {
        fail(target,
             std::string("cannot create a folder for the old one: ") + std::strerror(errno));
      }
      if (::rename(target.c_str(), old.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        ::rmdir(old.c_str());
        fail(target, "cannot move the old folder aside: " + reason);
      }
      if (::rename(temp.c_str(), target.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        ::rename(old.c_str(), target.c_str());  // put the old folder back
        fail(target, "cannot rename the new folder into place: " + reason);
      }
      remove_tree(old);
    } else if (::rename(temp.c_str(), target.c_str()) != 0) {
      fail(target, std::string("cannot rename the new folder into place: ") + std::strerror(errno));
    }
  } catch (const std::exception& e) {
    remove_tree(temp);
    // Errors of write_npy and write_file_atomically name a file in the temporary folder.
    if (std::string(e.what()).rfind(target + ": ", 0) == 0) throw;
    fail(target, e.what());
  }
  sync_directory(parent_of(target));
}

namespace {

// A task file with the dtype and rank write_task_directory writes.
NpyArray read_task_file(const std::string& path, NpyDtype dtype, size_t rank) {
  NpyArray a = read_npy(path);
  if (a.dtype != dtype || a.shape.size() != rank) {
    throw std::runtime_error(path + ": expected " + npy_descr(dtype) + " with " +
                             std::to_string(rank) + " dimensions, as crucible synth writes");
  }
  return a;
}

std::vector<float> float_values(const NpyArray& a) {
  const float* data = reinterpret_cast<const float*>(a.data.data());
  return {data, data + a.num_elements()};
}

std::vector<int64_t> int_values(const NpyArray& a) {
  const int64_t* data = reinterpret_cast<const int64_t*>(a.data.data());
  return {data, data + a.num_elements()};
}

// The group files of a grouped task: none, or all three, checked.
void read_groups(const std::string& dir, TaskData& task) {
  const char* const names[] = {"group_ids.npy", "roles.npy", "future_inputs.npy"};
  int present = 0;
  for (const char* name : names) present += std::filesystem::exists(dir + "/" + name) ? 1 : 0;
  if (present == 0) return;
  for (const char* name : names) {
    if (!std::filesystem::exists(dir + "/" + name)) {
      throw std::runtime_error(dir + "/" + name +
                               ": missing (a grouped task has group_ids.npy, roles.npy and "
                               "future_inputs.npy)");
    }
  }
  task.group_ids = int_values(read_task_file(dir + "/group_ids.npy", NpyDtype::kInt64, 1));
  task.roles = int_values(read_task_file(dir + "/roles.npy", NpyDtype::kInt64, 1));
  const NpyArray future = read_task_file(dir + "/future_inputs.npy", NpyDtype::kFloat32, 2);
  if (future.shape[0] != task.num_series || future.shape[1] != task.target_width) {
    throw std::runtime_error(dir + "/future_inputs.npy: expected shape [" +
                             std::to_string(task.num_series) + ", " +
                             std::to_string(task.target_width) + "] (series, target width)");
  }
  task.future_inputs = float_values(future);
  try {
    check_task_groups(task);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(dir + ": " + e.what());
  }
}

}  // namespace

TaskData read_task_directory(const std::string& dir) {
  const NpyArray inputs = read_task_file(dir + "/inputs.npy", NpyDtype::kFloat32, 2);
  const NpyArray targets = read_task_file(dir + "/targets.npy", NpyDtype::kFloat32, 2);
  TaskData task;
  task.num_series = inputs.shape.at(0);
  task.input_width = inputs.shape.at(1);
  task.target_width = targets.shape.at(1);
  task.inputs = float_values(inputs);
  task.targets = float_values(targets);
  task.input_lengths = int_values(read_task_file(dir + "/input_lengths.npy", NpyDtype::kInt64, 1));
  task.target_lengths =
      int_values(read_task_file(dir + "/target_lengths.npy", NpyDtype::kInt64, 1));
  if (static_cast<int64_t>(task.input_lengths.size()) != task.num_series ||
      static_cast<int64_t>(task.target_lengths.size()) != task.num_series ||
      targets.shape[0] != task.num_series) {
    throw std::runtime_error(dir + ": the task files disagree on the number of series");
  }
  read_groups(dir, task);
  return task;
}

}  // namespace crucible
