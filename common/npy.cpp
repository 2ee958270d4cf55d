#include "crucible/common/npy.h"

#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "crucible/common/files.h"
#include "crucible/common/quoted_text.h"

namespace crucible {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw NpyError(path + ": " + what);
}

// Header text for a one-line message: quoted, escaped, at most 40 bytes shown.
std::string shown(const std::string& text) { return quoted_for_message(text, 40); }

struct DtypeName {
  const char* descr;
  NpyDtype dtype;
};
constexpr DtypeName kDtypes[] = {{"<f4", NpyDtype::kFloat32},
                                 {"<f8", NpyDtype::kFloat64},
                                 {"<i4", NpyDtype::kInt32},
                                 {"<i8", NpyDtype::kInt64}};

NpyDtype parse_descr(const std::string& path, const std::string& descr) {
  for (const DtypeName& d : kDtypes) {
    if (descr == d.descr) return d.dtype;
  }
  if (!descr.empty() && descr[0] == '>') {
    fail(path,
         "dtype " + shown(descr) + " is big-endian; only little-endian .npy files are supported");
  }
  fail(path,
       "dtype " + shown(descr) + " is not supported (expected float32, float64, int32 or int64)");
}

// The text after `'key':` in the header dict, with leading spaces skipped.
size_t value_start(const std::string& path, const std::string& header, const std::string& key) {
  const std::string quoted = "'" + key + "'";
  size_t at = header.find(quoted);
  if (at == std::string::npos) fail(path, "malformed header: no '" + key + "' entry");
  at = header.find(':', at + quoted.size());
  if (at == std::string::npos) fail(path, "malformed header: no value for '" + key + "'");
  ++at;
  while (at < header.size() && header[at] == ' ') ++at;
  return at;
}

std::string parse_descr_value(const std::string& path, const std::string& header) {
  const size_t at = value_start(path, header, "descr");
  if (at >= header.size() || header[at] != '\'') {
    fail(path, "dtype is not a simple type (structured or object arrays are not supported)");
  }
  const size_t end = header.find('\'', at + 1);
  if (end == std::string::npos) fail(path, "malformed header: unterminated 'descr'");
  return header.substr(at + 1, end - at - 1);
}

bool parse_fortran_order(const std::string& path, const std::string& header) {
  const size_t at = value_start(path, header, "fortran_order");
  if (header.compare(at, 4, "True") == 0) return true;
  if (header.compare(at, 5, "False") == 0) return false;
  fail(path, "malformed header: 'fortran_order' is neither True nor False");
}

std::vector<int64_t> parse_shape(const std::string& path, const std::string& header) {
  const size_t open = value_start(path, header, "shape");
  const size_t close = header.find(')', open);
  if (open >= header.size() || header[open] != '(' || close == std::string::npos) {
    fail(path, "malformed header: 'shape' is not a tuple");
  }
  std::vector<int64_t> shape;
  std::string item;
  std::istringstream items(header.substr(open + 1, close - open - 1));
  while (std::getline(items, item, ',')) {
    const size_t first = item.find_first_not_of(' ');
    if (first == std::string::npos) continue;  // the trailing comma of (n,)
    const size_t last = item.find_last_not_of(" L");
    const std::string digits = item.substr(first, last - first + 1);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
        digits.size() > 18) {
      fail(path, "malformed header: shape entry " + shown(item) + " is not a size");
    }
    shape.push_back(std::stoll(digits));
  }
  return shape;
}

int64_t checked_bytes(const std::string& path, const std::vector<int64_t>& shape, size_t item) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim != 0 && count > std::numeric_limits<int64_t>::max() / 8 / dim) {
      fail(path, "shape is too large");
    }
    count *= dim;
  }
  return count * static_cast<int64_t>(item);
}

std::string header_text(const NpyArray& array) {
  std::string shape = "(";
  for (size_t i = 0; i < array.shape.size(); ++i) {
    shape += std::to_string(array.shape[i]);
    shape += (array.shape.size() == 1 || i + 1 < array.shape.size()) ? "," : "";
    if (i + 1 < array.shape.size()) shape += " ";
  }
  shape += ")";
  std::string text = std::string("{'descr': '") + npy_descr(array.dtype) +
                     "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so the data starts on a 64-byte boundary; end with '\n'.
  const size_t prefix = kMagicSize + 2 + 2;
  const size_t total = (prefix + text.size() + 1 + 63) / 64 * 64;
  text.append(total - prefix - text.size() - 1, ' ');
  text += '\n';
  return text;
}

