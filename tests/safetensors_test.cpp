// safetensors reading and writing: exact values, every malformed header the
// reader must refuse, and a seeded random-mutation run over a valid image.
#include "crucible/common/safetensors.h"
#include "crucible/common/safetensors_shards.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "crucible/common/files.h"

namespace crucible {
namespace {

const char kLabel[] = "/models/m.safetensors";

// A safetensors image: the 8-byte little-endian length of `header`, `header`, `data`.
std::string image(const std::string& header, const std::string& data = "",
                  uint64_t header_length = std::numeric_limits<uint64_t>::max()) {
  if (header_length == std::numeric_limits<uint64_t>::max()) header_length = header.size();
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header_length >> (8 * i)) & 0xff);
  return bytes + header + data;
}

SafetensorsHeader parse(const std::string& bytes) {
  return parse_safetensors(kLabel, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// The message parse() throws for `bytes`, checked to be one line starting with the label.
std::string error_of(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const SafetensorsError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(std::string(kLabel) + ": ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  }
  ADD_FAILURE() << "no error for a " << bytes.size() << "-byte image";
  return "";
}

std::string u16_bytes(const std::vector<uint16_t>& values) {
  std::string bytes;
  for (uint16_t v : values) {
    bytes += static_cast<char>(v & 0xff);
    bytes += static_cast<char>(v >> 8);
  }
  return bytes;
}

std::string f32_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

class SafetensorsTest : public ::testing::Test {
 protected:
  std::string write_image(const std::string& name, const std::string& bytes) {
    const std::string path = temp_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  TemporaryFolder temp_{"safetensors_test"};
};

TEST_F(SafetensorsTest, WriteThenOpenRoundTrips) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> weight = {1.5f, -0.0f, inf, 1e-30f, -3.25f, 65504.0f};
  const std::string path = temp_.path() + "/model.safetensors";
  write_safetensors(path,
                    {{"z.weight", {2, 3}, weight}, {"a.bias", {}, {42.0f}}, {"empty", {0, 4}, {}}},
                    {{"format", "pt"}, {"horizon", "24"}});

  const std::string raw = read_file(path);
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | uint8_t(raw[i]);
  EXPECT_EQ(header_length % 8, 0u);
  EXPECT_EQ(raw.size(), 8 + header_length + 7 * sizeof(float));

  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.path(), path);
  const SafetensorsHeader& header = file.header();
  EXPECT_EQ(header.data_offset, 8 + header_length);
  EXPECT_EQ(header.data_size, 7 * sizeof(float));
  EXPECT_EQ(header.metadata,
            (std::map<std::string, std::string>{{"format", "pt"}, {"horizon", "24"}}));
  ASSERT_EQ(header.tensors.size(), 3u);

  // Name order, contiguous: a.bias [0, 4), empty [4, 4), z.weight [4, 28).
  const SafetensorsEntry& bias = header.tensors.at("a.bias");
  EXPECT_EQ(bias.dtype, SafetensorsDtype::kF32);
  EXPECT_TRUE(bias.shape.empty());
  EXPECT_EQ(bias.element_count(), 1);
  EXPECT_EQ(bias.begin, 0u);
  EXPECT_EQ(bias.end, 4u);
  const SafetensorsEntry& empty = header.tensors.at("empty");
  EXPECT_EQ(empty.shape, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(empty.element_count(), 0);
  EXPECT_EQ(empty.begin, 4u);
  EXPECT_EQ(empty.end, 4u);
  const SafetensorsEntry& z = header.tensors.at("z.weight");
  EXPECT_EQ(z.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(z.begin, 4u);
  EXPECT_EQ(z.end, 28u);

  EXPECT_EQ(file.read_float32("a.bias"), std::vector<float>{42.0f});
  EXPECT_TRUE(file.read_float32("empty").empty());
  const std::vector<float> back = file.read_float32("z.weight");
  ASSERT_EQ(back.size(), weight.size());
  EXPECT_EQ(std::memcmp(back.data(), weight.data(), sizeof(float) * weight.size()), 0);
  EXPECT_TRUE(std::signbit(back[1]));

  float out[6] = {};
  file.read_float32("z.weight", out);
  EXPECT_EQ(std::memcmp(out, weight.data(), sizeof out), 0);
}

TEST_F(SafetensorsTest, WriterRefusesBadTensors) {
  const std::string path = temp_.path() + "/bad.safetensors";
  const auto message = [&](const std::vector<SafetensorsTensorData>& tensors) -> std::string {
    try {
      write_safetensors(path, tensors);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(message({{"w", {2}, {1, 2, 3}}}),
            path + ": tensor 'w': 3 values do not fill shape [2]");
  EXPECT_EQ(message({{"w", {-1}, {}}}), path + ": tensor 'w': negative dimension in shape [-1]");
  EXPECT_EQ(message({{"w", {1}, {1}}, {"w", {1}, {2}}}), path + ": tensor 'w' appears twice");
  EXPECT_EQ(message({{"__metadata__", {}, {1}}}),
            path + ": a tensor cannot be called __metadata__");
  EXPECT_EQ(message({{"w", {1LL << 62, 1LL << 62}, {}}}),
            path +
                ": tensor 'w': 0 values do not fill shape [4611686018427387904, "
                "4611686018427387904]");
}

TEST_F(SafetensorsTest, ReadsF16AndBF16Exactly) {
  const float inf = std::numeric_limits<float>::infinity();
  // F16 at [0, 20): 1, -2, inf, smallest subnormal, -inf, max, -0, smallest
  // normal, largest subnormal, NaN. BF16 at [20, 30): 1, 3.140625, -inf,
  // smallest subnormal, NaN. Offsets start 8 + N, not 4-aligned.
  const std::string header = R"({"h":{"dtype":"F16","shape":[2,5],"data_offsets":[0,20]},)"
                             R"("b":{"dtype":"BF16","shape":[5],"data_offsets":[20,30]}})";
  const std::string data =
      u16_bytes({0x3C00, 0xC000, 0x7C00, 0x0001, 0xFC00, 0x7BFF, 0x8000, 0x0400, 0x03FF, 0x7E00}) +
      u16_bytes({0x3F80, 0x4049, 0xFF80, 0x0001, 0x7FC0});
  const SafetensorsFile file =
      SafetensorsFile::open(write_image("half.safetensors", image(header, data)));
  EXPECT_EQ(file.header().tensors.at("h").dtype, SafetensorsDtype::kF16);
  EXPECT_EQ(file.header().tensors.at("b").dtype, SafetensorsDtype::kBF16);

  const std::vector<float> h = file.read_float32("h");
  ASSERT_EQ(h.size(), 10u);
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.0f);
  EXPECT_EQ(h[2], inf);
  EXPECT_EQ(h[3], 5.960464477539063e-08f);
  EXPECT_EQ(h[4], -inf);
  EXPECT_EQ(h[5], 65504.0f);
  EXPECT_EQ(h[6], 0.0f);
  EXPECT_TRUE(std::signbit(h[6]));
  EXPECT_EQ(h[7], 6.103515625e-05f);
  EXPECT_EQ(h[8], 6.097555160522461e-05f);
  EXPECT_TRUE(std::isnan(h[9]));

  const std::vector<float> b = file.read_float32("b");
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], 3.140625f);
  EXPECT_EQ(b[2], -inf);
  EXPECT_EQ(b[3], 9.183549615799121e-41f);
  EXPECT_TRUE(std::isnan(b[4]));
}

TEST_F(SafetensorsTest, F16MatchesTheDefinitionForEveryBitPattern) {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  const std::string header = R"({"all":{"dtype":"F16","shape":[65536],"data_offsets":[0,131072]}})";
  const SafetensorsFile file =
      SafetensorsFile::open(write_image("all.safetensors", image(header, u16_bytes(all))));
  const std::vector<float> values = file.read_float32("all");
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const int exponent = (bits >> 10) & 0x1f;
    const int mantissa = bits & 0x3ff;
    const float sign = (bits & 0x8000) ? -1.0f : 1.0f;
    if (exponent == 31) {
      EXPECT_EQ(std::isnan(values[bits]), mantissa != 0) << bits;
      if (mantissa == 0) {
        EXPECT_EQ(values[bits], sign * std::numeric_limits<float>::infinity());
      }
    } else {
      const double magnitude =
          exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
      ASSERT_EQ(values[bits], static_cast<float>(sign * magnitude)) << bits;
      EXPECT_EQ(std::signbit(values[bits]), sign < 0) << bits;
    }
  }
}

TEST_F(SafetensorsTest, AcceptsPaddingGapsEmptyTensorsAndNoTensors) {
  const std::string header =
      R"({"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
      R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
      R"("c":{"data_offsets":[12,16],"shape":[],"dtype":"F32"}}   )";
  const SafetensorsHeader parsed = parse(image(header, f32_bytes({0, 1, 0, 3})));
  EXPECT_EQ(parsed.tensors.size(), 3u);
  EXPECT_EQ(parsed.metadata.at("k"), "v");
  EXPECT_EQ(parsed.data_offset, 8 + header.size());
  EXPECT_EQ(parsed.data_size, 16u);
  EXPECT_TRUE(parse(image("{}")).tensors.empty());
}

TEST_F(SafetensorsTest, RefusesShortFilesAndBadHeaderLengths) {
  EXPECT_NE(error_of(std::string(5, '\0')).find("5 bytes, shorter than the 8-byte header length"),
            std::string::npos);
  EXPECT_NE(error_of(image("", "{}")).find("header length is 0"), std::string::npos);
  EXPECT_NE(error_of(image("{}", "", 100'000'001)).find("header length 100000001 is over the "),
            std::string::npos);
  EXPECT_NE(
      error_of(image("{}", "", 3)).find("header length 3 is past the end of the 10-byte file"),
      std::string::npos);
  EXPECT_NE(error_of(image("{}", "", ~0ull - 1)).find("is over the 100000000-byte limit"),
            std::string::npos);
}

// A header the parser must refuse and what its message must say.
struct Malformed {
  const char* name;
  std::string header;
  std::string data;
  std::vector<std::string> fragments;
};

class SafetensorsMalformedTest : public ::testing::TestWithParam<Malformed> {};

TEST_P(SafetensorsMalformedTest, IsRefusedWithItsProblemNamed) {
  const std::string message = error_of(image(GetParam().header, GetParam().data));
  for (const std::string& fragment : GetParam().fragments) {
    EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' in " << message;
  }
}

// {"w": <entry>} with 8 bytes of data.
Malformed with_entry(const char* name, const std::string& entry,
                     std::vector<std::string> fragments) {
  return {name, R"({"w":)" + entry + "}", std::string(8, '\0'), std::move(fragments)};
}

const std::string kTensorW = "tensor 'w': ";

INSTANTIATE_TEST_SUITE_P(
    Safetensors, SafetensorsMalformedTest,
    ::testing::Values(
        Malformed{"NotJson", R"({"w": {)", "", {"header is not valid JSON", "parse error"}},
        Malformed{"TrailingGarbage", "{} x", "", {"header is not valid JSON"}},
        Malformed{"NotAnObject", "[1, 2]", "", {": header is not a JSON object"}},
        Malformed{"InvalidUtf8", "{\"\xff\":1}", "", {"header is not valid JSON"}},
        Malformed{"DuplicateTensor",
                  R"({"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                  R"("w":{"dtype":"F32","shape":[],"data_offsets":[4,8]}})",
                  std::string(8, '\0'),
                  {"header has a duplicate key 'w'"}},
        Malformed{"DuplicateMetadataObject",
                  R"({"__metadata__":{},"__metadata__":{"a":"b"}})",
                  "",
                  {"header has a duplicate key '__metadata__'"}},
        Malformed{"DuplicateMetadataKey",
                  R"({"__metadata__":{"a":"1","a":"2"}})",
                  "",
                  {"__metadata__: duplicate key 'a'"}},
        with_entry("DuplicateEntryKey",
                   R"({"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]})",
                   {kTensorW + "duplicate key 'dtype'"}),
        with_entry("EntryNotObject", "[1]", {kTensorW + "entry is not a JSON object"}),
        with_entry("MissingKey", R"({"dtype":"F32","data_offsets":[0,8]})",
                   {kTensorW + "missing key 'shape'"}),
        with_entry("ExtraKey", R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1})",
                   {kTensorW + "unexpected key 'extra'"}),
        Malformed{"MetadataNotObject",
                  R"({"__metadata__":["a"]})",
                  "",
                  {"__metadata__ is not a JSON object"}},
        Malformed{"MetadataValueNotString",
                  R"({"__metadata__":{"epochs":3}})",
                  "",
                  {"__metadata__: value of 'epochs' is not a string"}},
        with_entry("UnknownDtype", R"({"dtype":"I64","shape":[1],"data_offsets":[0,8]})",
                   {kTensorW + "dtype I64 is not accepted (F32, F16, BF16)"}),
        with_entry("LowercaseDtype", R"({"dtype":"f32","shape":[2],"data_offsets":[0,8]})",
                   {kTensorW + "dtype f32 is not accepted"}),
        with_entry("DtypeNotString", R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})",
                   {kTensorW + "dtype is not a string"}),
        with_entry("ShapeNotArray", R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})",
                   {kTensorW + "shape is not an array"}),
        with_entry("ShapeNotInteger", R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})",
                   {kTensorW + "shape entry is not an integer"}),
        with_entry("ShapeString", R"({"dtype":"F32","shape":["2"],"data_offsets":[0,8]})",
                   {kTensorW + "shape entry is not an integer"}),
        with_entry("ShapeNegative", R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})",
                   {kTensorW + "shape entry is negative"}),
        with_entry("ShapeTooManyDims",
                   R"({"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]})",
                   {kTensorW + "shape has 9 dimensions (at most 8 allowed)"}),
        with_entry("ShapeOverflow",
                   R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]})",
                   {kTensorW + "shape is too large"}),
        with_entry("ShapeBeyondUint64",
                   R"({"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]})",
                   {kTensorW + "shape entry is not an integer"}),
        with_entry("OffsetsNotArray", R"({"dtype":"F32","shape":[2],"data_offsets":8})",
                   {kTensorW + "data_offsets is not an array of two integers"}),
        with_entry("OffsetsThree", R"({"dtype":"F32","shape":[2],"data_offsets":[0,4,8]})",
                   {kTensorW + "data_offsets is not an array of two integers"}),
        with_entry("OffsetsNotInteger", R"({"dtype":"F32","shape":[2],"data_offsets":[0,8.5]})",
                   {kTensorW + "data_offsets end is not an integer"}),
        with_entry("OffsetsNegative", R"({"dtype":"F32","shape":[0],"data_offsets":[-4,-4]})",
                   {kTensorW + "data_offsets begin is negative"}),
        with_entry("OffsetsReversed", R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})",
                   {kTensorW + "data_offsets [8, 0] has begin after end"}),
        with_entry("SizeMismatch", R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})",
                   {kTensorW + "shape [3] of F32 needs 12 bytes but data_offsets [0, 8] span 8"}),
        with_entry("SizeMismatchHalf", R"({"dtype":"BF16","shape":[2,2],"data_offsets":[0,4]})",
                   {kTensorW + "shape [2, 2] of BF16 needs 8 bytes"}),
        with_entry("OffsetOutOfRange", R"({"dtype":"F32","shape":[2],"data_offsets":[4,12]})",
                   {kTensorW + "data_offsets [4, 12] end past the 8-byte data buffer"}),
        Malformed{"Overlap",
                  R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F16","shape":[2],"data_offsets":[6,10]}})",
                  std::string(12, '\0'),
                  {"tensor 'b': data_offsets [6, 10] overlap tensor 'a' at [0, 8]"}},
        Malformed{"SameRange",
                  R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                  std::string(4, '\0'),
                  {"overlap tensor 'a' at [0, 4]"}},
        Malformed{"ControlCharactersInName",
                  "{\"bad\\nname\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,0]}}",
                  "",
                  {"tensor 'bad\\x0aname': dtype U8 is not accepted"}}),
    [](const ::testing::TestParamInfo<Malformed>& info) { return std::string(info.param.name); });

