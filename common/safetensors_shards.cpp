#include "crucible/common/safetensors_shards.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "crucible/common/files.h"
#include "safetensors_parsing.h"

namespace crucible {

using namespace safetensors_detail;  // safetensors_parsing.h

namespace {

constexpr char kShardSuffix[] = ".safetensors";

// A shard's name as a file of the model folder itself: "<name>.safetensors",
// no folder part, no control byte, not hidden (so neither "." nor "..").
bool is_plain_shard_name(const std::string& name) {
  const size_t suffix = sizeof kShardSuffix - 1;
  if (name.size() <= suffix || name.size() > 255 || name[0] == '.') return false;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || c == '/' || c == '\\') return false;
  }
  return name.compare(name.size() - suffix, suffix, kShardSuffix) == 0;
}

bool ends_with_shard_suffix(const std::string& name) {
  const size_t suffix = sizeof kShardSuffix - 1;
  return name.size() >= suffix && name.compare(name.size() - suffix, suffix, kShardSuffix) == 0;
}

}  // namespace

std::map<std::string, std::string> parse_safetensors_index(const std::string& label,
                                                           const std::string& text) {
  const Json document =
      parse_unique_keys(label, "", text.data(), text.size(),
                        [&](const std::string& key, const std::string& top_key, size_t depth) {
                          if (depth == 1) fail(label, "duplicate key " + in_quotes(key));
                          if (depth == 2 && top_key == "weight_map") {
                            fail(label, "weight_map names tensor " + in_quotes(key) + " twice");
                          }
                          fail(label, top_key + ": duplicate key " + in_quotes(key));
                        });
  if (!document.is_object()) fail(label, "not a JSON object");
  for (const auto& item : document.items()) {
    if (item.key() != "metadata" && item.key() != "weight_map") {
      fail(label, "unexpected key " + in_quotes(item.key()) + " (only metadata and weight_map)");
    }
  }
  if (!document.contains("metadata")) {
    fail(label, "metadata is missing (transformers' loader requires it)");
  }
  if (!document["metadata"].is_object()) fail(label, "metadata is not a JSON object");
  if (!document.contains("weight_map") || !document["weight_map"].is_object()) {
    fail(label, "weight_map is missing or not a JSON object of tensor name -> shard file name");
  }
  std::map<std::string, std::string> weight_map;
  std::set<std::string> shards;
  for (const auto& item : document["weight_map"].items()) {
    const std::string where = "weight_map: tensor " + in_quotes(item.key()) + ": ";
    if (!item.value().is_string()) fail(label, where + "the shard is not a file name string");
    const std::string& shard = item.value().get_ref<const std::string&>();
    if (!is_plain_shard_name(shard)) {
      fail(label, where + "shard " + in_quotes(shard) +
                      " is not a *.safetensors file name inside the folder (no '/', '\\', "
                      "'..', leading '.' or control byte)");
    }
    shards.insert(shard);
    if (shards.size() > kMaxSafetensorsShards) {
      fail(label, "names over " + std::to_string(kMaxSafetensorsShards) + " shard files");
    }
    weight_map.emplace(item.key(), shard);
  }
  return weight_map;
}

