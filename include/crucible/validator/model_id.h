// The chain-side identity of a model (docs/scoring.md section 7): the commitment
// string `namespace/name:commit:secure_hash:competition_id`, and the content
// and secure hashes that tie a download to a commitment.
#pragma once

#include <map>
#include <string>

#include "crucible/validator/types.h"

namespace crucible {

// Thrown by ModelId::parse for any malformed input: what() is one line.
class ModelIdError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ModelId {
  std::string namespace_;   // the part of the repo id before '/', non-empty
  std::string name;         // the part after '/', non-empty
  std::string commit;       // may be empty
  std::string secure_hash;  // may be empty
  CompetitionId competition_id = 0;

  static constexpr size_t kMaxCommitmentBytes = 128;

  // Parses a commitment string. Accepts any bytes; throws ModelIdError for
  // fewer than four ':'-separated fields, a repo id without '/', an empty
  // namespace or name, or a competition field that is not a non-negative
  // integer (an empty one means 0). Never crashes, never reads out of bounds.
  static ModelId parse(const std::string& commitment);

  // "namespace/name:commit:secure_hash:competition_id"; when longer than
  // kMaxCommitmentBytes the name is shortened to `prefix-<8 hex of SHA-256 of
  // the name>` so the whole fits.
  std::string to_commitment() const;

  std::string repo_id() const { return namespace_ + "/" + name; }

  bool operator==(const ModelId& other) const;
};

// Base64 (standard alphabet, padded) of the SHA-256 of `bytes`.
std::string sha256_base64(const std::string& bytes);

// The content hash of a model: base64 SHA-256 over the concatenated base64
// SHA-256 of each file's bytes, files taken in sorted path order.
// `files` maps relative path -> file bytes.
std::string content_hash(const std::map<std::string, std::string>& files);

// base64 SHA-256 of content_hash + hotkey.
std::string secure_hash(const std::string& content_hash, const std::string& hotkey);

}  // namespace crucible