// The bytes of an image, read front to back: a file, or memory.
struct FileSource {
  std::ifstream& in;
  int64_t size;

  bool read(char* out, int64_t count) { return static_cast<bool>(in.read(out, count)); }
};

struct MemorySource {
  const char* bytes;
  int64_t size;
  int64_t at = 0;

  bool read(char* out, int64_t count) {
    if (count > size - at) return false;
    if (count > 0) std::memcpy(out, bytes + at, static_cast<size_t>(count));
    at += count;
    return true;
  }
};

// Parses and checks the image `source` holds (see read_npy); `label` starts
// every error message. The data goes straight into the array.
template <typename Source>
NpyArray parse_npy_from(const std::string& label, Source& source) {
  const int64_t file_size = source.size;
  char preamble[kMagicSize + 2];
  if (!source.read(preamble, sizeof preamble) || std::memcmp(preamble, kMagic, kMagicSize) != 0) {
    fail(label, "not a .npy file (bad magic string)");
  }
  const int major = static_cast<unsigned char>(preamble[kMagicSize]);
  const int minor = static_cast<unsigned char>(preamble[kMagicSize + 1]);
  if ((major != 1 && major != 2) || minor != 0) {
    fail(label, "unsupported .npy format version " + std::to_string(major) + "." +
                    std::to_string(minor) + " (expected 1.0 or 2.0)");
  }
  const size_t length_bytes = major == 1 ? 2 : 4;
  unsigned char length_field[4] = {0, 0, 0, 0};
  if (!source.read(reinterpret_cast<char*>(length_field), static_cast<int64_t>(length_bytes))) {
    fail(label, "truncated header");
  }
  const int64_t header_size = length_field[0] | (length_field[1] << 8) |
                              (static_cast<int64_t>(length_field[2]) << 16) |
                              (static_cast<int64_t>(length_field[3]) << 24);
  const int64_t data_offset = static_cast<int64_t>(kMagicSize + 2 + length_bytes) + header_size;
  if (data_offset > file_size) fail(label, "truncated header");
  std::string header(static_cast<size_t>(header_size), '\0');
  source.read(header.data(), header_size);

  NpyArray array;
  array.dtype = parse_descr(label, parse_descr_value(label, header));
  if (parse_fortran_order(label, header)) {
    fail(label, "Fortran-order arrays are not supported (save with np.ascontiguousarray)");
  }
  array.shape = parse_shape(label, header);
  const int64_t bytes = checked_bytes(label, array.shape, npy_item_size(array.dtype));
  if (file_size - data_offset != bytes) {
    fail(label, "data size " + std::to_string(file_size - data_offset) +
                    " bytes does not match the header's shape (" + std::to_string(bytes) +
                    " bytes expected): truncated or corrupt file");
  }
  array.data.resize(static_cast<size_t>(bytes));
  if (bytes > 0 && !source.read(array.data.data(), bytes)) fail(label, "cannot read the data");
  return array;
}

}  // namespace

const char* npy_descr(NpyDtype dtype) {
  for (const DtypeName& d : kDtypes) {
    if (d.dtype == dtype) return d.descr;
  }
  return "?";
}

size_t npy_item_size(NpyDtype dtype) {
  return (dtype == NpyDtype::kFloat32 || dtype == NpyDtype::kInt32) ? 4 : 8;
}

int64_t NpyArray::num_elements() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  in.seekg(0, std::ios::end);
  FileSource source{in, static_cast<int64_t>(in.tellg())};
  in.seekg(0, std::ios::beg);
  return parse_npy_from(path, source);
}

NpyArray parse_npy(const std::string& label, const uint8_t* bytes, size_t size) {
  MemorySource source{reinterpret_cast<const char*>(bytes), static_cast<int64_t>(size)};
  return parse_npy_from(label, source);
}

void write_npy(const std::string& path, const NpyArray& array) {
  const int64_t expected = array.num_elements() * static_cast<int64_t>(npy_item_size(array.dtype));
  if (static_cast<int64_t>(array.data.size()) != expected) {
    fail(path, "internal error: data size does not match the shape");
  }
  const std::string header = header_text(array);
  std::string contents(kMagic, kMagicSize);
  contents += '\x01';
  contents += '\x00';
  contents += static_cast<char>(header.size() & 0xff);
  contents += static_cast<char>((header.size() >> 8) & 0xff);
  contents += header;
  contents.append(array.data.data(), array.data.size());
  try {
    write_file_atomically(path, contents);
  } catch (const std::runtime_error& e) {
    throw NpyError(e.what());
  }
}

}  // namespace crucible
