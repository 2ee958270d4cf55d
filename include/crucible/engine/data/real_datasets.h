// Real univariate datasets as evaluation tasks: CSV (wide: one series per
// column; long: series_id,timestamp,value), JSON lines ({"start": ...,
// "target": [...]}), and .npy ([N, T] or [T]); turned into tasks by seeded
// random windows. No LibTorch.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "crucible/engine/data/task_data.h"

namespace crucible {

// A malformed dataset file: what() is one line naming the file, and the line
// and column where they apply ("data.csv:14: column 3: 'abc' is not a number").
class DatasetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NamedSeries {
  std::string name;           // column name, series_id, line number or row index
  std::vector<float> values;  // NaN marks a missing value (an empty CSV cell, "NaN", null)
  // A JSON-lines record with several rows (a 2-D "target",
  // "past_feat_dynamic_real" or "feat_dynamic_real"): its rows after `values`
  // (the first target row), each as long as `values`, and their SeriesRole
  // values (further targets, then past, then known covariates).
  std::vector<std::vector<float>> other_rows;
  std::vector<int64_t> other_roles;
};

// Loads every series of a file, choosing the format by extension (.csv,
// .jsonl / .json, .npy). Throws DatasetError for ragged rows, non-numeric
// cells, empty series, unknown extensions, unreadable files.
std::vector<NamedSeries> load_dataset(const std::string& path);

struct WindowOptions {
  uint64_t seed = 0;
  int64_t num_windows = 100;  // S
  int64_t max_context = 512;  // Tmax: a window's context has up to this many points
  int64_t min_context = 16;   // shorter contexts are not drawn
  int64_t horizon = 64;       // H: every target has exactly this many points
};

struct WindowedTask {
  TaskData task;
  int64_t skipped_series = 0;  // series shorter than min_context + horizon
};

// Draws num_windows windows: series chosen uniformly among those long enough,
// then a cut point; the context is the (up to max_context) points before the
// cut, the target the horizon points after it. A pure function of the options
// and the data (Philox keyed by the seed). NaN values in a context are kept
// and passed to the model. A cut whose target would hold a NaN is redrawn (up
// to 100 times per window; the loss has no per-step mask, and a NaN target
// would be scored as 0). A record with several rows gives one group per
// window, all its rows cut at the same points; its target rows' and known
// covariates' horizons must be free of NaN, and the known covariates'
// horizon values become future_inputs. When any record has several rows the
// task is grouped (a one-row record is a group of one target). Throws
// DatasetError when no series is long enough or no clean target is found.
WindowedTask make_windows(const std::vector<NamedSeries>& series, const WindowOptions& options);

}  // namespace crucible
