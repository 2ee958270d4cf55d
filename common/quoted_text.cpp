#include "crucible/common/quoted_text.h"

namespace crucible {

std::string quoted_for_message(const std::string& text, size_t max_bytes) {
  static const char kHex[] = "0123456789abcdef";
  const size_t shown = text.size() < max_bytes ? text.size() : max_bytes;
  std::string out = "\"";
  for (size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  out += '"';
  if (shown < text.size()) out += "...";
  return out;
}

}  // namespace crucible
