#include "crucible/common/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "crucible/common/files.h"
#include "safetensors_parsing.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error \
    "safetensors.cpp copies little-endian tensor bytes directly: a little-endian host is required"
#endif

namespace crucible {
namespace {

using namespace safetensors_detail;  // safetensors_parsing.h

constexpr uint64_t kMaxHeaderSize = 100'000'000;
constexpr size_t kMaxDims = 8;
const char kMetadataKey[] = "__metadata__";
const char* const kEntryKeys[] = {"dtype", "shape", "data_offsets"};

struct DtypeInfo {
  const char* name;
  SafetensorsDtype dtype;
  size_t size;
};
constexpr DtypeInfo kDtypes[] = {{"F32", SafetensorsDtype::kF32, 4},
                                 {"F16", SafetensorsDtype::kF16, 2},
                                 {"BF16", SafetensorsDtype::kBF16, 2}};

uint64_t read_u64_le(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

// The header text as JSON, no key repeated.
Json parse_json(const std::string& label, const uint8_t* text, size_t size) {
  return parse_unique_keys(label, "header is ", reinterpret_cast<const char*>(text), size,
                           [&](const std::string& key, const std::string& top_key, size_t depth) {
                             if (depth == 1)
                               fail(label, "header has a duplicate key " + in_quotes(key));
                             const std::string where = top_key == kMetadataKey
                                                           ? std::string(kMetadataKey)
                                                           : "tensor " + in_quotes(top_key);
                             fail(label, where + ": duplicate key " + in_quotes(key));
                           });
}

// A JSON non-negative integer as uint64; `what` names it in errors.
uint64_t non_negative_integer(const std::string& label, const std::string& name, const Json& value,
                              const std::string& what) {
  if (!value.is_number_integer()) fail_tensor(label, name, what + " is not an integer");
  if (!value.is_number_unsigned() && value.get<int64_t>() < 0) {
    fail_tensor(label, name, what + " is negative");
  }
  return value.get<uint64_t>();
}

const DtypeInfo& parse_dtype(const std::string& label, const std::string& name, const Json& value) {
  if (!value.is_string()) fail_tensor(label, name, "dtype is not a string");
  const std::string& text = value.get_ref<const std::string&>();
  for (const DtypeInfo& info : kDtypes) {
    if (text == info.name) return info;
  }
  fail_tensor(label, name, "dtype " + printable(text) + " is not accepted (F32, F16, BF16)");
}

// The shape, whose element count times `item_size` is checked to fit in int64.
std::vector<int64_t> parse_shape(const std::string& label, const std::string& name,
                                 const Json& value, size_t item_size) {
  if (!value.is_array()) fail_tensor(label, name, "shape is not an array");
  if (value.size() > kMaxDims) {
    fail_tensor(label, name,
                "shape has " + std::to_string(value.size()) + " dimensions (at most 8 allowed)");
  }
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  std::vector<int64_t> shape;
  uint64_t bytes = item_size;
  for (const Json& item : value) {
    const uint64_t dim = non_negative_integer(label, name, item, "shape entry");
    if (dim != 0 && bytes > kMax / dim) {
      fail_tensor(label, name, "shape is too large (its byte size overflows 64-bit integers)");
    }
    bytes *= dim;
    shape.push_back(static_cast<int64_t>(dim));
  }
  return shape;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += (i == 0 ? "" : ", ") + std::to_string(shape[i]);
  }
  return text + "]";
}

std::string offsets_text(const SafetensorsEntry& entry) {
  return "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
}

SafetensorsEntry parse_entry(const std::string& label, const std::string& name, const Json& value,
                             uint64_t data_size) {
  if (!value.is_object()) fail_tensor(label, name, "entry is not a JSON object");
  for (const auto& item : value.items()) {
    const auto known = std::find(std::begin(kEntryKeys), std::end(kEntryKeys), item.key());
    if (known == std::end(kEntryKeys)) {
      fail_tensor(label, name,
                  "unexpected key " + in_quotes(item.key()) + " (only dtype, shape, data_offsets)");
    }
  }
  for (const char* key : kEntryKeys) {
    if (!value.contains(key)) fail_tensor(label, name, std::string("missing key '") + key + "'");
  }
  SafetensorsEntry entry;
  const DtypeInfo& dtype = parse_dtype(label, name, value["dtype"]);
  entry.dtype = dtype.dtype;
  entry.shape = parse_shape(label, name, value["shape"], dtype.size);

  const Json& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    fail_tensor(label, name, "data_offsets is not an array of two integers");
  }
  entry.begin = non_negative_integer(label, name, offsets[0], "data_offsets begin");
  entry.end = non_negative_integer(label, name, offsets[1], "data_offsets end");
  if (entry.begin > entry.end) {
    fail_tensor(label, name, "data_offsets " + offsets_text(entry) + " has begin after end");
  }
  const uint64_t bytes = static_cast<uint64_t>(entry.element_count()) * dtype.size;
  if (entry.end - entry.begin != bytes) {
    fail_tensor(label, name,
                "shape " + shape_text(entry.shape) + " of " + dtype.name + " needs " +
                    std::to_string(bytes) + " bytes but data_offsets " + offsets_text(entry) +
                    " span " + std::to_string(entry.end - entry.begin));
  }
  if (entry.end > data_size) {
    fail_tensor(label, name,
                "data_offsets " + offsets_text(entry) + " end past the " +
                    std::to_string(data_size) + "-byte data buffer (offset out of range)");
  }
  return entry;
}

std::map<std::string, std::string> parse_metadata(const std::string& label, const Json& value) {
  if (!value.is_object()) fail(label, std::string(kMetadataKey) + " is not a JSON object");
  std::map<std::string, std::string> metadata;
  for (const auto& item : value.items()) {
    if (!item.value().is_string()) {
      fail(label,
           std::string(kMetadataKey) + ": value of " + in_quotes(item.key()) + " is not a string");
    }
    metadata[item.key()] = item.value().get<std::string>();
  }
  return metadata;
}

// Refuses two tensors whose byte ranges intersect; empty tensors never do.
void check_no_overlap(const std::string& label,
                      const std::map<std::string, SafetensorsEntry>& tensors) {
  std::vector<std::pair<const std::string*, const SafetensorsEntry*>> ranges;
  for (const auto& [name, entry] : tensors) {
    if (entry.end > entry.begin) ranges.emplace_back(&name, &entry);
  }
  std::sort(ranges.begin(), ranges.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.second->begin, a.second->end) <
           std::make_pair(b.second->begin, b.second->end);
  });
  for (size_t i = 1; i < ranges.size(); ++i) {
    const auto& [previous_name, previous] = ranges[i - 1];
    const auto& [name, entry] = ranges[i];
    if (entry->begin < previous->end) {
      fail_tensor(label, *name,
                  "data_offsets " + offsets_text(*entry) + " overlap tensor " +
                      in_quotes(*previous_name) + " at " + offsets_text(*previous));
    }
  }
}

