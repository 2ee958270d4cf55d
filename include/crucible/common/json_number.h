// A double as a JSON value: the number, or null when it is NaN or infinite
// (JSON has no such numbers). Used by every document crucible writes.
#pragma once

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

namespace crucible {

inline nlohmann::ordered_json json_number(double value) {
  return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

// A loss in a saved document: +inf (a failed evaluation) is written as null
// and read back as +inf.
inline nlohmann::json loss_to_json(double loss) {
  return std::isfinite(loss) ? nlohmann::json(loss) : nlohmann::json(nullptr);
}

inline double loss_from_json(const nlohmann::json& value) {
  return value.is_null() ? std::numeric_limits<double>::infinity() : value.get<double>();
}

}  // namespace crucible
