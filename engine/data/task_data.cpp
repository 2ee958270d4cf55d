// Padding a task's series into rectangular arrays, and writing a task folder
// all or nothing (the npy files a model runner and the CLI read).
#include "crucible/engine/data/task_data.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
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
}

void write_files(const TaskData& task, const std::string& folder) {
  const int64_t s = task.num_series;
  write_npy(folder + "/inputs.npy", to_npy(NpyDtype::kFloat32, {s, task.input_width}, task.inputs));
  write_npy(folder + "/input_lengths.npy", to_npy(NpyDtype::kInt64, {s}, task.input_lengths));
  write_npy(folder + "/targets.npy",
            to_npy(NpyDtype::kFloat32, {s, task.target_width}, task.targets));
  write_npy(folder + "/target_lengths.npy", to_npy(NpyDtype::kInt64, {s}, task.target_lengths));
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

}  // namespace

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
  return task;
}

}  // namespace crucible
