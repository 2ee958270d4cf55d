// How the validator core logs: a callback with a level, which the caller
// routes to its logger (the command line: spdlog), so the core depends on no
// logging library. An empty callback discards everything.
#pragma once

#include <functional>
#include <string>

namespace crucible {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// One line, no trailing newline. Called from several threads (the step loop,
// the model manager), so it must be thread-safe.
using Log = std::function<void(LogLevel level, const std::string& line)>;

}  // namespace crucible
