// Model commitments and content hashes (docs/scoring.md section 7).
//
// Parsing decisions beyond the header's rules:
//  - A commitment with MORE than four ':'-separated fields is rejected like one
//    with fewer: no field may contain ':' (a repo id cannot), so a fifth field
//    means the string is not a commitment rather than a commitment with a
//    ':' inside some field.
//  - A repo id with more than one '/' is rejected: the namespace and name are
//    single path segments.
//  - The competition field is ASCII digits only (no sign, no spaces) and must
//    fit in int64; an empty field means competition 0.
//  - Fields are otherwise taken as raw bytes; parse does not limit the total
//    length (a commitment read off the chain is whatever the chain holds).
//  - to_commitment throws ModelIdError for a hand-built ModelId that would not
//    parse back (empty or separator-holding fields, negative competition), as
//    well as when even a fully shortened name does not fit in 128 bytes.
#include "crucible/validator/model_id.h"

#include <openssl/evp.h>

#include <limits>
#include <stdexcept>
#include <string>

#include "crucible/common/quoted_text.h"
#include "crucible/validator/sha256.h"

namespace crucible {
namespace {

constexpr size_t kShownInputBytes = 64;  // at most this many input bytes in a message
constexpr size_t kHashSuffixHexChars = 8;

[[noreturn]] void fail(const std::string& commitment, const std::string& reason) {
  throw ModelIdError("invalid model commitment " +
                     quoted_for_message(commitment, kShownInputBytes) + ": " + reason);
}

// Parses the competition field: empty -> 0, otherwise ASCII digits that fit in int64.
CompetitionId parse_competition(const std::string& commitment, const std::string& field) {
  if (field.empty()) return 0;
  constexpr CompetitionId kMax = std::numeric_limits<CompetitionId>::max();
  CompetitionId value = 0;
  for (char ch : field) {
    if (ch < '0' || ch > '9') fail(commitment, "competition id is not a non-negative integer");
    const int digit = ch - '0';
    if (value > (kMax - digit) / 10) fail(commitment, "competition id does not fit in int64");
    value = value * 10 + digit;
  }
  return value;
}

// Standard base64 (RFC 4648 alphabet, '=' padding, no line breaks).
std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // + 1 for the NUL written
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[0]),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(written));
  return out;
}

// The first kHashSuffixHexChars lowercase hex characters of SHA-256(bytes).
std::string sha256_hex_prefix(const std::string& bytes) {
  return sha256_hex(bytes).substr(0, kHashSuffixHexChars);
}

}  // namespace

ModelId ModelId::parse(const std::string& commitment) {
  // Split on every ':'; exactly four fields (see the file comment for > 4).
  std::string fields[4];
  size_t count = 0;
  size_t start = 0;
  while (true) {
    const size_t colon = commitment.find(':', start);
    const size_t end = colon == std::string::npos ? commitment.size() : colon;
    if (count < 4) fields[count] = commitment.substr(start, end - start);
    ++count;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (count != 4) {
    fail(commitment, "expected 4 ':'-separated fields, got " + std::to_string(count));
  }

  const std::string& repo = fields[0];
  const size_t slash = repo.find('/');
  if (slash == std::string::npos) fail(commitment, "repo id has no '/'");
  if (repo.find('/', slash + 1) != std::string::npos)
    fail(commitment, "repo id has more than one '/'");

  ModelId id;
  id.namespace_ = repo.substr(0, slash);
  id.name = repo.substr(slash + 1);
  if (id.namespace_.empty()) fail(commitment, "empty namespace in repo id");
  if (id.name.empty()) fail(commitment, "empty name in repo id");
  id.commit = fields[1];
  id.secure_hash = fields[2];
  id.competition_id = parse_competition(commitment, fields[3]);
  return id;
}

std::string ModelId::to_commitment() const {
  // Refuse to write a commitment that parse() would read differently (or not at
  // all): such a ModelId was built by hand, never by parse().
  const auto check = [this](bool ok, const char* reason) {
    if (!ok) fail(namespace_ + "/" + name, reason);
  };
  check(!namespace_.empty() && !name.empty(), "empty namespace or name");
  check(namespace_.find_first_of(":/") == std::string::npos &&
            name.find_first_of(":/") == std::string::npos,
        "namespace or name contains ':' or '/'");
  check(commit.find(':') == std::string::npos && secure_hash.find(':') == std::string::npos,
        "commit or secure_hash contains ':'");
  check(competition_id >= 0, "negative competition id");

  const std::string tail = ":" + commit + ":" + secure_hash + ":" + std::to_string(competition_id);
  const size_t fixed = namespace_.size() + 1 + tail.size();  // everything but the name
  if (fixed + name.size() <= kMaxCommitmentBytes) return namespace_ + "/" + name + tail;

  // Shorten the name to `prefix-<8 hex of SHA-256(name)>`, keeping the longest
  // prefix that fits; the hash keeps distinct long names distinct.
  const size_t suffix = 1 + kHashSuffixHexChars;
  if (fixed + suffix > kMaxCommitmentBytes) {
    fail(namespace_ + "/" + name, "commitment cannot fit in " +
                                      std::to_string(kMaxCommitmentBytes) +
                                      " bytes even with the name shortened");
  }
  const size_t k = kMaxCommitmentBytes - fixed - suffix;
  return namespace_ + "/" + name.substr(0, k) + "-" + sha256_hex_prefix(name) + tail;
}

bool ModelId::operator==(const ModelId& other) const {
  return namespace_ == other.namespace_ && name == other.name && commit == other.commit &&
         secure_hash == other.secure_hash && competition_id == other.competition_id;
}

std::string sha256_base64(const std::string& bytes) { return base64(sha256_digest(bytes)); }

std::string content_hash(const std::map<std::string, std::string>& files) {
  // std::map iterates in byte-wise sorted path order, which is the order the
  // spec requires; the paths themselves are not hashed.
  std::string per_file;
  for (const auto& [path, bytes] : files) per_file += sha256_base64(bytes);
  return sha256_base64(per_file);
}

std::string secure_hash(const std::string& content_hash, const std::string& hotkey) {
  return sha256_base64(content_hash + hotkey);
}

}  // namespace crucible
