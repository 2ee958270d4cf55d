// SHA-256 (OpenSSL's libcrypto) for the validator's content hashes, state
// checksums and round seeds: one digest, in the forms they need.
#pragma once

#include <cstdint>
#include <string>

namespace crucible {

// The 32-byte SHA-256 digest of `bytes`. Throws std::runtime_error if
// libcrypto fails.
std::string sha256_digest(const std::string& bytes);

// `bytes` as lowercase hexadecimal, two characters per byte.
std::string lowercase_hex(const std::string& bytes);

// lowercase_hex(sha256_digest(bytes)): 64 characters.
std::string sha256_hex(const std::string& bytes);

}  // namespace crucible
