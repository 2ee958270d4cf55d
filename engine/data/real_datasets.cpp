// Seeded random windows over real series (make_windows of real_datasets.h);
// the loaders are in dataset_loaders.cpp.
//
// Window w, attempt a draws from one Philox4x32-10 block with key (seed low
// word, seed high word) and counter (0, w, kWindowStream, a), the layout of
// CounterRng (position, index, stream, attempt): output word 0 picks the
// series among the eligible ones, word 1 the cut point. Stream 4 keeps these
// draws apart from the synthetic generator's streams 1 to 3 under the same
// round seed. A window is thus a pure function of (seed, w, a) and the data.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "crucible/cuda/philox.h"
#include "crucible/engine/data/real_datasets.h"

namespace crucible {
namespace {

constexpr uint32_t kWindowStream = 4;
constexpr uint32_t kMaxAttempts = 100;

void check_options(const WindowOptions& o) {
  if (o.num_windows < 0) throw std::invalid_argument("num_windows must not be negative");
  if (o.num_windows > std::numeric_limits<uint32_t>::max()) {
    throw std::invalid_argument("num_windows must be below 2^32");
  }
  if (o.min_context < 1) throw std::invalid_argument("min_context must be at least 1");
  if (o.max_context < o.min_context) {
    throw std::invalid_argument("max_context must be at least min_context");
  }
  if (o.horizon < 1) throw std::invalid_argument("horizon must be at least 1");
}

bool has_nan(const std::vector<float>& values, int64_t begin, int64_t end) {
  for (int64_t t = begin; t < end; ++t) {
    if (std::isnan(values[static_cast<size_t>(t)])) return true;
  }
  return false;
}

// Whether a target row's or a known covariate's horizon holds a NaN.
bool horizon_has_nan(const NamedSeries& s, int64_t begin, int64_t end) {
  if (has_nan(s.values, begin, end)) return true;
  for (size_t r = 0; r < s.other_rows.size(); ++r) {
    if (s.other_roles[r] != static_cast<int64_t>(SeriesRole::kPastCovariate) &&
        has_nan(s.other_rows[r], begin, end)) {
      return true;
    }
  }
  return false;
}

}  // namespace

WindowedTask make_windows(const std::vector<NamedSeries>& series, const WindowOptions& options) {
  check_options(options);
  const int64_t needed = options.min_context + options.horizon;
  std::vector<const NamedSeries*> eligible;
  size_t longest = 0;
  for (const NamedSeries& s : series) {
    longest = std::max(longest, s.values.size());
    if (static_cast<int64_t>(s.values.size()) >= needed) eligible.push_back(&s);
  }
  WindowedTask result;
  result.skipped_series = static_cast<int64_t>(series.size() - eligible.size());
  if (eligible.empty()) {
    throw DatasetError("no series has min_context + horizon = " + std::to_string(needed) +
                       " points (" + std::to_string(series.size()) + " series, the longest has " +
                       std::to_string(longest) + ")");
  }
  // scale_to_range takes 32-bit ranges; 2^32 series or points are far beyond real data.
  if (eligible.size() > std::numeric_limits<uint32_t>::max() ||
      longest > std::numeric_limits<uint32_t>::max()) {
    throw std::invalid_argument("make_windows: more than 2^32 - 1 series or points");
  }

  const auto key0 = static_cast<uint32_t>(options.seed);
  const auto key1 = static_cast<uint32_t>(options.seed >> 32);
  const auto window_count = static_cast<size_t>(options.num_windows);
  const bool grouped = std::any_of(series.begin(), series.end(),
                                   [](const NamedSeries& s) { return !s.other_rows.empty(); });
  std::vector<std::vector<float>> contexts, targets;
  std::vector<std::string> descriptions;
  std::vector<int64_t> group_ids, roles;
  contexts.reserve(window_count);
  targets.reserve(window_count);
  descriptions.reserve(window_count);
  for (uint32_t w = 0; w < options.num_windows; ++w) {
    bool found = false;
    for (uint32_t attempt = 0; attempt < kMaxAttempts && !found; ++attempt) {
      const Philox4x32 bits =
          philox4x32_10(Philox4x32{{0u, w, kWindowStream, attempt}}, key0, key1);
      const NamedSeries& s =
          *eligible[scale_to_range(bits.v[0], static_cast<uint32_t>(eligible.size()))];
      const auto length = static_cast<int64_t>(s.values.size());
      // Cuts with a full minimum context before and a full horizon after.
      const auto cuts = static_cast<uint32_t>(length - needed + 1);
      const int64_t cut = options.min_context + scale_to_range(bits.v[1], cuts);
      const int64_t end = cut + options.horizon;
      if (horizon_has_nan(s, cut, end)) continue;
      const int64_t start = std::max<int64_t>(0, cut - options.max_context);
      const std::string window = s.name + "[" + std::to_string(start) + ":" + std::to_string(cut) +
                                 "]+" + std::to_string(options.horizon);
      for (size_t r = 0; r <= s.other_rows.size(); ++r) {
        const std::vector<float>& row = r == 0 ? s.values : s.other_rows[r - 1];
        contexts.emplace_back(row.begin() + start, row.begin() + cut);
        targets.emplace_back(row.begin() + cut, row.begin() + end);
        descriptions.push_back(s.other_rows.empty() ? window
                                                    : window + " row " + std::to_string(r));
        group_ids.push_back(w);
        roles.push_back(r == 0 ? 0 : s.other_roles[r - 1]);
      }
      found = true;
    }
    if (!found) {
      throw DatasetError("window " + std::to_string(w) + ": no target without NaN in " +
                         std::to_string(kMaxAttempts) + " draws");
    }
  }
  result.task = pad_task(contexts, targets, std::move(descriptions));
  if (grouped) set_task_groups(result.task, std::move(group_ids), std::move(roles));
  return result;
}

}  // namespace crucible
