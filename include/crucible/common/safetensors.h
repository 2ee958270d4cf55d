// Reading and writing safetensors files, strictly and without LibTorch.
//
// Layout: an 8-byte little-endian length N, N bytes of UTF-8 JSON mapping
// each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (plus
// an optional "__metadata__" object of strings), then the data buffer. The
// offsets count from the start of the data buffer (byte 8 + N); tensors are
// little-endian, C order. Only F32, F16 and BF16 tensors are accepted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace crucible {

enum class SafetensorsDtype { kF32, kF16, kBF16 };

// The safetensors name of a dtype: "F32", "F16" or "BF16".
const char* dtype_name(SafetensorsDtype dtype);

// Bytes per element: 4 for F32, 2 for F16 and BF16.
size_t dtype_size(SafetensorsDtype dtype);

struct SafetensorsEntry {
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // offsets in the data buffer

  // The product of the shape (1 for a scalar).
  int64_t element_count() const;
};

struct SafetensorsHeader {
  std::map<std::string, SafetensorsEntry> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;  // 8 + N: where the data buffer starts in the file
  uint64_t data_size = 0;    // bytes in the data buffer
};

// Thrown for any unreadable, malformed or unsupported file; what() is one
// line: "<file>: <problem>" or "<file>: tensor '<name>': <problem>".
class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses and checks a whole safetensors image of `size` bytes at `bytes`;
// `label` (the file's path) starts every error message. Reads no byte outside
// [bytes, bytes + size). Throws SafetensorsError for: fewer than 8 bytes; a
// header length N of 0, over 100,000,000 or over size - 8; a header that is
// not a JSON object (trailing whitespace is allowed); a duplicate key at any
// level; an entry that is not an object with exactly the keys dtype, shape and
// data_offsets; "__metadata__" not an object of strings; a dtype other than
// F32, F16, BF16; a shape that is not an array of at most 8 non-negative
// integers whose product fits in int64; data_offsets that are not two
// non-negative integers with begin <= end; end - begin != the shape's bytes;
// end past the data buffer; two tensors whose bytes overlap. Gaps between
// tensors are allowed.
SafetensorsHeader parse_safetensors(const std::string& label, const uint8_t* bytes, size_t size);

// A checked safetensors image in memory that the caller keeps alive and
// unchanged while the view is used: the header and the tensors' values.
class SafetensorsView {
 public:
  // Parses and checks the image (see parse_safetensors); `label` starts every
  // error message. Throws SafetensorsError.
  SafetensorsView(std::string label, const uint8_t* bytes, size_t size);

  const std::string& label() const { return label_; }
  const SafetensorsHeader& header() const { return header_; }

  // Whether the image holds a tensor called `name`.
  bool contains(const std::string& name) const;

  // The entry of tensor `name`. Throws SafetensorsError naming the label and
  // the tensor when there is none.
  const SafetensorsEntry& entry(const std::string& name) const;

  // The tensor's values widened to float32 (F16 and BF16 converted exactly),
  // C order. Throws SafetensorsError naming the label and tensor when the
  // name is absent.
  std::vector<float> read_float32(const std::string& name) const;

  // Same, written into `out` (room for entry(name).element_count() floats)
  // without allocating.
  void read_float32(const std::string& name, float* out) const;

 private:
  std::string label_;
  SafetensorsHeader header_;
  const uint8_t* bytes_;
};

// A safetensors file opened read-only and memory-mapped. Move-only; the
// mapping is released by the destructor.
class SafetensorsFile {
 public:
  // Maps `path` and checks its header (see parse_safetensors) before anything
  // else. Throws SafetensorsError naming the label (the path when `label` is
  // empty) when the file cannot be opened or mapped, is not a regular file,
  // or fails a check.
  static SafetensorsFile open(const std::string& path, const std::string& label = "");

  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  // The mapped image, with the label given to open().
  const SafetensorsView& view() const { return view_; }

  const std::string& path() const { return path_; }
  const std::string& label() const { return view_.label(); }
  const SafetensorsHeader& header() const { return view_.header(); }

  // See SafetensorsView: the same calls on the mapped file.
  bool contains(const std::string& name) const { return view_.contains(name); }
  const SafetensorsEntry& entry(const std::string& name) const { return view_.entry(name); }
  std::vector<float> read_float32(const std::string& name) const {
    return view_.read_float32(name);
  }
  void read_float32(const std::string& name, float* out) const { view_.read_float32(name, out); }

 private:
  SafetensorsFile(std::string path, SafetensorsView view, const uint8_t* mapping, size_t size)
      : path_(std::move(path)), view_(std::move(view)), mapping_(mapping), size_(size) {}
  void release();

  std::string path_;
  SafetensorsView view_;
  const uint8_t* mapping_ = nullptr;  // null for an empty file
  size_t size_ = 0;
};

// A float32 tensor to write.
struct SafetensorsTensorData {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;  // the shape's product of values, C order
};

// Writes an F32 safetensors file: the header padded with spaces to a multiple
// of 8 bytes, the tensors in name order and contiguous. Atomic: a temporary
// sibling is written, fsync'd and renamed over `path`. Throws
// std::runtime_error naming the path when a name repeats or is
// "__metadata__", a dimension is negative, a tensor's value count differs
// from its shape, a string is not valid UTF-8, or the write fails.
void write_safetensors(const std::string& path, const std::vector<SafetensorsTensorData>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace crucible
