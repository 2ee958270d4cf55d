// Hostile variants of a native model folder for tests: the config or the
// safetensors header rewritten, or the tensors rewritten through the writer.
#pragma once

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

// Rewrites FOLDER's weights through the writer, `edit` applied to the list.
inline void edit_tensor_list(const std::string& folder,
                             const std::function<void(std::vector<SafetensorsTensorData>&)>& edit) {
  const std::string path = folder + "/model.safetensors";
  std::vector<SafetensorsTensorData> tensors;
  {
    const SafetensorsFile file = SafetensorsFile::open(path);
    for (const auto& [name, entry] : file.header().tensors) {
      tensors.push_back({name, entry.shape, file.read_float32(name)});
    }
  }
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

}  // namespace native_fixtures
}  // namespace crucible
