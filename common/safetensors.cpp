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

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error \
    "safetensors.cpp copies little-endian tensor bytes directly: a little-endian host is required"
#endif

namespace crucible {
namespace {

using Json = nlohmann::json;

constexpr uint64_t kMaxHeaderSize = 100'000'000;
constexpr size_t kMaxDims = 8;
constexpr size_t kMaxQuoted = 100;  // bytes of a name shown in an error
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

// `text` made safe for a one-line message: control bytes (and with
// `ascii_only` all non-ASCII bytes) as \xNN, cut short after `limit` bytes.
std::string printable(const std::string& text, size_t limit = kMaxQuoted, bool ascii_only = false) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == limit) return out + "...";
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f || (ascii_only && c >= 0x80)) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string in_quotes(const std::string& text) { return "'" + printable(text) + "'"; }

[[noreturn]] void fail(const std::string& label, const std::string& what) {
  throw SafetensorsError(label + ": " + what);
}

[[noreturn]] void fail_tensor(const std::string& label, const std::string& name,
                              const std::string& what) {
  fail(label, "tensor " + in_quotes(name) + ": " + what);
}

uint64_t read_u64_le(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

// Called with the key repeated in one object, the top-level key it is under
// ("" at the top level) and the object's depth (1 = the top level); throws.
using DuplicateKey =
    std::function<void(const std::string& key, const std::string& top_key, size_t depth)>;

// `text` as JSON, refusing a key repeated in any object (nlohmann would
// silently keep the last one) through `duplicate`. A syntax error is
// "<label>: <subject>not valid JSON: <where>".
Json parse_unique_keys(const std::string& label, const std::string& subject, const char* text,
                       size_t size, const DuplicateKey& duplicate) {
  std::vector<std::set<std::string>> open_objects;  // the keys seen in each open object
  std::string top_key;                              // the current top-level key
  const Json::parser_callback_t check_keys = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      open_objects.pop_back();
    } else if (event == Json::parse_event_t::key) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) {
        duplicate(key, open_objects.size() == 1 ? "" : top_key, open_objects.size());
      }
      if (open_objects.size() == 1) top_key = key;
    }
    return true;
  };
  try {
    return Json::parse(text, text + size, check_keys);
  } catch (const Json::exception& e) {
    const std::string what = e.what();  // "[json.exception.parse_error.101] parse error at ..."
    const size_t bracket = what.find("] ");
    fail(label,
         subject + "not valid JSON: " +
             printable(bracket == std::string::npos ? what : what.substr(bracket + 2), 300, true));
  }
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
