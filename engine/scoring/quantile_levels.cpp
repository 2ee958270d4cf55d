#include "crucible/engine/scoring/quantile_levels.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace crucible {

std::vector<double> default_quantile_levels() {
  std::vector<double> levels;
  for (int i = 1; i <= 9; ++i) levels.push_back(i / 10.0);
  return levels;
}

std::vector<double> normalize_quantile_levels(std::vector<double> levels) {
  if (levels.empty()) throw std::invalid_argument("quantile list is empty");
  for (double level : levels) {
    if (!(level > 0.0 && level < 1.0)) {
      std::ostringstream message;
      message << "quantile level " << level << " is not strictly inside (0, 1)";
      throw std::invalid_argument(message.str());
    }
  }
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  return levels;
}

std::vector<double> parse_quantile_levels(const std::string& text) {
  std::vector<double> levels;
  std::istringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    size_t used = 0;
    double level = 0.0;
    try {
      level = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || item.find_first_not_of(" ", used) != std::string::npos) {
      throw std::invalid_argument("quantile '" + item + "' is not a number");
    }
    levels.push_back(level);
  }
  return normalize_quantile_levels(std::move(levels));
}

int median_level_index(const std::vector<double>& sorted_levels) {
  int best = 0;
  for (int i = 1; i < static_cast<int>(sorted_levels.size()); ++i) {
    if (std::fabs(sorted_levels[i] - 0.5) < std::fabs(sorted_levels[best] - 0.5)) best = i;
  }
  return best;
}

}  // namespace crucible
