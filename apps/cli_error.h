// The one way a subcommand fails: a one-line reason that names the input.
#pragma once

#include <stdexcept>
#include <string>

namespace crucible {

class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Runs `step`; an std::invalid_argument it throws becomes a CliError whose
// message starts with `context` (a file path or a flag).
template <typename Step>
auto with_context(const std::string& context, Step&& step) -> decltype(step()) {
  try {
    return step();
  } catch (const std::invalid_argument& e) {
    throw CliError(context + ": " + e.what());
  }
}

}  // namespace crucible
