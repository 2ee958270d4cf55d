#include "crucible/engine/scoring/score_aggregates.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace crucible {

std::vector<double> aggregate_gaps(const std::vector<double>& lo, const std::vector<double>& hi) {
  // A NaN lo[k] only gives NaN terms, so the sum runs over the others, sorted.
  std::vector<double> sorted_lo;
  for (double v : lo) {
    if (!std::isnan(v)) sorted_lo.push_back(v);
  }
  std::sort(sorted_lo.begin(), sorted_lo.end());

  std::vector<double> gaps(lo.size(), 0.0);
  for (size_t u = 0; u < lo.size(); ++u) {
    double sum = 0.0;
    int64_t terms = 0;
    bool own_skipped = std::isnan(lo[u]);  // the k = u term; equal values are interchangeable
    for (double v : sorted_lo) {
      if (!own_skipped && v == lo[u]) {
        own_skipped = true;
        continue;
      }
      const double term = hi[u] - v;
      if (std::isnan(term)) continue;
      sum += term;
      ++terms;
    }
    gaps[u] = terms > 0 ? sum / static_cast<double>(terms) : 0.0;
  }
  return gaps;
}

std::vector<double> separation_scores(const std::vector<double>& gaps) {
  std::vector<double> sep(gaps.size(), 1.0);
  if (gaps.size() < 2) return sep;
  const auto [min_it, max_it] = std::minmax_element(gaps.begin(), gaps.end());
  const double lowest = *min_it, highest = *max_it;
  if (highest - lowest <= 1e-12 * std::max(1.0, std::fabs(highest))) return sep;
  for (size_t u = 0; u < gaps.size(); ++u) {
    const double s = (gaps[u] - highest) / (lowest - highest);
    sep[u] = std::isnan(s) ? 0.0 : s + 0.0;  // + 0.0 turns -0 into 0
  }
  return sep;
}

std::vector<double> composite_scores(const std::vector<double>& win_rates,
                                     const std::vector<double>& separations) {
  std::vector<double> composite(win_rates.size());
  for (size_t u = 0; u < win_rates.size(); ++u) {
    const double c = win_rates[u] * separations[u];
    composite[u] = std::isnan(c) ? 0.0 : c;
  }
  return composite;
}

}  // namespace crucible
