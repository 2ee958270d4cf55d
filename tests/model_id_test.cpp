// Tests for model commitments and content hashes (docs/scoring.md section 7).
#include "crucible/validator/model_id.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>

namespace crucible {
namespace {

using namespace std::string_literals;  // for strings with embedded NUL bytes

// Expects parse(text) to throw ModelIdError whose message contains `fragment`
// and is one line of printable ASCII.
void expect_rejected(const std::string& text, const std::string& fragment) {
  try {
    ModelId::parse(text);
    ADD_FAILURE() << "accepted: " << text;
  } catch (const ModelIdError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
    for (char c : what) {
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "raw byte " << static_cast<int>(c) << " in: " << what;
    }
  }
}

TEST(ModelIdParse, AllFields) {
  const ModelId id = ModelId::parse("acme/ts-model:abc123:SECURE+/=:7");
  EXPECT_EQ(id.namespace_, "acme");
  EXPECT_EQ(id.name, "ts-model");
  EXPECT_EQ(id.commit, "abc123");
  EXPECT_EQ(id.secure_hash, "SECURE+/=");
  EXPECT_EQ(id.competition_id, 7);
  EXPECT_EQ(id.repo_id(), "acme/ts-model");
}

TEST(ModelIdParse, EmptyCommitHashAndCompetition) {
  const ModelId id = ModelId::parse("a/b:::");
  EXPECT_EQ(id.namespace_, "a");
  EXPECT_EQ(id.name, "b");
  EXPECT_EQ(id.commit, "");
  EXPECT_EQ(id.secure_hash, "");
  EXPECT_EQ(id.competition_id, 0);  // empty competition field means competition 0
}

TEST(ModelIdParse, CompetitionRange) {
  EXPECT_EQ(ModelId::parse("a/b:c:h:0").competition_id, 0);
  EXPECT_EQ(ModelId::parse("a/b:c:h:007").competition_id, 7);
  EXPECT_EQ(ModelId::parse("a/b:c:h:9223372036854775807").competition_id, INT64_MAX);
}

TEST(ModelIdParse, RejectsWrongFieldCount) {
  expect_rejected("", "expected 4 ':'-separated fields, got 1");
  expect_rejected("a/b", "expected 4 ':'-separated fields, got 1");
  expect_rejected("a/b:c:h", "expected 4 ':'-separated fields, got 3");
  // More than four fields: no field may hold ':', so this is not a commitment.
  expect_rejected("a/b:c:h:1:", "expected 4 ':'-separated fields, got 5");
  expect_rejected("a/b:c:h:1:extra", "expected 4 ':'-separated fields, got 5");
  expect_rejected("::::::", "expected 4 ':'-separated fields, got 7");
}

TEST(ModelIdParse, RejectsBadRepoId) {
  expect_rejected("ab:c:h:1", "no '/'");
  expect_rejected(":c:h:1", "no '/'");
  expect_rejected("/b:c:h:1", "empty namespace");
  expect_rejected("a/:c:h:1", "empty name");
  expect_rejected("/:c:h:1", "empty namespace");
  expect_rejected("a/b/c:c:h:1", "more than one '/'");
  expect_rejected("a//b:c:h:1", "more than one '/'");
}

TEST(ModelIdParse, RejectsBadCompetition) {
  for (const char* field : {"-1", "+1", " 1", "1 ", "1.0", "0x10", "abc", "1e3", "\xd9\xa3"}) {
    expect_rejected("a/b:c:h:"s + field, "not a non-negative integer");
  }
  expect_rejected("a/b:c:h:9223372036854775808", "does not fit in int64");
  expect_rejected("a/b:c:h:99999999999999999999999", "does not fit in int64");
}

TEST(ModelIdParse, ErrorMessageEscapesAndTruncatesInput) {
  const auto message_of = [](const std::string& text) -> std::string {
    try {
      ModelId::parse(text);
    } catch (const ModelIdError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  const std::string reason = ": expected 4 ':'-separated fields, got 1";
  EXPECT_EQ(message_of("a\nb\0c\x01\xff\"\\"s),
            R"(invalid model commitment "a\x0ab\x00c\x01\xff\"\\")" + reason);
  // Only the first 64 input bytes are shown, then "..."; exactly 64 are shown whole.
  std::string shown;
  for (int i = 0; i < 64; ++i) shown += "\\x0a";
  EXPECT_EQ(message_of(std::string(1000, '\n')),
            "invalid model commitment \"" + shown + "\"..." + reason);
  const std::string limit_input(64, 'x');
  EXPECT_EQ(message_of(limit_input), "invalid model commitment \"" + limit_input + "\"" + reason);
}

TEST(ModelIdFormat, RoundTrip) {
  for (const char* text :
       {"acme/ts-model:abc123:SECURE+/=:7", "a/b:::0", "n/m:c::12",
        "org/x.y_z-1:0123456789abcdef:47DEQpj8HBSa+/TIm==:9223372036854775807"}) {
    const ModelId id = ModelId::parse(text);
    EXPECT_EQ(id.to_commitment(), text);
    EXPECT_EQ(ModelId::parse(id.to_commitment()), id);
  }
  // Non-canonical competition fields format canonically and still round-trip.
  EXPECT_EQ(ModelId::parse("a/b:::").to_commitment(), "a/b:::0");
  EXPECT_EQ(ModelId::parse("a/b:::007").to_commitment(), "a/b:::7");
}

TEST(ModelIdFormat, Equality) {
  const ModelId id = ModelId::parse("a/b:c:h:1");
  for (const char* other : {"x/b:c:h:1", "a/x:c:h:1", "a/b:x:h:1", "a/b:c:x:1", "a/b:c:h:2"}) {
    EXPECT_FALSE(ModelId::parse(other) == id) << other;
  }
  EXPECT_TRUE(ModelId::parse("a/b:c:h:01") == id);
}

TEST(ModelIdFormat, ExactlyMaxLengthIsNotShortened) {
  ModelId id{"ns", "", "c", "h", 1};
  id.name = std::string(ModelId::kMaxCommitmentBytes - std::string("ns/:c:h:1").size(), 'n');
  const std::string text = id.to_commitment();
  EXPECT_EQ(text.size(), ModelId::kMaxCommitmentBytes);
  EXPECT_EQ(ModelId::parse(text), id);
}

TEST(ModelIdFormat, LongNameIsShortenedWithHashSuffix) {
  ModelId id{"acme", std::string(200, 'x') + "tail", "c0ffee", "SECURE", 3};
  const std::string text = id.to_commitment();
  EXPECT_EQ(text.size(), ModelId::kMaxCommitmentBytes);  // the largest prefix that fits
  EXPECT_EQ(text, id.to_commitment());                   // deterministic

  const std::string hex8 = "0123456789abcdef";  // what the suffix is drawn from
  const ModelId back = ModelId::parse(text);
  EXPECT_EQ(back.namespace_, "acme");
  EXPECT_EQ(back.commit, "c0ffee");
  EXPECT_EQ(back.secure_hash, "SECURE");
  EXPECT_EQ(back.competition_id, 3);
  const size_t k = ModelId::kMaxCommitmentBytes - std::string("acme/:c0ffee:SECURE:3").size() - 9;
  ASSERT_EQ(back.name.size(), k + 9);
  EXPECT_EQ(back.name.substr(0, k), id.name.substr(0, k));
  EXPECT_EQ(back.name[k], '-');
  const std::string suffix = back.name.substr(k + 1);
  EXPECT_EQ(suffix.find_first_not_of(hex8), std::string::npos) << suffix;

  // The suffix depends on the whole name, including the part cut off.
  ModelId other = id;
  other.name = std::string(200, 'x') + "tale";
  const std::string other_text = other.to_commitment();
  EXPECT_EQ(other_text.size(), ModelId::kMaxCommitmentBytes);
  EXPECT_NE(other_text, text);
}

TEST(ModelIdFormat, ShorteningKnownSuffix) {
  // sha256("n" * 200) begins 1be63cc0 (computed with Python's hashlib).
  const ModelId id{"ns", std::string(200, 'n'), "", "", 0};
  const std::string text = id.to_commitment();
  const std::string tail = ":::0";
  const size_t k = ModelId::kMaxCommitmentBytes - std::string("ns/").size() - tail.size() - 9;
  EXPECT_EQ(text, "ns/" + std::string(k, 'n') + "-1be63cc0" + tail);
}

TEST(ModelIdFormat, ShorteningToEmptyPrefix) {
  // The fixed part leaves room for exactly "-<8 hex>": k = 0.
  ModelId id{"ns", std::string(50, 'n'), "", "", 0};
  id.commit = std::string(ModelId::kMaxCommitmentBytes - std::string("ns/:::0").size() - 9, 'c');
  const std::string text = id.to_commitment();
  EXPECT_EQ(text.size(), ModelId::kMaxCommitmentBytes);
  EXPECT_EQ(ModelId::parse(text).name.size(), 9u);
  EXPECT_EQ(ModelId::parse(text).name[0], '-');
}

TEST(ModelIdFormat, ThrowsWhenNothingFits) {
  ModelId id{"ns", "name", "", "", 0};
  id.commit = std::string(ModelId::kMaxCommitmentBytes, 'c');
  EXPECT_THROW(id.to_commitment(), ModelIdError);
}

TEST(ModelIdFormat, RefusesFieldsThatWouldNotParseBack) {
  const ModelId good{"ns", "name", "c", "h", 1};
  for (auto mutate :
       {+[](ModelId& m) { m.namespace_.clear(); }, +[](ModelId& m) { m.name.clear(); },
        +[](ModelId& m) { m.name = "a/b"; }, +[](ModelId& m) { m.namespace_ = "a:b"; },
        +[](ModelId& m) { m.commit = "a:b"; }, +[](ModelId& m) { m.secure_hash = ":"; },
        +[](ModelId& m) { m.competition_id = -1; }}) {
    ModelId bad = good;
    mutate(bad);
    EXPECT_THROW(bad.to_commitment(), ModelIdError);
  }
}

TEST(HashSha256Base64, KnownVectors) {
  EXPECT_EQ(sha256_base64(""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(sha256_base64("abc"), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
  // Embedded NUL bytes are hashed, not treated as a terminator.
  EXPECT_NE(sha256_base64("a\0b"s), sha256_base64("a"));
}

TEST(HashContentHash, TwoFilesByHand) {
  const std::map<std::string, std::string> files = {{"model.bin", "weights"},
                                                    {"config.json", "config"}};
  // Sorted path order: config.json before model.bin.
  const std::string expected = sha256_base64(sha256_base64("config") + sha256_base64("weights"));
  EXPECT_EQ(content_hash(files), expected);
  EXPECT_EQ(expected, "EiuCkb8bUbBgCUzhk3dx0npnSnJ460y7UGJPzV1wKxQ=");  // Python hashlib
}

TEST(HashContentHash, IndependentOfInsertionOrder) {
  std::map<std::string, std::string> forward;
  std::map<std::string, std::string> backward;
  const std::string paths[] = {"a.txt", "b/c.bin", "b/d.bin", "z"};
  for (size_t i = 0; i < 4; ++i) forward[paths[i]] = "content " + std::to_string(i);
  for (size_t i = 4; i-- > 0;) backward[paths[i]] = "content " + std::to_string(i);
  EXPECT_EQ(content_hash(forward), content_hash(backward));
}

TEST(HashContentHash, DependsOnBytesAndPathOrder) {
  const std::map<std::string, std::string> base = {{"a", "one"}, {"b", "two"}};
  const std::string h = content_hash(base);

  std::map<std::string, std::string> changed = base;
  changed["b"] = "two\0"s;  // one extra byte
  EXPECT_NE(content_hash(changed), h);

  // Swapping which path holds which bytes changes the order they are hashed in.
  const std::map<std::string, std::string> swapped = {{"a", "two"}, {"b", "one"}};
  EXPECT_NE(content_hash(swapped), h);

  // Paths enter only through their order: a rename that keeps the order keeps
  // the hash, one that reorders the files changes it.
  EXPECT_EQ(content_hash({{"x", "one"}, {"y", "two"}}), h);
  EXPECT_NE(content_hash({{"z", "one"}, {"y", "two"}}), h);

  std::map<std::string, std::string> extra = base;
  extra["c"] = "";
  EXPECT_NE(content_hash(extra), h);
  EXPECT_EQ(content_hash({}), sha256_base64(""));
}

TEST(HashSecureHash, IsHashOfContentHashPlusHotkey) {
  const std::string ch = content_hash({{"model.bin", "weights"}});
  const std::string hotkey = "5F3sa2TJAWMqDhXG6jhV4N8ko9SxwGy8TpaNS1repo5EYjQX";
  EXPECT_EQ(secure_hash(ch, hotkey), sha256_base64(ch + hotkey));
  EXPECT_NE(secure_hash(ch, hotkey), secure_hash(ch, hotkey + "x"));
}

// Random byte strings, biased toward the separators, NUL and high bytes, must
// either parse or throw ModelIdError; those that parse must format back to a
// commitment that parses to the same ModelId when it fits without shortening,
// and to the same ModelId but for the shortened name when it does not.
TEST(ModelIdFuzz, RandomBytesParseOrThrowModelIdError) {
  std::mt19937 rng(20240531);
  std::uniform_int_distribution<int> length(0, 300);
  std::uniform_int_distribution<int> pick(0, 15);
  std::uniform_int_distribution<int> any_byte(0, 255);
  const char special[] = {':', '/', '\0', '\xff', '\x80', '0', '9', 'a'};
  int parsed = 0;
  int round_tripped = 0;
  int shortened = 0;
  int refused = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string text(static_cast<size_t>(length(rng)), '\0');
    for (char& c : text) {
      const int p = pick(rng);
      c = p < 8 ? special[p] : static_cast<char>(any_byte(rng));
    }
    // Two thirds of the inputs are near-valid so that many parse: a short raw
    // chunk in the name, or the chunk without separators as a long name and
    // commit (exercising the shortening and the too-long refusal).
    if (iter % 3 == 1) {
      text = "ns/n" + text.substr(0, text.size() / 4) + ":c:h:" + std::to_string(iter);
    } else if (iter % 3 == 2) {
      std::replace_if(
          text.begin(), text.end(), [](char c) { return c == ':' || c == '/'; }, '_');
      text = "ns/n" + text + ":" + text.substr(0, text.size() / 2) + ":h:" + std::to_string(iter);
    }

    ModelId id;
    try {
      id = ModelId::parse(text);
    } catch (const ModelIdError&) {
      continue;
    } catch (...) {
      FAIL() << "non-ModelIdError exception at iteration " << iter;
    }
    ++parsed;
    const size_t canonical_size = id.repo_id().size() + id.commit.size() + id.secure_hash.size() +
                                  std::to_string(id.competition_id).size() + 3;
    try {
      const std::string formatted = id.to_commitment();
      ASSERT_LE(formatted.size(), ModelId::kMaxCommitmentBytes);
      ModelId back = ModelId::parse(formatted);
      if (canonical_size <= ModelId::kMaxCommitmentBytes) {
        ASSERT_EQ(back, id) << "iteration " << iter;
        ++round_tripped;
      } else {
        ASSERT_EQ(formatted.size(), ModelId::kMaxCommitmentBytes) << "iteration " << iter;
        back.name = id.name;
        ASSERT_EQ(back, id) << "iteration " << iter;
        ++shortened;
      }
    } catch (const ModelIdError&) {
      // Only a commitment too long even with an empty name prefix may fail.
      ASSERT_GT(canonical_size - id.name.size() + 9, ModelId::kMaxCommitmentBytes);
      ++refused;
    }
  }
  EXPECT_GT(parsed, 5000);
  EXPECT_GT(round_tripped, 1000);
  EXPECT_GT(shortened, 100);
  EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace crucible