TEST_F(SafetensorsTest, OpenRefusesATruncatedFile) {
  // The header places 16 bytes of data, the file holds 10 of them.
  const std::string header = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  const std::string path = write_image("cut.safetensors", image(header, std::string(10, '\0')));
  try {
    SafetensorsFile::open(path);
    FAIL() << "a truncated file was opened";
  } catch (const SafetensorsError& e) {
    EXPECT_EQ(std::string(e.what()),
              path +
                  ": tensor 'w': data_offsets [0, 16] end past the 10-byte data buffer "
                  "(offset out of range)");
  }
}

TEST_F(SafetensorsTest, OpenNamesMissingFilesFoldersAndTensors) {
  const std::string missing = temp_.path() + "/missing.safetensors";
  try {
    SafetensorsFile::open(missing);
    ADD_FAILURE() << "a missing file was opened";
  } catch (const SafetensorsError& e) {
    EXPECT_EQ(std::string(e.what()), missing + ": cannot open file: No such file or directory");
  }
  try {
    SafetensorsFile::open(temp_.path());
    ADD_FAILURE() << "a folder was opened";
  } catch (const SafetensorsError& e) {
    EXPECT_EQ(std::string(e.what()), temp_.path() + ": not a regular file");
  }
  const std::string empty = write_image("empty.safetensors", "");
  EXPECT_THROW(SafetensorsFile::open(empty), SafetensorsError);

  const std::string path = write_image(
      "one.safetensors",
      image(R"({"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})", f32_bytes({7})));
  SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_TRUE(file.contains("w"));
  EXPECT_FALSE(file.contains("v"));
  try {
    file.read_float32("v");
    ADD_FAILURE() << "an absent tensor was read";
  } catch (const SafetensorsError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": tensor 'v': no such tensor in the file");
  }
  SafetensorsFile moved = std::move(file);
  EXPECT_EQ(moved.read_float32("w"), std::vector<float>{7.0f});
  file = SafetensorsFile::open(path);
  moved = std::move(file);
  EXPECT_EQ(moved.read_float32("w"), std::vector<float>{7.0f});
}

