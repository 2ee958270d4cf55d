// Loading real datasets (load_dataset of real_datasets.h). The format follows
// the file's extension (case-insensitive):
//
// CSV (.csv): comma separated, spaces and tabs around a cell are ignored, no
//   quoting; a UTF-8 byte-order mark and "\r\n" line ends are accepted; blank
//   lines are skipped (so in a one-column file write NaN for a missing value).
//   The first line is the header.
//   - Long format when the header is exactly `series_id,timestamp,value`: one
//     series per series_id, in order of first appearance; values in file order
//     (timestamps are not parsed).
//   - Otherwise wide format: one series per column, named by its header cell
//     ("column N" when that is empty). Columns may differ in length: the
//     trailing all-NaN tail of each is trimmed.
//   A cell that is empty, "NaN", "nan" or "NA" is a missing value (NaN).
// JSON lines (.jsonl, .json): one object per non-blank line with "target": an
//   array of numbers or nulls (null = NaN), and optional "start" (ignored) and
//   "item_id" (the series' name; "line N" without it). GluonTS's multivariate
//   fields make a record a group of rows: "target" may be 2-D (one array per
//   target row, all of one length T), "past_feat_dynamic_real" holds past-only
//   covariates (rows of exactly T values) and "feat_dynamic_real" known
//   covariates (rows of at least T values, cut to T); a 1-D field is one row.
//   At most 64 rows per record.
// NumPy (.npy): float32 or float64, [T] (one series) or [N, T] (N series);
//   series are named "row R" (0-based).
//
// In every format trailing NaNs of a series are trimmed, and a series that is
// then empty is an error. Values must fit in float32: infinities and larger
// magnitudes are errors. Errors are DatasetError, one line starting with the
// file, then the line and column where they apply:
//   data.csv:14: column 3: 'abc' is not a number
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "crucible/common/files.h"
#include "crucible/common/npy.h"
#include "crucible/engine/data/real_datasets.h"
#include "crucible/engine/data/synthetic_gp.h"

namespace crucible {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr size_t kMaxShownCell = 32;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw DatasetError(where + ": " + what);
}

std::string at_line(const std::string& path, size_t line) {
  return path + ":" + std::to_string(line);
}

std::string quoted_cell(std::string_view cell) {
  std::string shown(cell.substr(0, kMaxShownCell));
  if (cell.size() > kMaxShownCell) shown += "...";
  return "'" + shown + "'";
}

std::string read_whole_file(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::runtime_error& error) {
    throw DatasetError(error.what());
  }
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // UTF-8 byte-order mark
  return text;
}

struct Line {
  size_t number;  // 1-based, counting blank lines
  std::string_view text;
};

std::string_view trim(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// The non-blank lines of `text`, without their "\n" or "\r\n".
std::vector<Line> non_blank_lines(const std::string& text) {
  std::vector<Line> lines;
  size_t start = 0;
  for (size_t number = 1; start < text.size(); ++number) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!trim(line).empty()) lines.push_back({number, line});
    start = end + 1;
  }
  return lines;
}

std::vector<std::string_view> split_cells(std::string_view line) {
  std::vector<std::string_view> cells;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    cells.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string_view::npos) return cells;
    start = comma + 1;
  }
}

// `value` as float32; an infinity or a magnitude beyond float32 is an error at
// `where` (a callable giving the location, built only on failure).
template <typename Where>
float to_float(double value, const Where& where) {
  const auto single = static_cast<float>(value);
  if (std::isinf(single)) {
    std::ostringstream shown;
    shown << value;
    fail(where(), "value " + shown.str() + " is infinite or out of float32 range");
  }
  return single;
}

