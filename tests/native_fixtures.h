// Hostile variants of a native model folder for tests: the config or the
// safetensors header rewritten, or the tensors rewritten through the writer.
#pragma once

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crucible/common/files.h"
#include "crucible/common/safetensors.h"

namespace crucible {
namespace native_fixtures {

// Copies the model files of native folder `from` into a new folder `to`.
inline void copy_model(const std::string& from, const std::string& to) {
  std::filesystem::create_directories(to);
  for (const char* name : {"config.json", "model.safetensors"}) {
    std::filesystem::copy_file(from + "/" + name, to + "/" + name,
                               std::filesystem::copy_options::overwrite_existing);
  }
}

// Rewrites FOLDER/config.json through `edit`.
inline void edit_config(const std::string& folder,
                        const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json config = nlohmann::json::parse(read_file(folder + "/config.json"));
  edit(config);
  write_file_atomically(folder + "/config.json", config.dump());
}

// Rewrites the safetensors header JSON of FOLDER, the data buffer kept as it is.
inline void edit_header(const std::string& folder,
                        const std::function<void(nlohmann::json&)>& edit) {
  const std::string path = folder + "/model.safetensors";
  const std::string bytes = read_file(path);
  uint64_t length = 0;
  std::memcpy(&length, bytes.data(), 8);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, length));
  edit(header);
  const std::string text = header.dump();
  const uint64_t new_length = text.size();
  const std::string prefix(reinterpret_cast<const char*>(&new_length), 8);
  write_file_atomically(path, prefix + text + bytes.substr(8 + length));
}

// Every tensor of the safetensors file at `path`, widened to float32, in name order.
inline std::vector<SafetensorsTensorData> read_tensors(const std::string& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  std::vector<SafetensorsTensorData> tensors;
  for (const auto& [name, entry] : file.header().tensors) {
    tensors.push_back({name, entry.shape, file.read_float32(name)});
  }
  return tensors;
}

// Rewrites FOLDER's weights through the writer, `edit` applied to the list.
inline void edit_tensor_list(const std::string& folder,
                             const std::function<void(std::vector<SafetensorsTensorData>&)>& edit) {
  const std::string path = folder + "/model.safetensors";
  std::vector<SafetensorsTensorData> tensors = read_tensors(path);
  edit(tensors);
  write_safetensors(path, tensors);
}

// The same, `edit` applied to each tensor.
inline void edit_tensors(const std::string& folder,
                         const std::function<void(SafetensorsTensorData&)>& edit) {
  edit_tensor_list(folder, [&](std::vector<SafetensorsTensorData>& tensors) {
    for (SafetensorsTensorData& tensor : tensors) edit(tensor);
  });
}

// The name save_pretrained gives shard `index` (from 1) of `count`:
// "model-00002-of-00003.safetensors".
inline std::string shard_name(int index, int count) {
  char name[64];
  std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", index, count);
  return name;
}

// Rewrites FOLDER/model.safetensors as `count` shards and their
// model.safetensors.index.json, as save_pretrained(max_shard_size=...) does:
// the tensors in name order, dealt in consecutive runs of equal size (the
// last shard takes the rest), each shard with {"format": "pt"} metadata.
// model.safetensors is removed. Returns the index written.
inline nlohmann::json shard_model(const std::string& folder, int count) {
  const std::string single = folder + "/model.safetensors";
  const std::vector<SafetensorsTensorData> tensors = read_tensors(single);
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  const size_t per_shard = tensors.size() / static_cast<size_t>(count);
  size_t total = 0;
  for (int i = 0; i < count; ++i) {
    const auto begin = tensors.begin() + static_cast<std::ptrdiff_t>(i * per_shard);
    const auto end =
        i + 1 == count ? tensors.end() : begin + static_cast<std::ptrdiff_t>(per_shard);
    const std::vector<SafetensorsTensorData> part(begin, end);
    const std::string name = shard_name(i + 1, count);
    write_safetensors(folder + "/" + name, part, {{"format", "pt"}});
    for (const SafetensorsTensorData& tensor : part) {
      index["weight_map"][tensor.name] = name;
      total += tensor.values.size() * sizeof(float);
    }
  }
  index["metadata"]["total_size"] = total;
  write_file_atomically(folder + "/model.safetensors.index.json", index.dump(2));
  std::filesystem::remove(single);
  return index;
}

// Rewrites FOLDER/model.safetensors.index.json through `edit`.
inline void edit_index(const std::string& folder,
                       const std::function<void(nlohmann::json&)>& edit) {
  const std::string path = folder + "/model.safetensors.index.json";
  nlohmann::json index = nlohmann::json::parse(read_file(path));
  edit(index);
  write_file_atomically(path, index.dump(2));
}

// Rewrites shard FOLDER/NAME through the writer, `edit` applied to its tensors.
inline void edit_shard(const std::string& folder, const std::string& name,
                       const std::function<void(std::vector<SafetensorsTensorData>&)>& edit) {
  const std::string path = folder + "/" + name;
  std::vector<SafetensorsTensorData> tensors = read_tensors(path);
  edit(tensors);
  write_safetensors(path, tensors, {{"format", "pt"}});
}

}  // namespace native_fixtures
}  // namespace crucible
