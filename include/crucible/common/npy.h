// Reading and writing NumPy .npy files (format versions 1.0 and 2.0,
// little-endian, C order). No LibTorch here: engine/data/tensor_npy.h converts.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace crucible {

enum class NpyDtype { kFloat32, kFloat64, kInt32, kInt64 };

// The numpy descr of a dtype ("<f4", ...) and its size in bytes.
const char* npy_descr(NpyDtype dtype);
size_t npy_item_size(NpyDtype dtype);

// Thrown for any unreadable, malformed or unsupported file; what() is one line
// that starts with the file's path.
class NpyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NpyArray {
  NpyDtype dtype = NpyDtype::kFloat32;
  std::vector<int64_t> shape;
  std::vector<char> data;  // shape's product * item size bytes, C order

  int64_t num_elements() const;
};

// Reads `path`. Throws NpyError naming the path for: a missing or unreadable
// file, a bad magic string, a version other than 1.0 / 2.0, a malformed
// header, Fortran order, big-endian or unsupported dtypes (object, float16,
// ...), or a data size that differs from the header's shape.
NpyArray read_npy(const std::string& path);

// Parses a whole .npy image of `size` bytes at `bytes`, with read_npy's checks
// and messages; `label` (the file's path, or a name for it) starts every
// message. Reads no byte outside [bytes, bytes + size). Throws NpyError.
NpyArray parse_npy(const std::string& label, const uint8_t* bytes, size_t size);

// Writes `array` to `path` atomically (a temporary file in the same folder,
// fsync'd, then renamed): either the whole file appears or nothing does.
// Throws NpyError naming the path on failure.
void write_npy(const std::string& path, const NpyArray& array);

}  // namespace crucible