// One CSV cell of column `column` (1-based) on the line at `line_where`: a
// number, or NaN for a missing value.
float parse_cell(std::string_view cell, const std::string& line_where, size_t column) {
  if (cell.empty() || cell == "NaN" || cell == "nan" || cell == "NA") return kNaN;
  const auto where = [&] { return line_where + ": column " + std::to_string(column); };
  const std::string_view digits = cell.front() == '+' ? cell.substr(1) : cell;
  double value = 0.0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error == std::errc::invalid_argument || end != digits.data() + digits.size()) {
    fail(where(), quoted_cell(cell) + " is not a number");
  }
  if (error == std::errc::result_out_of_range || std::isinf(static_cast<float>(value))) {
    fail(where(), quoted_cell(cell) + " is infinite or out of float32 range");
  }
  return static_cast<float>(value);
}

// Trims the trailing NaNs of a loaded series; one left empty is an error.
NamedSeries finish_series(std::string name, std::vector<float> values, const std::string& where) {
  while (!values.empty() && std::isnan(values.back())) values.pop_back();
  if (values.empty()) fail(where, "series '" + name + "' is empty or all NaN");
  return {std::move(name), std::move(values), {}, {}};
}

std::vector<NamedSeries> load_long_csv(const std::string& path, const std::vector<Line>& lines) {
  std::vector<std::string> names;
  std::vector<std::vector<float>> values;
  std::unordered_map<std::string, size_t> index_of;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string where = at_line(path, lines[i].number);
    const std::vector<std::string_view> cells = split_cells(lines[i].text);
    if (cells.size() != 3) {
      fail(where, "ragged row: " + std::to_string(cells.size()) + " cells, the header has 3");
    }
    const std::string id(cells[0]);
    const auto [found, inserted] = index_of.emplace(id, names.size());
    if (inserted) {
      names.push_back(id);
      values.emplace_back();
    }
    values[found->second].push_back(parse_cell(cells[2], where, 3));
  }
  std::vector<NamedSeries> series;
  for (size_t s = 0; s < names.size(); ++s) {
    series.push_back(finish_series(names[s], std::move(values[s]), path));
  }
  return series;
}

std::vector<NamedSeries> load_wide_csv(const std::string& path, const std::vector<Line>& lines) {
  const std::vector<std::string_view> header = split_cells(lines[0].text);
  const std::string header_at = at_line(path, lines[0].number);
  std::vector<std::string> names;
  std::unordered_map<std::string, size_t> column_of;
  for (size_t c = 0; c < header.size(); ++c) {
    const std::string column = "column " + std::to_string(c + 1);
    names.push_back(header[c].empty() ? column : std::string(header[c]));
    const auto [found, inserted] = column_of.emplace(names.back(), c);
    if (!inserted) {
      fail(header_at + ": " + column, "duplicate column name " + quoted_cell(names.back()) +
                                          " (also column " + std::to_string(found->second + 1) +
                                          ")");
    }
  }
  std::vector<std::vector<float>> columns(header.size());
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string where = at_line(path, lines[i].number);
    const std::vector<std::string_view> cells = split_cells(lines[i].text);
    if (cells.size() != header.size()) {
      fail(where, "ragged row: " + std::to_string(cells.size()) + " cells, the header has " +
                      std::to_string(header.size()));
    }
    for (size_t c = 0; c < cells.size(); ++c) {
      columns[c].push_back(parse_cell(cells[c], where, c + 1));
    }
  }
  std::vector<NamedSeries> series;
  for (size_t c = 0; c < columns.size(); ++c) {
    series.push_back(
        finish_series(names[c], std::move(columns[c]), path + ": column " + std::to_string(c + 1)));
  }
  return series;
}

std::vector<NamedSeries> load_csv(const std::string& path) {
  const std::string text = read_whole_file(path);
  const std::vector<Line> lines = non_blank_lines(text);
  if (lines.empty()) fail(path, "empty file");
  if (lines.size() == 1) fail(at_line(path, lines[0].number), "header only, no data rows");
  const std::vector<std::string_view> header = split_cells(lines[0].text);
  const bool long_format = header.size() == 3 && header[0] == "series_id" &&
                           header[1] == "timestamp" && header[2] == "value";
  return long_format ? load_long_csv(path, lines) : load_wide_csv(path, lines);
}

