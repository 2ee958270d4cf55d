// Quantile levels of a task: validated, sorted, deduplicated (docs/scoring.md s.1).
#pragma once

#include <string>
#include <vector>

namespace crucible {

// The default levels 0.1, 0.2, ..., 0.9.
std::vector<double> default_quantile_levels();

// Sorts and deduplicates `levels`. Throws std::invalid_argument when the list
// is empty or a level is not strictly inside (0, 1).
std::vector<double> normalize_quantile_levels(std::vector<double> levels);

// Parses "0.1,0.5,0.9" and normalises it. Throws std::invalid_argument naming
// the bad item.
std::vector<double> parse_quantile_levels(const std::string& text);

// Index of the level nearest 0.5 (the lower one on a tie): the median forecast.
int median_level_index(const std::vector<double>& sorted_levels);

}  // namespace crucible
