#include "crucible/validator/safe_names.h"

namespace crucible {

bool is_ascii_alphanumeric(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_safe_path_segment(const std::string& segment) {
  if (segment.empty() || segment[0] == '.') return false;
  for (char c : segment) {
    if (!is_ascii_alphanumeric(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace crucible
