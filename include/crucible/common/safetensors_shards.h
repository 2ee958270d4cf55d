// The weights of a Hugging Face model folder as save_pretrained writes them:
// one model.safetensors, or (above max_shard_size) shards listed by
// model.safetensors.index.json, read as one set of tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "crucible/common/safetensors.h"

namespace crucible {

// The weight files of a Hugging Face model folder, as save_pretrained writes
// them: one file, or (above max_shard_size) shards listed by an index.
constexpr char kSafetensorsFileName[] = "model.safetensors";
constexpr char kSafetensorsIndexName[] = "model.safetensors.index.json";

// The most shard files an index may name, and the most bytes it may have.
constexpr size_t kMaxSafetensorsShards = 1024;
constexpr int64_t kMaxSafetensorsIndexBytes = 16 << 20;

// The weight_map of a model.safetensors.index.json, tensor name -> shard file
// name, checked: `text` is a JSON object with exactly the keys "metadata" (an
// object, which transformers requires) and "weight_map" (an object of
// strings), no key repeated at any level, every shard a plain file name in
// the folder ending in ".safetensors" (no '/', '\', control byte or leading
// '.'), at most kMaxSafetensorsShards of them. Throws SafetensorsError with
// one line, "<label>: <problem>", naming the tensor or key.
std::map<std::string, std::string> parse_safetensors_index(const std::string& label,
                                                           const std::string& text);

// The tensors of one safetensors file or of several (the shards of a
// sharded checkpoint) as one set, read like a SafetensorsView: each tensor
// is in exactly one file, which file_of() names. Inspection and loading both
// read weights through it. Move-only; the mapped files stay open while it
// lives.
class SafetensorsShards {
 public:
  // The weights of model folder `folder`: FOLDER/model.safetensors, or the
  // shards named by FOLDER/model.safetensors.index.json. Files are labelled
  // by their names in the folder. Throws SafetensorsError, one line starting
  // with the name of the file at fault, when both or neither of the two
  // exist, the index fails parse_safetensors_index, is over
  // kMaxSafetensorsIndexBytes or not a regular file, a shard it names is not
  // a regular file in the folder, a top-level *.safetensors file is not one
  // of its shards, a shard fails SafetensorsFile::open, or a tensor is in
  // two shards, in a shard the index does not name for it, in no shard
  // although the index lists it, or in a shard but not in the index.
  static SafetensorsShards open_folder(const std::string& folder);

  // One image in memory (see SafetensorsView: the caller keeps it alive).
  static SafetensorsShards of_image(const std::string& label, const uint8_t* bytes, size_t size);

  SafetensorsShards(SafetensorsShards&&) = default;
  SafetensorsShards& operator=(SafetensorsShards&&) = default;

  // The file that lists the tensors: model.safetensors, or the index when sharded.
  const std::string& label() const { return label_; }
  bool sharded() const { return sharded_; }

  // The files, in name order, with their headers.
  size_t file_count() const { return mapped_.size() + images_.size(); }
  const SafetensorsView& file(size_t i) const {
    return mapped_.empty() ? images_[i] : mapped_[i].view();
  }

  // Every tensor of every file, by name; offsets are within its own file.
  const std::map<std::string, SafetensorsEntry>& tensors() const { return tensors_; }
  // The data bytes of every file together.
  uint64_t data_size() const;

  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws SafetensorsError naming label() and the tensor when there is none.
  const SafetensorsEntry& entry(const std::string& name) const;
  // The label of the file holding tensor `name` (throws as entry() does).
  const std::string& file_of(const std::string& name) const;
  // See SafetensorsView::read_float32.
  std::vector<float> read_float32(const std::string& name) const;
  void read_float32(const std::string& name, float* out) const;

 private:
  SafetensorsShards() = default;
  // Fills tensors_ and file_index_ from the files (a tensor in two files throws).
  void index_tensors();
  const SafetensorsView& view_of(const std::string& name) const;

  std::string label_;
  bool sharded_ = false;
  std::vector<SafetensorsFile> mapped_;  // the files, or
  std::vector<SafetensorsView> images_;  // one image in memory
  std::map<std::string, SafetensorsEntry> tensors_;
  std::map<std::string, size_t> file_index_;  // tensor -> file(i)
};

}  // namespace crucible
