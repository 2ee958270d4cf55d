// A double as a JSON value: the number, or null when it is NaN or infinite
// (JSON has no such numbers). Used by every document crucible writes.
#pragma once

#include <cmath>

#include <nlohmann/json.hpp>

namespace crucible {

inline nlohmann::ordered_json json_number(double value) {
  return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

}  // namespace crucible