// The float32 value of an IEEE half-precision number, exactly.
float f16_to_f32(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  uint32_t bits = 0;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // infinity, or NaN keeping its payload
  } else if (exponent != 0) {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else {
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal
    return sign != 0 ? -magnitude : magnitude;
  }
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// bfloat16 is the top half of a float32.
float bf16_to_f32(uint16_t half) {
  const uint32_t bits = static_cast<uint32_t>(half) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace

const char* dtype_name(SafetensorsDtype dtype) {
  for (const DtypeInfo& info : kDtypes) {
    if (info.dtype == dtype) return info.name;
  }
  return "?";
}

size_t dtype_size(SafetensorsDtype dtype) { return dtype == SafetensorsDtype::kF32 ? 4 : 2; }

int64_t SafetensorsEntry::element_count() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

SafetensorsHeader parse_safetensors(const std::string& label, const uint8_t* bytes, size_t size) {
  if (size < 8) {
    fail(label,
         "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length field");
  }
  const uint64_t header_size = read_u64_le(bytes);
  if (header_size == 0) fail(label, "header length is 0");
  if (header_size > kMaxHeaderSize) {
    fail(label,
         "header length " + std::to_string(header_size) + " is over the 100000000-byte limit");
  }
  if (header_size > size - 8) {
    fail(label, "header length " + std::to_string(header_size) + " is past the end of the " +
                    std::to_string(size) + "-byte file (truncated file?)");
  }
  const Json document = parse_json(label, bytes + 8, header_size);
  if (!document.is_object()) fail(label, "header is not a JSON object");

  SafetensorsHeader header;
  header.data_offset = 8 + header_size;
  header.data_size = size - header.data_offset;
  for (const auto& item : document.items()) {
    if (item.key() == kMetadataKey) {
      header.metadata = parse_metadata(label, item.value());
    } else {
      header.tensors.emplace(item.key(),
                             parse_entry(label, item.key(), item.value(), header.data_size));
    }
  }
  check_no_overlap(label, header.tensors);
  return header;
}

SafetensorsView::SafetensorsView(std::string label, const uint8_t* bytes, size_t size)
    : label_(std::move(label)), header_(parse_safetensors(label_, bytes, size)), bytes_(bytes) {}

bool SafetensorsView::contains(const std::string& name) const {
  return header_.tensors.count(name) != 0;
}

const SafetensorsEntry& SafetensorsView::entry(const std::string& name) const {
  const auto found = header_.tensors.find(name);
  if (found == header_.tensors.end()) fail_tensor(label_, name, "no such tensor in the file");
  return found->second;
}

std::vector<float> SafetensorsView::read_float32(const std::string& name) const {
  std::vector<float> values(static_cast<size_t>(entry(name).element_count()));
  read_float32(name, values.data());
  return values;
}

void SafetensorsView::read_float32(const std::string& name, float* out) const {
  const SafetensorsEntry& tensor = entry(name);
  const uint8_t* source = bytes_ + header_.data_offset + tensor.begin;
  const auto count = static_cast<size_t>(tensor.element_count());
  if (tensor.dtype == SafetensorsDtype::kF32) {
    if (count > 0) std::memcpy(out, source, count * sizeof(float));
    return;
  }
  const bool is_f16 = tensor.dtype == SafetensorsDtype::kF16;
  for (size_t i = 0; i < count; ++i) {
    const auto half = static_cast<uint16_t>(source[2 * i] | (source[2 * i + 1] << 8));
    out[i] = is_f16 ? f16_to_f32(half) : bf16_to_f32(half);
  }
}

SafetensorsFile SafetensorsFile::open(const std::string& path, const std::string& label) {
  const std::string& name = label.empty() ? path : label;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(name, std::string("cannot open file: ") + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    fail(name, std::string("cannot stat file: ") + std::strerror(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    fail(name, "not a regular file");
  }
  const auto size = static_cast<size_t>(info.st_size);
  const uint8_t* mapping = nullptr;
  if (size > 0) {
    void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapped == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      fail(name, std::string("cannot map file: ") + std::strerror(error));
    }
    mapping = static_cast<const uint8_t*>(mapped);
  }
  ::close(fd);
  try {
    return SafetensorsFile(path, SafetensorsView(name, mapping, size), mapping, size);
  } catch (...) {
    if (mapping != nullptr) ::munmap(const_cast<uint8_t*>(mapping), size);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() { release(); }

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      view_(std::move(other.view_)),
      mapping_(std::exchange(other.mapping_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    view_ = std::move(other.view_);
    mapping_ = std::exchange(other.mapping_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void SafetensorsFile::release() {
  if (mapping_ != nullptr) ::munmap(const_cast<uint8_t*>(mapping_), size_);
  mapping_ = nullptr;
  size_ = 0;
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsTensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::map<std::string, const SafetensorsTensorData*> by_name;
  for (const SafetensorsTensorData& tensor : tensors) {
    if (tensor.name == kMetadataKey) {
      throw std::runtime_error(path + ": a tensor cannot be called " + kMetadataKey);
    }
    if (!by_name.emplace(tensor.name, &tensor).second) {
      throw std::runtime_error(path + ": tensor " + in_quotes(tensor.name) + " appears twice");
    }
    uint64_t count = 1;
    bool overflow = false;
    for (int64_t dim : tensor.shape) {
      if (dim < 0) {
        throw std::runtime_error(path + ": tensor " + in_quotes(tensor.name) +
                                 ": negative dimension in shape " + shape_text(tensor.shape));
      }
      overflow |= __builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count);
    }
    if (overflow || count != tensor.values.size()) {
      throw std::runtime_error(path + ": tensor " + in_quotes(tensor.name) + ": " +
                               std::to_string(tensor.values.size()) + " values do not fill shape " +
                               shape_text(tensor.shape));
    }
  }

  Json header = Json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::string data;
  for (const auto& [name, tensor] : by_name) {
    const uint64_t begin = data.size();
    data.append(reinterpret_cast<const char*>(tensor->values.data()),
                tensor->values.size() * sizeof(float));
    header[name] = {{"dtype", "F32"},
                    {"shape", tensor->shape},
                    {"data_offsets", Json::array({begin, static_cast<uint64_t>(data.size())})}};
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception& e) {
    throw std::runtime_error(path + ": cannot write the header: " + printable(e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string contents(8, '\0');
  for (int i = 0; i < 8; ++i) contents[i] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
  contents += text;
  contents += data;
  write_file_atomically(path, contents);
}

}  // namespace crucible
