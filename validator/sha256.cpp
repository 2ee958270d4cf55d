#include "crucible/validator/sha256.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace crucible {

std::string sha256_digest(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256: EVP_Digest failed");
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string lowercase_hex(const std::string& bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes.size());
  for (const char byte : bytes) {
    const auto c = static_cast<unsigned char>(byte);
    hex += kHex[c >> 4];
    hex += kHex[c & 0xf];
  }
  return hex;
}

std::string sha256_hex(const std::string& bytes) { return lowercase_hex(sha256_digest(bytes)); }

}  // namespace crucible