// The rows of a record's field: an array of numbers or nulls (one row), or an
// array of such arrays (one row each); null is NaN.
std::vector<std::vector<float>> parse_rows(const nlohmann::json& field, const std::string& name,
                                           const std::string& where) {
  if (!field.is_array()) fail(where, "\"" + name + "\" is not an array");
  if (field.empty()) fail(where, "empty \"" + name + "\"");
  const bool two_d = field.front().is_array();
  std::vector<std::vector<float>> rows;
  for (size_t r = 0; r < (two_d ? field.size() : 1); ++r) {
    const nlohmann::json& row = two_d ? field[r] : field;
    const std::string row_name = two_d ? name + "[" + std::to_string(r) + "]" : name;
    if (!row.is_array()) fail(where, row_name + ": not an array (the rows must all be arrays)");
    if (row.empty()) fail(where, row_name + ": empty row");
    rows.emplace_back();
    for (size_t t = 0; t < row.size(); ++t) {
      const nlohmann::json& entry = row[t];
      const auto entry_where = [&] {
        return where + ": " + row_name + "[" + std::to_string(t) + "]";
      };
      if (entry.is_null()) {
        rows.back().push_back(kNaN);
      } else if (entry.is_number()) {
        rows.back().push_back(to_float(entry.get<double>(), entry_where));
      } else {
        fail(entry_where(), "not a number or null");
      }
    }
  }
  return rows;
}

// A record's covariate field (absent: no rows), each row checked against the
// target length: exactly `length` values, or at least `length` (then cut to
// it) when `may_be_longer`.
std::vector<std::vector<float>> covariate_rows(const nlohmann::json& object,
                                               const std::string& name, size_t length,
                                               bool may_be_longer, const std::string& where) {
  const auto field = object.find(name);
  if (field == object.end()) return {};
  std::vector<std::vector<float>> rows = parse_rows(*field, name, where);
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() == length || (may_be_longer && rows[r].size() > length)) {
      rows[r].resize(length);
      continue;
    }
    fail(where, name + "[" + std::to_string(r) + "]: " + std::to_string(rows[r].size()) +
                    " values, expected " + (may_be_longer ? "at least " : "") +
                    std::to_string(length) + " (the target's length)");
  }
  return rows;
}

// A record with several rows: the trailing steps where every target row is
// NaN are trimmed from all rows; a record left empty is an error.
NamedSeries grouped_record(std::string name, std::vector<std::vector<float>> targets,
                           std::vector<std::vector<float>> past,
                           std::vector<std::vector<float>> known, const std::string& where) {
  const auto all_nan_at = [&](size_t t) {
    return std::all_of(targets.begin(), targets.end(),
                       [t](const std::vector<float>& row) { return std::isnan(row[t]); });
  };
  size_t length = targets.front().size();
  while (length > 0 && all_nan_at(length - 1)) --length;
  if (length == 0) fail(where, "series '" + name + "' is empty or all NaN");
  NamedSeries series{std::move(name), {}, {}, {}};
  const auto add = [&](std::vector<std::vector<float>>& rows, SeriesRole role) {
    for (std::vector<float>& row : rows) {
      row.resize(length);
      series.other_rows.push_back(std::move(row));
      series.other_roles.push_back(static_cast<int64_t>(role));
    }
  };
  add(targets, SeriesRole::kTarget);
  add(past, SeriesRole::kPastCovariate);
  add(known, SeriesRole::kKnownCovariate);
  series.values = std::move(series.other_rows.front());
  series.other_rows.erase(series.other_rows.begin());
  series.other_roles.erase(series.other_roles.begin());
  return series;
}

