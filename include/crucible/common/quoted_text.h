// Text that came from outside (a miner, a hub, the chain) made safe to show
// inside a one-line error or log message.
#pragma once

#include <cstddef>
#include <string>

namespace crucible {

// `text` in double quotes: printable ASCII kept, '"' and '\' escaped with a
// backslash, every other byte (control bytes, NUL, bytes >= 0x80) as \xHH.
// Only the first `max_bytes` bytes of `text` are shown; when it is longer,
// "..." follows the closing quote. Examples with max_bytes 4:
//   a"b\n  -> "a\"b\x0a"
//   abcdef -> "abcd"...
std::string quoted_for_message(const std::string& text, size_t max_bytes);

}  // namespace crucible
