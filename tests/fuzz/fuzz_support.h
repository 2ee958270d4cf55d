// What the fuzz targets share: a property check that aborts (libFuzzer and the
// replay tests then report the input as a crash) and the documented shape of
// an error message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace crucible::fuzz {

// Aborts, printing `what`, when `ok` is false: a broken property is a bug.
inline void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz property broken: %s\n", what);
  std::abort();
}

// A message as the parsers document it: one line that starts with `prefix`.
inline void require_message(const std::string& message, const std::string& prefix) {
  require(message.rfind(prefix, 0) == 0, "the error message does not start with its label");
  require(message.find('\n') == std::string::npos, "the error message is not one line");
}

// The input as text.
inline std::string text_of(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace crucible::fuzz