NamedSeries parse_json_line(const Line& line, const std::string& where) {
  nlohmann::json object;
  try {
    object = nlohmann::json::parse(line.text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(where, "not valid JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const nlohmann::json::out_of_range&) {
    fail(where, "not valid JSON (a number too large for a double)");
  }
  if (!object.is_object()) fail(where, "not a JSON object");
  const auto target = object.find("target");
  if (target == object.end()) fail(where, "no \"target\"");
  std::vector<std::vector<float>> targets = parse_rows(*target, "target", where);
  const size_t length = targets.front().size();
  for (size_t r = 1; r < targets.size(); ++r) {
    if (targets[r].size() != length) {
      fail(where, "target[" + std::to_string(r) + "]: " + std::to_string(targets[r].size()) +
                      " values, target[0] has " + std::to_string(length));
    }
  }
  std::vector<std::vector<float>> past =
      covariate_rows(object, "past_feat_dynamic_real", length, false, where);
  std::vector<std::vector<float>> known =
      covariate_rows(object, "feat_dynamic_real", length, true, where);
  const size_t rows = targets.size() + past.size() + known.size();
  if (rows > static_cast<size_t>(kMaxGroupRows)) {
    fail(where, std::to_string(rows) + " rows (targets and covariates), at most " +
                    std::to_string(kMaxGroupRows));
  }
  std::string name = "line " + std::to_string(line.number);
  const auto item_id = object.find("item_id");
  if (item_id != object.end()) {
    name = item_id->is_string() ? item_id->get<std::string>() : item_id->dump();
  }
  if (rows > 1) {
    return grouped_record(std::move(name), std::move(targets), std::move(past), std::move(known),
                          where);
  }
  return finish_series(std::move(name), std::move(targets.front()), where);
}

std::vector<NamedSeries> load_json_lines(const std::string& path) {
  const std::string text = read_whole_file(path);
  std::vector<NamedSeries> series;
  for (const Line& line : non_blank_lines(text)) {
    series.push_back(parse_json_line(line, at_line(path, line.number)));
  }
  if (series.empty()) fail(path, "empty file");
  return series;
}

// Element `i` of a float32 or float64 array's data, as float32.
template <typename Where>
float npy_element(const NpyArray& array, size_t i, const Where& where) {
  if (array.dtype == NpyDtype::kFloat32) {
    float value;
    std::memcpy(&value, array.data.data() + i * sizeof value, sizeof value);
    return to_float(value, where);
  }
  double value;
  std::memcpy(&value, array.data.data() + i * sizeof value, sizeof value);
  return to_float(value, where);
}

std::vector<NamedSeries> load_npy(const std::string& path) {
  NpyArray array;
  try {
    array = read_npy(path);
  } catch (const NpyError& e) {
    throw DatasetError(e.what());  // already one line naming the file
  }
  if (array.dtype != NpyDtype::kFloat32 && array.dtype != NpyDtype::kFloat64) {
    fail(path, std::string("dtype ") + npy_descr(array.dtype) + " is not float32 or float64");
  }
  if (array.shape.size() != 1 && array.shape.size() != 2) {
    fail(path, "has " + std::to_string(array.shape.size()) + " dimensions, expected [T] or [N, T]");
  }
  const auto rows = static_cast<size_t>(array.shape.size() == 1 ? 1 : array.shape[0]);
  const auto length = static_cast<size_t>(array.shape.back());
  if (rows == 0) fail(path, "holds no series");
  std::vector<NamedSeries> series;
  for (size_t r = 0; r < rows; ++r) {
    const std::string row = "row " + std::to_string(r);
    std::vector<float> values(length);
    for (size_t t = 0; t < length; ++t) {
      const auto where = [&] { return path + ": " + row + ", index " + std::to_string(t); };
      values[t] = npy_element(array, r * length + t, where);
    }
    series.push_back(finish_series(row, std::move(values), path));
  }
  return series;
}

std::string lowercase_extension(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string extension = path.substr(dot);
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return extension;
}

}  // namespace

std::vector<NamedSeries> load_dataset(const std::string& path) {
  const std::string extension = lowercase_extension(path);
  if (extension == ".csv") return load_csv(path);
  if (extension == ".jsonl" || extension == ".json") return load_json_lines(path);
  if (extension == ".npy") return load_npy(path);
  fail(path, "unknown extension '" + extension + "' (expected .csv, .jsonl, .json or .npy)");
}

}  // namespace crucible