SafetensorsShards SafetensorsShards::open_folder(const std::string& folder) {
  const std::string single_path = folder + "/" + kSafetensorsFileName;
  const std::string index_path = folder + "/" + kSafetensorsIndexName;
  struct stat single_info {
  }, index_info{};
  const bool single = ::lstat(single_path.c_str(), &single_info) == 0;
  const bool sharded = ::lstat(index_path.c_str(), &index_info) == 0;
  if (single && sharded) {
    throw SafetensorsError(std::string(kSafetensorsFileName) + " and " + kSafetensorsIndexName +
                           " are both present, which is ambiguous: keep either the single file "
                           "or the shards and their index");
  }
  SafetensorsShards shards;
  if (!sharded) {
    shards.label_ = kSafetensorsFileName;
    shards.mapped_.push_back(SafetensorsFile::open(single_path, kSafetensorsFileName));
    shards.index_tensors();
    return shards;
  }
  shards.label_ = kSafetensorsIndexName;
  shards.sharded_ = true;
  if (!S_ISREG(index_info.st_mode)) fail(kSafetensorsIndexName, "not a regular file");
  if (index_info.st_size > kMaxSafetensorsIndexBytes) {
    fail(kSafetensorsIndexName, "is " + std::to_string(index_info.st_size) + " bytes, over the " +
                                    std::to_string(kMaxSafetensorsIndexBytes) + "-byte limit");
  }
  std::string text;
  try {
    text = read_file(index_path);
  } catch (const std::exception& e) {
    fail(kSafetensorsIndexName, std::string("cannot read: ") + printable(e.what()));
  }
  const std::map<std::string, std::string> weight_map =
      parse_safetensors_index(kSafetensorsIndexName, text);

  // Each shard named (with the first tensor named in it) is a regular file
  // of the folder, and each *.safetensors file of the folder is a shard.
  std::map<std::string, std::string> first_tensor;
  for (const auto& [tensor, shard] : weight_map) first_tensor.emplace(shard, tensor);
  for (const auto& [shard, tensor] : first_tensor) {
    struct stat info {};
    if (::lstat((folder + "/" + shard).c_str(), &info) != 0) {
      fail(kSafetensorsIndexName, "shard " + in_quotes(shard) + " (of tensor " + in_quotes(tensor) +
                                      ") is missing from the folder");
    }
    if (!S_ISREG(info.st_mode)) {
      fail(kSafetensorsIndexName, "shard " + in_quotes(shard) + " is not a regular file");
    }
  }
  std::vector<std::string> unlisted;
  std::error_code error;
  for (std::filesystem::directory_iterator it(folder, error), end; !error && it != end;
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (ends_with_shard_suffix(name) && first_tensor.count(name) == 0) unlisted.push_back(name);
  }
  if (error) fail(folder, "cannot list the folder: " + error.message());
  if (!unlisted.empty()) {
    std::sort(unlisted.begin(), unlisted.end());
    fail(printable(unlisted[0]), std::string("not named by ") + kSafetensorsIndexName +
                                     ": every *.safetensors file of the folder must be a shard "
                                     "it lists");
  }

  for (const auto& [shard, tensor] : first_tensor) {
    shards.mapped_.push_back(SafetensorsFile::open(folder + "/" + shard, shard));
  }
  shards.index_tensors();
  for (const auto& [name, i] : shards.file_index_) {
    const std::string& shard = shards.file(i).label();
    const auto listed = weight_map.find(name);
    if (listed == weight_map.end()) {
      fail_tensor(shard, name, std::string("not in ") + kSafetensorsIndexName + "'s weight_map");
    }
    if (listed->second != shard) {
      fail_tensor(shard, name,
                  std::string("stored here, but ") + kSafetensorsIndexName + " puts it in " +
                      in_quotes(listed->second));
    }
  }
  for (const auto& [tensor, shard] : weight_map) {
    if (shards.file_index_.count(tensor) == 0) {
      fail_tensor(kSafetensorsIndexName, tensor, "not in " + in_quotes(shard) + ", its shard");
    }
  }
  return shards;
}

SafetensorsShards SafetensorsShards::of_image(const std::string& label, const uint8_t* bytes,
                                              size_t size) {
  SafetensorsShards shards;
  shards.label_ = label;
  shards.images_.emplace_back(label, bytes, size);
  shards.index_tensors();
  return shards;
}

void SafetensorsShards::index_tensors() {
  for (size_t i = 0; i < file_count(); ++i) {
    for (const auto& [name, entry] : file(i).header().tensors) {
      const auto [found, fresh] = file_index_.emplace(name, i);
      if (!fresh) {
        fail_tensor(file(i).label(), name,
                    "also stored in " + in_quotes(file(found->second).label()) +
                        " (a tensor belongs in one shard)");
      }
      tensors_.emplace(name, entry);
    }
  }
}

uint64_t SafetensorsShards::data_size() const {
  uint64_t total = 0;
  for (size_t i = 0; i < file_count(); ++i) total += file(i).header().data_size;
  return total;
}

const SafetensorsView& SafetensorsShards::view_of(const std::string& name) const {
  const auto found = file_index_.find(name);
  if (found == file_index_.end()) {
    fail_tensor(label_, name,
                sharded_ ? "no such tensor in the shards" : "no such tensor in the file");
  }
  return file(found->second);
}

const SafetensorsEntry& SafetensorsShards::entry(const std::string& name) const {
  return view_of(name).entry(name);
}

const std::string& SafetensorsShards::file_of(const std::string& name) const {
  return view_of(name).label();
}

std::vector<float> SafetensorsShards::read_float32(const std::string& name) const {
  return view_of(name).read_float32(name);
}

void SafetensorsShards::read_float32(const std::string& name, float* out) const {
  view_of(name).read_float32(name, out);
}

}  // namespace crucible
