// .npy reading and writing, including every malformed input the CLI must refuse.
#include "crucible/common/npy.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include "crucible/common/files.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace crucible {
namespace {

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = temp_.path(); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // A file with a v1.0 header text `header` (padded by this helper) and `data`.
  std::string write_raw(const std::string& name, const std::string& header, const std::string& data,
                        char major = 1) {
    std::string padded = header;
    while ((10 + padded.size() + 1) % 64 != 0) padded += ' ';
    padded += '\n';
    std::string bytes = std::string("\x93NUMPY", 6) + major + '\0';
    bytes += static_cast<char>(padded.size() & 0xff);
    bytes += static_cast<char>(padded.size() >> 8);
    if (major == 2) bytes += std::string(2, '\0');
    std::ofstream(path(name), std::ios::binary) << bytes << padded << data;
    return path(name);
  }

  void expect_error(const std::string& file, const std::string& fragment) {
    try {
      read_npy(file);
      FAIL() << "no error for " << file;
    } catch (const NpyError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind(file, 0), 0u) << message;  // names the file first
      EXPECT_NE(message.find(fragment), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }

  TemporaryFolder temp_{"npy_test"};
  std::string dir_;
};

TEST_F(NpyTest, WriteThenReadRoundTrips) {
  NpyArray array;
  array.dtype = NpyDtype::kFloat64;
  array.shape = {2, 3};
  const double values[6] = {1, 2, 3, 4.5, -1e300, 0};
  array.data.assign(reinterpret_cast<const char*>(values),
                    reinterpret_cast<const char*>(values) + sizeof values);
  write_npy(path("a.npy"), array);
  const NpyArray back = read_npy(path("a.npy"));
  EXPECT_EQ(back.dtype, NpyDtype::kFloat64);
  EXPECT_EQ(back.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(back.data, array.data);
}

TEST_F(NpyTest, ReadsVersionTwoScalarsAndOneDimensional) {
  const int64_t v[3] = {4, 5, 6};
  const std::string data(reinterpret_cast<const char*>(v), sizeof v);
  const NpyArray a = read_npy(
      write_raw("v2.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", data, 2));
  EXPECT_EQ(a.dtype, NpyDtype::kInt64);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3}));
  const NpyArray scalar = read_npy(write_raw(
      "s.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", std::string(4, '\0')));
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.num_elements(), 1);
}

TEST_F(NpyTest, RefusesMalformedFiles) {
  const std::string four(16, '\0');
  expect_error(path("missing.npy"), "cannot open");
  expect_error(
      write_raw("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four),
      "Fortran");
  expect_error(
      write_raw("big.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four),
      "big-endian");
  expect_error(
      write_raw("half.npy", "{'descr': '<f2', 'fortran_order': False, 'shape': (8,), }", four),
      "not supported");
  expect_error(
      write_raw("object.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", four),
      "not supported");
  expect_error(
      write_raw("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", four),
      "truncated");
  expect_error(
      write_raw("long.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", four),
      "does not match");
  expect_error(
      write_raw("v3.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four, 3),
      "version 3.0");
  expect_error(write_raw("noshape.npy", "{'descr': '<f4', 'fortran_order': False, }", four),
               "'shape'");
  expect_error(
      write_raw("badshape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", four),
      "not a size");
  std::ofstream(path("text.npy")) << "hello";
  expect_error(path("text.npy"), "bad magic");
}

TEST_F(NpyTest, FailedWriteLeavesNothing) {
  NpyArray array;
  array.shape = {1};
  array.data.assign(4, '\0');
  EXPECT_THROW(write_npy(path("no/such/dir/out.npy"), array), NpyError);
  EXPECT_NE(::access(path("no/such/dir/out.npy").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace crucible
