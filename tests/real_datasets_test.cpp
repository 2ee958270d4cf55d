// Real datasets: each loader format on small files, every error with its file
// and line, seeded windows, and the dataset shipped in examples/data.
#include "crucible/engine/data/real_datasets.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "crucible/common/files.h"
#include "crucible/common/npy.h"

namespace crucible {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A fresh folder under /tmp for the test's files, removed at the end.
class TempDir {
 public:
  std::string write(const std::string& name, const std::string& contents) const {
    std::ofstream(path(name), std::ios::binary) << contents;
    return path(name);
  }
  std::string path(const std::string& name) const { return folder_.path() + "/" + name; }

 private:
  TemporaryFolder folder_{"real_datasets_test"};
};

// Values equal element-wise, NaN equal to NaN.
void expect_series(const NamedSeries& s, const std::string& name,
                   const std::vector<float>& values) {
  EXPECT_EQ(s.name, name);
  ASSERT_EQ(s.values.size(), values.size()) << name;
  for (size_t t = 0; t < values.size(); ++t) {
    if (std::isnan(values[t])) {
      EXPECT_TRUE(std::isnan(s.values[t])) << name << "[" << t << "]";
    } else {
      EXPECT_EQ(s.values[t], values[t]) << name << "[" << t << "]";
    }
  }
}

// load_dataset(path) throws a one-line DatasetError equal to `message`.
void expect_error(const std::string& path, const std::string& message) {
  try {
    load_dataset(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const DatasetError& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

// load_dataset(path) throws a one-line DatasetError starting with the path.
void expect_error_naming_file(const std::string& path) {
  try {
    load_dataset(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const DatasetError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

std::string write_npy_file(const TempDir& dir, const std::string& name, NpyDtype dtype,
                           std::vector<int64_t> shape, const void* data, size_t bytes) {
  NpyArray array;
  array.dtype = dtype;
  array.shape = std::move(shape);
  array.data.assign(static_cast<const char*>(data), static_cast<const char*>(data) + bytes);
  write_npy(dir.path(name), array);
  return dir.path(name);
}

TEST(DatasetLoad, WideCsvTrimsTheNaNTailOfEachColumn) {
  TempDir dir;
  const std::string path =
      dir.write("wide.csv", "\xEF\xBB\xBF a , b,c\r\n1,2,3\r\n\r\n,3,NA\r\nnan, 4,\r\n5 ,NaN,\r\n");
  const std::vector<NamedSeries> series = load_dataset(path);
  ASSERT_EQ(series.size(), 3u);
  expect_series(series[0], "a", {1, kNaN, kNaN, 5});
  expect_series(series[1], "b", {2, 3, 4});
  expect_series(series[2], "c", {3});
}

TEST(DatasetLoad, WideCsvNamesAnUnnamedColumn) {
  TempDir dir;
  const std::vector<NamedSeries> series = load_dataset(dir.write("x.CSV", ",y\n1,+2.5e1\n"));
  ASSERT_EQ(series.size(), 2u);
  expect_series(series[0], "column 1", {1});
  expect_series(series[1], "y", {25});
}

TEST(DatasetLoad, LongCsvGroupsBySeriesInOrderOfFirstAppearance) {
  TempDir dir;
  const std::string path = dir.write("long.csv",
                                     "series_id,timestamp,value\n"
                                     "x,2020-01-02,1\n"
                                     "y,2020-01-01,10\n"
                                     "x,2020-01-01,2\n"
                                     "y,2020-01-02,\n"
                                     "y,2020-01-03,11\n");
  const std::vector<NamedSeries> series = load_dataset(path);
  ASSERT_EQ(series.size(), 2u);
  expect_series(series[0], "x", {1, 2});  // file order, timestamps not parsed
  expect_series(series[1], "y", {10, kNaN, 11});
}

TEST(DatasetLoad, JsonLinesWithNulls) {
  TempDir dir;
  const std::string text =
      "{\"start\": \"2020-01-01\", \"target\": [1, null, 3], \"item_id\": \"a\"}\n"
      "\n"
      "{\"target\": [4, 5.5, null, null]}\n"
      "{\"target\": [6], \"item_id\": 7}\n";
  for (const std::string name : {"d.jsonl", "d.json"}) {
    const std::vector<NamedSeries> series = load_dataset(dir.write(name, text));
    ASSERT_EQ(series.size(), 3u);
    expect_series(series[0], "a", {1, kNaN, 3});
    expect_series(series[1], "line 3", {4, 5.5f});
    expect_series(series[2], "7", {6});
  }
}

TEST(DatasetLoad, NpyOneDimensional) {
  TempDir dir;
  const float data[] = {1, 2, kNaN, 4, kNaN};
  const std::string path =
      write_npy_file(dir, "one.npy", NpyDtype::kFloat32, {5}, data, sizeof data);
  const std::vector<NamedSeries> series = load_dataset(path);
  ASSERT_EQ(series.size(), 1u);
  expect_series(series[0], "row 0", {1, 2, kNaN, 4});
}

TEST(DatasetLoad, NpyTwoDimensionalTrimsEachRow) {
  TempDir dir;
  const double data[] = {1, 2, 3, 4, 5, std::nan(""), std::nan(""), 0.25};
  const std::string path =
      write_npy_file(dir, "two.npy", NpyDtype::kFloat64, {2, 4}, data, sizeof data);
  const std::vector<NamedSeries> series = load_dataset(path);
  ASSERT_EQ(series.size(), 2u);
  expect_series(series[0], "row 0", {1, 2, 3, 4});
  expect_series(series[1], "row 1", {5, kNaN, kNaN, 0.25f});
}

TEST(DatasetLoad, CsvErrorsNameFileLineAndColumn) {
  TempDir dir;
  std::string p = dir.write("ragged.csv", "a,b\n1,2\n3\n");
  expect_error(p, p + ":3: ragged row: 1 cells, the header has 2");
  p = dir.write("text.csv", "a,b\n1,2\n\n4,x2\n");
  expect_error(p, p + ":4: column 2: 'x2' is not a number");
  p = dir.write("long_cell.csv", "a\n" + std::string(40, 'z') + "\n");
  expect_error(p, p + ":2: column 1: '" + std::string(32, 'z') + "...' is not a number");
  p = dir.write("huge.csv", "a\n1e39\n");
  expect_error(p, p + ":2: column 1: '1e39' is infinite or out of float32 range");
  p = dir.write("inf.csv", "a\n-inf\n");
  expect_error(p, p + ":2: column 1: '-inf' is infinite or out of float32 range");
  p = dir.write("empty.csv", "");
  expect_error(p, p + ": empty file");
  p = dir.write("blank.csv", " \n\n");
  expect_error(p, p + ": empty file");
  p = dir.write("header.csv", "\na,b\n");
  expect_error(p, p + ":2: header only, no data rows");
  p = dir.write("all_nan.csv", "a,b\n1,NaN\n2,\n");
  expect_error(p, p + ": column 2: series 'b' is empty or all NaN");
  p = dir.write("duplicate.csv", "a,b, a\n1,2,3\n");
  expect_error(p, p + ":1: column 3: duplicate column name 'a' (also column 1)");
  p = dir.write("long_ragged.csv", "series_id,timestamp,value\nx,1,2,3\n");
  expect_error(p, p + ":2: ragged row: 4 cells, the header has 3");
  p = dir.write("long_text.csv", "series_id,timestamp,value\nx,1,2\nx,2,two\n");
  expect_error(p, p + ":3: column 3: 'two' is not a number");
  p = dir.write("long_nan.csv", "series_id,timestamp,value\nx,1,2\ny,1,NA\n");
  expect_error(p, p + ": series 'y' is empty or all NaN");
}

TEST(DatasetLoad, JsonLinesErrorsNameFileAndLine) {
  TempDir dir;
  std::string p = dir.write("bad.jsonl", "{\"target\": [1]}\n{\"target\": [1,}\n");
  expect_error(p, p + ":2: not valid JSON (at byte 15)");
  p = dir.write("array.jsonl", "[1, 2]\n");
  expect_error(p, p + ":1: not a JSON object");
  p = dir.write("missing.jsonl", "\n{\"start\": 0}\n");
  expect_error(p, p + ":2: no \"target\"");
  p = dir.write("scalar.jsonl", "{\"target\": 3}\n");
  expect_error(p, p + ":1: \"target\" is not an array");
  p = dir.write("text.jsonl", "{\"target\": [1, \"2\"]}\n");
  expect_error(p, p + ":1: target[1]: not a number or null");
  p = dir.write("empty_target.jsonl", "{\"target\": []}\n");
  expect_error(p, p + ":1: empty \"target\"");
  p = dir.write("nulls.jsonl", "{\"target\": [null, null], \"item_id\": \"q\"}\n");
  expect_error(p, p + ":1: series 'q' is empty or all NaN");
  p = dir.write("huge.jsonl", "{\"target\": [1e39]}\n");
  expect_error(p, p + ":1: target[0]: value 1e+39 is infinite or out of float32 range");
  p = dir.write("overflow.jsonl", "{\"target\": [1e999]}\n");
  expect_error(p, p + ":1: not valid JSON (a number too large for a double)");
  p = dir.write("empty.jsonl", "\n");
  expect_error(p, p + ": empty file");
}

TEST(DatasetLoad, NpyErrorsNameTheFile) {
  TempDir dir;
  const int64_t ints[] = {1, 2};
  std::string p = write_npy_file(dir, "ints.npy", NpyDtype::kInt64, {2}, ints, sizeof ints);
  expect_error(p, p + ": dtype <i8 is not float32 or float64");
  const float cube[8] = {};
  p = write_npy_file(dir, "cube.npy", NpyDtype::kFloat32, {2, 2, 2}, cube, sizeof cube);
  expect_error(p, p + ": has 3 dimensions, expected [T] or [N, T]");
  const double huge[] = {1, 1e300};
  p = write_npy_file(dir, "huge.npy", NpyDtype::kFloat64, {1, 2}, huge, sizeof huge);
  expect_error(p, p + ": row 0, index 1: value 1e+300 is infinite or out of float32 range");
  const float nan_row[] = {1, 2, kNaN, kNaN};
  p = write_npy_file(dir, "nan_row.npy", NpyDtype::kFloat32, {2, 2}, nan_row, sizeof nan_row);
  expect_error(p, p + ": series 'row 1' is empty or all NaN");
  p = write_npy_file(dir, "none.npy", NpyDtype::kFloat32, {0, 3}, nullptr, 0);
  expect_error(p, p + ": holds no series");
  expect_error_naming_file(dir.write("garbage.npy", "not an npy file"));
}

TEST(DatasetLoad, UnknownExtensionAndMissingFile) {
  TempDir dir;
  const std::string txt = dir.write("data.txt", "a\n1\n");
  expect_error(txt, txt + ": unknown extension '.txt' (expected .csv, .jsonl, .json or .npy)");
  expect_error_naming_file(dir.write("no_extension", "a\n1\n"));
  expect_error_naming_file(dir.path("missing.csv"));
  expect_error_naming_file(dir.path("missing.npy"));
}

// Series s has values 1000 * s + t, so a window's values name its position.
std::vector<NamedSeries> ramps(const std::vector<size_t>& lengths) {
  std::vector<NamedSeries> series;
  for (size_t s = 0; s < lengths.size(); ++s) {
    NamedSeries one{"s" + std::to_string(s), {}, {}, {}};
    for (size_t t = 0; t < lengths[s]; ++t) one.values.push_back(1000.0f * s + t);
    series.push_back(one);
  }
  return series;
}

WindowOptions small_options(uint64_t seed) {
  WindowOptions options;
  options.seed = seed;
  options.num_windows = 60;
  options.max_context = 40;
  options.min_context = 8;
  options.horizon = 12;
  return options;
}

TEST(Windows, SameOptionsGiveTheSameTask) {
  const std::vector<NamedSeries> series = ramps({100, 300, 70});
  const WindowedTask a = make_windows(series, small_options(11));
  const WindowedTask b = make_windows(series, small_options(11));
  EXPECT_EQ(a.task.inputs, b.task.inputs);
  EXPECT_EQ(a.task.input_lengths, b.task.input_lengths);
  EXPECT_EQ(a.task.targets, b.task.targets);
  EXPECT_EQ(a.task.target_lengths, b.task.target_lengths);
  EXPECT_EQ(a.task.descriptions, b.task.descriptions);
  EXPECT_EQ(a.skipped_series, b.skipped_series);
}

TEST(Windows, TheSeedChangesTheWindows) {
  const std::vector<NamedSeries> series = ramps({100, 300, 70});
  const WindowedTask a = make_windows(series, small_options(11));
  const WindowedTask b = make_windows(series, small_options(12));
  const WindowedTask c = make_windows(series, small_options(11ull << 32));  // high key word
  EXPECT_NE(a.task.descriptions, b.task.descriptions);
  EXPECT_NE(a.task.descriptions, c.task.descriptions);
}

TEST(Windows, ContextsAndTargetsAreSlicesOfTheSeries) {
  const WindowOptions options = small_options(5);
  const WindowedTask w = make_windows(ramps({100, 300, 70}), options);
  const TaskData& task = w.task;
  EXPECT_EQ(w.skipped_series, 0);
  ASSERT_EQ(task.num_series, 60);
  EXPECT_LE(task.input_width, options.max_context);
  EXPECT_EQ(task.target_width, options.horizon);
  for (int64_t i = 0; i < task.num_series; ++i) {
    const int64_t length = task.input_lengths[i];
    EXPECT_GE(length, options.min_context);
    EXPECT_LE(length, options.max_context);
    EXPECT_EQ(task.target_lengths[i], options.horizon);
    const float* input = &task.inputs[i * task.input_width];
    const float* target = &task.targets[i * task.target_width];
    const auto series = static_cast<int64_t>(target[0] / 1000);
    const auto cut = static_cast<int64_t>(target[0]) - 1000 * series;
    EXPECT_EQ(task.descriptions[i], "s" + std::to_string(series) + "[" +
                                        std::to_string(cut - length) + ":" + std::to_string(cut) +
                                        "]+12");
    EXPECT_EQ(length, std::min(cut, options.max_context));  // all the history up to max_context
    for (int64_t t = 0; t < length; ++t) EXPECT_EQ(input[t], target[0] - length + t);
    for (int64_t t = 1; t < options.horizon; ++t) EXPECT_EQ(target[t], target[0] + t);
  }
}

TEST(Windows, ShortSeriesAreSkippedAndCounted) {
  // Lengths 19 and 5 are below min_context + horizon = 20.
  const WindowedTask w = make_windows(ramps({19, 20, 5}), small_options(3));
  EXPECT_EQ(w.skipped_series, 2);
  for (const std::string& description : w.task.descriptions) {
    EXPECT_EQ(description, "s1[0:8]+12");  // the only cut of the only long-enough series
  }
}

TEST(Windows, TargetsWithNaNAreRedrawnAndContextsKeepNaN) {
  std::vector<NamedSeries> series = ramps({200});
  for (size_t t = 40; t < 50; ++t) series[0].values[t] = kNaN;
  WindowOptions options = small_options(9);
  options.num_windows = 200;
  const TaskData task = make_windows(series, options).task;
  bool context_with_nan = false;
  for (int64_t i = 0; i < task.num_series; ++i) {
    for (int64_t t = 0; t < task.target_lengths[i]; ++t) {
      EXPECT_FALSE(std::isnan(task.targets[i * task.target_width + t])) << i;
    }
    for (int64_t t = 0; t < task.input_lengths[i]; ++t) {
      context_with_nan |= std::isnan(task.inputs[i * task.input_width + t]);
    }
  }
  EXPECT_TRUE(context_with_nan);
}

TEST(Windows, ErrorsWhenNoSeriesIsLongEnough) {
  try {
    make_windows(ramps({19, 5}), small_options(1));
    FAIL() << "no error";
  } catch (const DatasetError& e) {
    EXPECT_EQ(std::string(e.what()),
              "no series has min_context + horizon = 20 points (2 series, the longest has 19)");
  }
  EXPECT_THROW(make_windows({}, small_options(1)), DatasetError);
}

TEST(Windows, ErrorsWhenNoCleanTargetIsFound) {
  std::vector<NamedSeries> series = ramps({100});
  for (size_t t = 0; t < 100; t += 10) series[0].values[t] = kNaN;  // every target has a NaN
  try {
    make_windows(series, small_options(1));
    FAIL() << "no error";
  } catch (const DatasetError& e) {
    EXPECT_EQ(std::string(e.what()), "window 0: no target without NaN in 100 draws");
  }
}

TEST(Windows, RejectsInvalidOptionsAndAllowsZeroWindows) {
  const std::vector<NamedSeries> series = ramps({100});
  WindowOptions options = small_options(1);
  options.horizon = 0;
  EXPECT_THROW(make_windows(series, options), std::invalid_argument);
  options = small_options(1);
  options.max_context = 4;
  EXPECT_THROW(make_windows(series, options), std::invalid_argument);
  options = small_options(1);
  options.num_windows = 0;
  const WindowedTask empty = make_windows(series, options);
  EXPECT_EQ(empty.task.num_series, 0);
}

// The repository root, from this file's path (relative when compiled by hand from the root).
std::string repo_root() {
  const std::string file = __FILE__;
  const size_t tests = file.rfind("/tests/");
  return tests == std::string::npos ? "." : file.substr(0, tests);
}

TEST(Windows, ShippedSunspotsDataset) {
  const std::vector<NamedSeries> series = load_dataset(repo_root() + "/examples/data/sunspots.csv");
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].name, "SUNACTIVITY");
  ASSERT_EQ(series[0].values.size(), 309u);  // 1700 to 2008
  EXPECT_EQ(series[0].values.front(), 5.0f);
  EXPECT_EQ(series[0].values.back(), 2.9f);

  WindowOptions options;
  options.seed = 2024;
  options.num_windows = 32;
  options.horizon = 24;
  const WindowedTask w = make_windows(series, options);
  EXPECT_EQ(w.skipped_series, 0);
  EXPECT_EQ(w.task.num_series, 32);
  EXPECT_EQ(w.task.target_width, 24);
  EXPECT_LE(w.task.input_width, 309 - 24);
  for (const std::string& description : w.task.descriptions) {
    EXPECT_EQ(description.rfind("SUNACTIVITY[", 0), 0u) << description;
  }
}

// GluonTS's multivariate fields: a 2-D target, past-only and known covariates.
TEST(DatasetLoad, JsonLinesRecordsWithSeveralRows) {
  TempDir dir;
  const std::string p = dir.write(
      "groups.jsonl",
      "{\"item_id\": \"m\", \"target\": [[1, 2, 3, null], [4, 5, 6, null]], "
      "\"past_feat_dynamic_real\": [[7, 8, 9, 10]], \"feat_dynamic_real\": [11, 12, 13, 14, 15]}\n"
      "{\"target\": [[1, 2]]}\n");
  const std::vector<NamedSeries> series = load_dataset(p);
  ASSERT_EQ(series.size(), 2u);
  expect_series(series[0], "m", {1, 2, 3});  // the all-NaN last step trimmed from every row
  ASSERT_EQ(series[0].other_rows.size(), 3u);
  EXPECT_EQ(series[0].other_rows[0], (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(series[0].other_rows[1], (std::vector<float>{7, 8, 9}));
  EXPECT_EQ(series[0].other_rows[2], (std::vector<float>{11, 12, 13}));  // cut to the target
  EXPECT_EQ(series[0].other_roles, (std::vector<int64_t>{0, 1, 2}));
  expect_series(series[1], "line 2", {1, 2});  // one row: univariate
  EXPECT_TRUE(series[1].other_rows.empty());
}

TEST(DatasetLoad, JsonLinesRowErrorsNameFileLineAndField) {
  TempDir dir;
  const auto check = [&](const std::string& line, const std::string& message) {
    const std::string p = dir.write("bad.jsonl", line + "\n");
    expect_error(p, p + ":1: " + message);
  };
  check("{\"target\": [[1, 2], [3]]}", "target[1]: 1 values, target[0] has 2");
  check("{\"target\": [[1, 2], 3]}", "target[1]: not an array (the rows must all be arrays)");
  check("{\"target\": [[1, 2], []]}", "target[1]: empty row");
  check("{\"target\": [1, 2], \"past_feat_dynamic_real\": [[1, 2, 3]]}",
        "past_feat_dynamic_real[0]: 3 values, expected 2 (the target's length)");
  check("{\"target\": [1, 2], \"feat_dynamic_real\": [[1, 2], [1]]}",
        "feat_dynamic_real[1]: 1 values, expected at least 2 (the target's length)");
  check("{\"target\": [1, 2], \"feat_dynamic_real\": [[1, \"x\"]]}",
        "feat_dynamic_real[0][1]: not a number or null");
  check("{\"target\": [1, 2], \"feat_dynamic_real\": {}}", "\"feat_dynamic_real\" is not an array");
  std::string many = "{\"target\": [1], \"past_feat_dynamic_real\": [[1]";
  for (int r = 0; r < 64; ++r) many += ", [1]";
  check(many + "]}", "66 rows (targets and covariates), at most 64");
}

TEST(Windows, RecordsWithSeveralRowsGiveOneGroupPerWindow) {
  std::vector<NamedSeries> series(2);
  series[0].name = "g";
  for (int t = 0; t < 40; ++t) {
    series[0].values.push_back(static_cast<float>(t));
    series[1].values.push_back(static_cast<float>(-t));
  }
  series[0].other_rows = {series[0].values, series[0].values, series[0].values};
  series[0].other_rows[1][39] = kNaN;  // a past covariate's NaN never blocks a cut
  series[0].other_rows[2][30] = kNaN;  // a known covariate's NaN does
  for (float& v : series[0].other_rows[2]) v += 100;
  series[0].other_roles = {0, 1, 2};
  series[1].name = "u";
  WindowOptions options;
  options.seed = 9;
  options.num_windows = 12;
  options.min_context = 4;
  options.max_context = 20;
  options.horizon = 5;
  const TaskData task = make_windows(series, options).task;
  ASSERT_TRUE(has_groups(task));
  EXPECT_NO_THROW(check_task_groups(task));
  const std::vector<int64_t> ids = row_group_ids(task);
  int64_t grouped_windows = 0;
  for (int64_t j = 0; j < task.num_series; ++j) {
    const bool first = j == 0 || ids[j] != ids[j - 1];
    if (!first || task.descriptions[j].rfind("g[", 0) != 0) continue;
    ++grouped_windows;
    EXPECT_EQ(std::vector<int64_t>(task.roles.begin() + j, task.roles.begin() + j + 4),
              (std::vector<int64_t>{0, 0, 1, 2}));
    const int64_t cut = static_cast<int64_t>(task.targets[j * task.target_width]);
    EXPECT_TRUE(cut + 5 <= 30 || cut > 30) << cut;
    for (int64_t i = 0; i < 5; ++i) {
      EXPECT_EQ(task.future_inputs[(j + 3) * task.target_width + i], cut + i + 100.0f);
    }
  }
  EXPECT_GT(grouped_windows, 0);
  EXPECT_LT(grouped_windows, 12);
}

// examples/data/macrodata.jsonl (examples/data/README.md): one record, 3
// targets, 2 past and 1 known covariate, 203 quarters.
TEST(Windows, ShippedMacrodataDataset) {
  const std::vector<NamedSeries> series =
      load_dataset(repo_root() + "/examples/data/macrodata.jsonl");
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].name, "us-macro");
  ASSERT_EQ(series[0].values.size(), 203u);
  EXPECT_EQ(series[0].values.front(), 2710.349f);  // realgdp, 1959Q1
  EXPECT_EQ(series[0].other_roles, (std::vector<int64_t>{0, 0, 1, 1, 2}));
  EXPECT_EQ(series[0].other_rows[4].back(), 0.12f);  // tbilrate, 2009Q3
  WindowOptions options;
  options.seed = 2024;
  options.num_windows = 10;
  options.horizon = 8;
  options.max_context = 120;
  const TaskData task = make_windows(series, options).task;
  EXPECT_EQ(task.num_series, 60);
  EXPECT_EQ(scored_rows(task).size(), 30u);
  EXPECT_NO_THROW(check_task_groups(task));
}

}  // namespace
}  // namespace crucible
