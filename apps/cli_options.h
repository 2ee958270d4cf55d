// Options several subcommands share, checked the same way everywhere.
#pragma once

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cli_error.h"
#include "crucible/engine/models/torchscript/worker_pool.h"

namespace crucible {

// --memory-limit-mib: 0 (none) or at least what a worker needs to start on
// this machine; throws CliError with the minimum otherwise.
inline void check_worker_memory_limit(long long mib) {
  if (mib < 0) throw CliError("--memory-limit-mib: expected a size >= 0");
  const long long minimum_mib = minimum_worker_memory_limit_bytes() >> 20;
  if (mib > 0 && mib < minimum_mib) {
    throw CliError("--memory-limit-mib: " + std::to_string(mib) +
                   " MiB is below what a worker needs to start here (at least " +
                   std::to_string(minimum_mib) + " MiB of address space)");
  }
}

// --seed: a decimal integer in [0, 2^64 - 1]; "-1", "1e3" or an overflowing
// number are refused (CLI11 alone would wrap a negative into a huge seed).
inline CLI::Option* add_seed_option(CLI::App* command, uint64_t& seed, const std::string& help) {
  const CLI::Validator decimal(
      [](std::string& text) {
        const bool digits =
            !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        errno = 0;
        if (digits) std::strtoull(text.c_str(), nullptr, 10);
        if (!digits || errno == ERANGE) {
          return "expected an integer from 0 to 18446744073709551615, got \"" + text + "\"";
        }
        return std::string();
      },
      "UINT64");
  return command->add_option("--seed", seed, help)->check(decimal);
}

// A number > 0, said in one short line when it is not.
inline CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !(value > 0.0)) {
          return "expected a number > 0, got \"" + text + "\"";
        }
        return std::string();
      },
      "NUMBER > 0");
}

}  // namespace crucible
