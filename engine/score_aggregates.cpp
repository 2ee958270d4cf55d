#include "crucible/engine/score_aggregates.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace crucible {

std::vector<double> aggregate_gaps(const std::vector<int64_t>& uids, const std::vector<double>& lo,
                                   const std::vector<double>& hi) {
  const size_t n = uids.size();
  std::vector<size_t> by_uid(n);
  std::iota(by_uid.begin(), by_uid.end(), size_t{0});
  std::sort(by_uid.begin(), by_uid.end(), [&](size_t a, size_t b) { return uids[a] < uids[b]; });

  std::vector<double> gaps(n, 0.0);
  for (size_t u = 0; u < n; ++u) {
    double sum = 0.0;
    int64_t terms = 0;
    for (size_t k : by_uid) {
      if (k == u) continue;
      const double term = hi[u] - lo[k];
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