// The message parse_safetensors_index throws for `text`, one line starting with the label.
std::string index_error_of(const std::string& text) {
  try {
    parse_safetensors_index("index.json", text);
  } catch (const SafetensorsError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("index.json: ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  }
  ADD_FAILURE() << "no error for " << text;
  return "";
}

TEST(SafetensorsIndex, ReadsTheWeightMap) {
  const auto map = parse_safetensors_index(
      "index.json",
      R"({"metadata": {"total_size": 12}, "weight_map": {"b": "model-00002-of-00002.safetensors",)"
      R"( "a": "model-00001-of-00002.safetensors"}})");
  EXPECT_EQ(map, (std::map<std::string, std::string>{{"a", "model-00001-of-00002.safetensors"},
                                                     {"b", "model-00002-of-00002.safetensors"}}));
  EXPECT_TRUE(
      parse_safetensors_index("index.json", R"({"metadata": {}, "weight_map": {}})").empty());
}

TEST(SafetensorsIndex, RefusesWhatIsNotAPlainIndex) {
  const auto with_shard = [](const std::string& shard) {
    return R"({"metadata": {}, "weight_map": {"w": ")" + shard + R"("}})";
  };
  EXPECT_EQ(index_error_of(R"({"metadata": {}, "weight_map": {"w": "a.safetensors",)"
                           R"( "w": "b.safetensors"}})"),
            "index.json: weight_map names tensor 'w' twice");
  EXPECT_EQ(index_error_of(R"({"metadata": {}, "metadata": {}, "weight_map": {}})"),
            "index.json: duplicate key 'metadata'");
  EXPECT_EQ(index_error_of(R"({"metadata": {"x": 1, "x": 2}, "weight_map": {}})"),
            "index.json: metadata: duplicate key 'x'");
  EXPECT_EQ(index_error_of(R"({"weight_map": {}})"),
            "index.json: metadata is missing (transformers' loader requires it)");
  EXPECT_EQ(index_error_of(R"({"metadata": [], "weight_map": {}})"),
            "index.json: metadata is not a JSON object");
  EXPECT_EQ(index_error_of("nul").rfind("index.json: not valid JSON: ", 0), 0u);
  for (const std::string& bad :
       {std::string("a/b.safetensors"), std::string("..\\b.safetensors"), std::string(".."),
        std::string(".hidden.safetensors"), std::string("b.bin"), std::string(".safetensors"),
        std::string("a\\u000ab.safetensors"), std::string("")}) {
    const std::string message = index_error_of(with_shard(bad));
    EXPECT_NE(message.find("' is not a *.safetensors file name inside the folder"),
              std::string::npos)
        << message;
  }
  std::string many = R"({"metadata": {}, "weight_map": {)";
  for (size_t i = 0; i <= kMaxSafetensorsShards; ++i) {
    many += (i ? "," : "") + ("\"t" + std::to_string(i) + "\": \"s" + std::to_string(i)) +
            ".safetensors\"";
  }
  EXPECT_EQ(index_error_of(many + "}}"), "index.json: names over 1024 shard files");
}

TEST_F(SafetensorsTest, ShardsReadAsOneSetOfTensors) {
  const std::string folder = temp_.path() + "/model";
  std::filesystem::create_directories(folder);
  write_safetensors(folder + "/model-00001-of-00002.safetensors",
                    {{"a", {2}, {1.0f, 2.0f}}, {"b", {}, {3.0f}}});
  write_safetensors(folder + "/model-00002-of-00002.safetensors", {{"c", {1, 2}, {4.0f, 5.0f}}});
  write_file_atomically(folder + "/model.safetensors.index.json",
                        R"({"metadata": {}, "weight_map": {)"
                        R"("a": "model-00001-of-00002.safetensors",)"
                        R"("b": "model-00001-of-00002.safetensors",)"
                        R"("c": "model-00002-of-00002.safetensors"}})");
  SafetensorsShards shards = SafetensorsShards::open_folder(folder);
  EXPECT_TRUE(shards.sharded());
  EXPECT_EQ(shards.label(), "model.safetensors.index.json");
  ASSERT_EQ(shards.file_count(), 2u);
  EXPECT_EQ(shards.file(1).label(), "model-00002-of-00002.safetensors");
  EXPECT_EQ(shards.tensors().size(), 3u);
  EXPECT_EQ(shards.data_size(), 5 * sizeof(float));
  EXPECT_EQ(shards.file_of("b"), "model-00001-of-00002.safetensors");
  EXPECT_EQ(shards.file_of("c"), "model-00002-of-00002.safetensors");
  EXPECT_EQ(shards.entry("c").shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(shards.read_float32("a"), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(shards.read_float32("c"), (std::vector<float>{4.0f, 5.0f}));
  EXPECT_FALSE(shards.contains("d"));
  try {
    shards.read_float32("d");
    ADD_FAILURE() << "an absent tensor was read";
  } catch (const SafetensorsError& e) {
    EXPECT_EQ(std::string(e.what()),
              "model.safetensors.index.json: tensor 'd': no such tensor in the shards");
  }
  const SafetensorsShards moved(std::move(shards));
  EXPECT_EQ(moved.read_float32("b"), std::vector<float>{3.0f});

  // The same tensors as one file: read alike, labelled by the file's name.
  const std::string single = temp_.path() + "/single";
  std::filesystem::create_directories(single);
  write_safetensors(single + "/model.safetensors",
                    {{"a", {2}, {1.0f, 2.0f}}, {"b", {}, {3.0f}}, {"c", {1, 2}, {4.0f, 5.0f}}});
  const SafetensorsShards one = SafetensorsShards::open_folder(single);
  EXPECT_FALSE(one.sharded());
  EXPECT_EQ(one.label(), "model.safetensors");
  EXPECT_EQ(one.file_of("c"), "model.safetensors");
  for (const char* name : {"a", "b", "c"}) {
    EXPECT_EQ(one.read_float32(name), moved.read_float32(name)) << name;
  }
  std::filesystem::remove(single + "/model.safetensors");
  try {
    SafetensorsShards::open_folder(single);
    ADD_FAILURE() << "a folder without weights was opened";
  } catch (const SafetensorsError& e) {
    EXPECT_EQ(std::string(e.what()),
              "model.safetensors: cannot open file: No such file or directory");
  }
}

TEST_F(SafetensorsTest, RandomMutationsParseOrThrowSafetensorsError) {
  const std::string valid = image(
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
      R"("b":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},)"
      R"("c":{"dtype":"BF16","shape":[],"data_offsets":[24,26]}}  )",
      std::string(26, '\x3c'));
  ASSERT_EQ(parse(valid).tensors.size(), 3u);
  const std::string json_bytes = "{}[]\":,-.0123456789eE \t\n\\uFBI_";

  std::mt19937 random(20240611);
  const auto below = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(random);
  };
  const auto random_byte = [&]() {
    return below(2) ? json_bytes[below(json_bytes.size())] : static_cast<char>(below(256));
  };
  int accepted = 0, refused = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int trial = 0; trial < 10'000; ++trial) {
    std::string bytes = valid;
    const size_t edits = 1 + below(3);
    for (size_t e = 0; e < edits && !bytes.empty(); ++e) {
      switch (below(5)) {
        case 0:
          bytes[below(bytes.size())] = random_byte();
          break;
        case 1:
          bytes.resize(below(bytes.size() + 1));
          break;
        case 2:
          bytes.insert(below(bytes.size() + 1), 1 + below(4), random_byte());
          break;
        case 3:
          bytes.erase(below(bytes.size()), 1 + below(4));
          break;
        default: {  // a header length near the true one, or anything at all
          const uint64_t length =
              below(2) ? bytes.size() - 16 + below(32) : (uint64_t{random()} << 32 | random());
          for (int i = 0; i < 8 && i < static_cast<int>(bytes.size()); ++i) {
            bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
          }
        }
      }
    }
    try {
      const SafetensorsHeader header = parse(bytes);
      EXPECT_EQ(header.data_offset + header.data_size, bytes.size());
      for (const auto& [name, entry] : header.tensors) {
        EXPECT_LE(entry.end, header.data_size) << name;
        EXPECT_EQ(entry.end - entry.begin, entry.element_count() * dtype_size(entry.dtype));
      }
      ++accepted;
    } catch (const SafetensorsError&) {
      ++refused;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "trial " << trial << ": unexpected exception: " << e.what();
    } catch (...) {
      ADD_FAILURE() << "trial " << trial << ": unexpected non-standard exception";
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("seconds", std::to_string(seconds));
  RecordProperty("accepted", accepted);
  EXPECT_EQ(accepted + refused, 10'000);
  EXPECT_GT(accepted, 100);  // mutations of the data bytes, padding, ...
  EXPECT_GT(refused, 5'000);
  EXPECT_LT(seconds, 10.0);
}

}  // namespace
}  // namespace crucible
