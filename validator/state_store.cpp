#include "crucible/validator/state_store.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "crucible/common/files.h"
#include "crucible/validator/sha256.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCurrent = "CURRENT";
constexpr const char* kGenerationPrefix = "state-";
constexpr const char* kTempSuffix = ".tmp";
constexpr const char* kMeta = "meta.json";
constexpr const char* kQueues = "queues.json";
constexpr const char* kEma = "ema.json";
constexpr const char* kModels = "models.json";
constexpr const char* kFormatVersionKey = "format_version";
constexpr const char* kStepKey = "step";
constexpr const char* kSha256Key = "sha256";
constexpr const char* kCurrentTempPrefix = "CURRENT.tmp.";  // write_file_atomically's temporaries
constexpr const char* kMissing = "missing";  // the damage of a file that is not there
constexpr size_t kReasonBytes = 200;         // of an exception's message quoted in a report line

// A part of the state: its file, and how the report names what it holds.
struct Part {
  const char* file;
  const char* updates;  // what an older copy lacks
  const char* fresh;    // what starting it fresh means
};
constexpr Part kParts[] = {{kQueues, "queue changes", "the queues start fresh"},
                           {kEma, "EMA updates", "the EMAs start fresh"},
                           {kModels, "model tracker changes", "the model tracker starts fresh"}};

// The number of a generation folder name ("state-000042" -> 42), or -1.
long generation_number(const std::string& name) {
  const std::string prefix = kGenerationPrefix;
  if (name.rfind(prefix, 0) != 0) return -1;
  const std::string digits = name.substr(prefix.size());
  if (digits.empty() || digits.size() > 12 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return -1;
  }
  return std::stol(digits);
}

std::string generation_name(long number) {
  char name[32];
  std::snprintf(name, sizeof name, "%s%06ld", kGenerationPrefix, number);
  return name;
}

// `text` as one line of valid UTF-8: each byte that does not belong to a
// valid UTF-8 sequence, and each control character (C0, DEL, C1, the line
// and paragraph separators), becomes U+FFFD.
std::string plain_line(const std::string& text) {
  static const std::string kReplacement = "\xEF\xBF\xBD";
  std::string line;
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t code = 0, smallest = 0;
    if (lead < 0x80) {
      length = 1;
      code = lead;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      code = lead & 0x1F;
      smallest = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      code = lead & 0x0F;
      smallest = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      code = lead & 0x07;
      smallest = 0x10000;
    }
    bool valid = length > 0 && i + length <= text.size();
    for (size_t k = 1; valid && k < length; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3F);
    }
    valid = valid && code >= smallest && code <= 0x10FFFF && (code < 0xD800 || code > 0xDFFF);
    const bool control =
        code < 0x20 || (code >= 0x7F && code <= 0x9F) || code == 0x2028 || code == 0x2029;
    if (!valid) length = 1;
    line += valid && !control ? text.substr(i, length) : kReplacement;
    i += length;
  }
  return line;
}

// The first line of an exception's message, at most kReasonBytes bytes.
std::string reason_of(const std::exception& e) {
  const std::string what = e.what();
  return what.substr(0, std::min(what.find('\n'), kReasonBytes));
}

// The bytes of `file` into `text`; "" or why they cannot be had.
std::string read_bytes(const std::string& file, std::string& text) {
  std::error_code error;
  if (!fs::exists(fs::symlink_status(file, error))) return kMissing;
  try {
    text = read_file(file);
  } catch (const std::runtime_error& e) {
    return "unreadable: " + reason_of(e);
  }
  return "";
}

// Why `text` does not parse, in our words (the parser's message quotes the
// bytes it stopped at, which may be anything).
std::string parse_damage(const nlohmann::json::parse_error& e, size_t size) {
  if (size == 0) return "empty";
  if (e.byte > size) {
    return "truncated: the JSON ends early, after " + std::to_string(size) + " bytes";
  }
  return "not JSON: a syntax error at byte " + std::to_string(e.byte) + " of " +
         std::to_string(size);
}

struct Meta {
  std::string damage;  // why meta.json is not intact; "" when it is
  int version = StateStore::kFormatVersion;
  int64_t step = 0;
  std::map<std::string, std::string> sha256;  // part file -> hex; empty before checksums
};

Meta read_meta(const std::string& file) {
  Meta meta;
  std::string text;
  meta.damage = read_bytes(file, text);
  if (!meta.damage.empty()) return meta;
  try {
    const nlohmann::json document = nlohmann::json::parse(text);
    meta.version = document.at(kFormatVersionKey).get<int>();
    meta.step = document.value(kStepKey, int64_t{0});
    if (document.contains(kSha256Key)) {
      meta.sha256 = document.at(kSha256Key).get<std::map<std::string, std::string>>();
    }
  } catch (const nlohmann::json::parse_error& e) {
    meta = Meta();
    meta.damage = parse_damage(e, text.size());
  } catch (const nlohmann::json::exception& e) {
    meta = Meta();
    meta.damage = "not a meta document: " + reason_of(e);
  }
  return meta;
}

// Restores `part` of `state` from `file` (in a generation whose meta.json is
// `meta`); "" or why the file is damaged, `state` then unchanged.
std::string restore_part(ValidatorState& state, const Part& part, const std::string& file,
                         const Meta& meta) {
  std::string text;
  const std::string damage = read_bytes(file, text);
  if (!damage.empty()) return damage;
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return parse_damage(e, text.size());
  }
  if (!document.is_object()) return "not a JSON object";
  const auto expected = meta.sha256.find(part.file);
  if (meta.damage.empty() && expected != meta.sha256.end()) {
    const std::string actual = sha256_hex(text);
    if (actual != expected->second) {
      return "its SHA-256 " + actual.substr(0, 16) + "... is not the " +
             expected->second.substr(0, 16) + "... meta.json lists";
    }
  }
  const nlohmann::json none;
  const std::string name = part.file;
  try {
    state.restore(name == kQueues ? document : none, name == kEma ? document : none,
                  name == kModels ? document : none);
  } catch (const std::exception& e) {
    return "rejected: " + reason_of(e);
  }
  return "";
}

// A generation as load() finds it, examined on first use.
struct Generation {
  std::string name;
  bool examined = false;
  bool usable = false;  // present, and of our format version
  bool step_known = false;
  Meta meta;

  std::string label() const {
    return name + " (step " + (step_known ? std::to_string(meta.step) : "unknown") + ")";
  }
};

std::string joined_labels(const std::vector<const Generation*>& generations) {
  std::string text;
  for (const Generation* g : generations) text += (text.empty() ? "" : ", ") + g->label();
  return text;
}

// What a part restored from `from` lacks, `current` being the generation it
// should have come from.
std::string lost(const Part& part, const Generation& from, const Generation& current) {
  const std::string what = std::string("the ") + part.updates;
  if (!from.step_known || !current.step_known || current.meta.step <= from.meta.step) {
    return what + " saved after " + from.name + " are lost";
  }
  const int64_t first = from.meta.step + 1, last = current.meta.step;
  return what + " of " +
         (first == last ? "step " + std::to_string(last)
                        : "steps " + std::to_string(first) + " to " + std::to_string(last)) +
         " are lost";
}

}  // namespace

StateStore::StateStore(std::string directory, CrashPoint crash_point)
    : directory_(std::move(directory)), crash_point_(std::move(crash_point)) {}

std::string StateStore::path(const std::string& name) const { return directory_ + "/" + name; }

void StateStore::crash_point(const std::string& step) const {
  if (crash_point_) crash_point_(step);
}

void StateStore::save(const ValidatorState& state, int64_t step) {
  const ValidatorStateSnapshot snapshot = state.snapshot();
  std::error_code error;
  fs::create_directories(directory_, error);
  if (error) throw std::runtime_error(directory_ + ": cannot create: " + error.message());

  // Next number after every generation present, finished or not.
  long last = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory_)) {
    std::string name = entry.path().filename().string();
    if (name.size() > 4 && name.compare(name.size() - 4, 4, kTempSuffix) == 0) {
      name.resize(name.size() - 4);
    }
    last = std::max(last, generation_number(name));
  }
  const std::string generation = generation_name(last + 1);
  // The generations that stay besides the new one: the newest ones load() reads.
  std::vector<std::string> kept;
  for (const std::string& name : generations(nullptr)) {
    if (kept.size() + 1 < kGenerationsKept && fs::is_directory(path(name))) kept.push_back(name);
  }
  const std::string temp = path(generation + kTempSuffix);
  std::string written;  // the folder this save has written so far, until CURRENT names it
  try {
    fs::create_directory(temp, error);
    if (error) throw std::runtime_error(temp + ": cannot create: " + error.message());
    written = temp;

    const std::pair<const char*, std::string> parts[] = {{kQueues, snapshot.queues.dump()},
                                                         {kEma, snapshot.ema.dump()},
                                                         {kModels, snapshot.models.dump()}};
    nlohmann::json checksums = nlohmann::json::object();
    for (const auto& [file, text] : parts) {
      checksums[file] = sha256_hex(text);
      crash_point(std::string("write ") + file);
      write_file_atomically(temp + "/" + file, text);
    }
    crash_point(std::string("write ") + kMeta);
    write_file_atomically(temp + "/" + kMeta, nlohmann::json{{kFormatVersionKey, kFormatVersion},
                                                             {kStepKey, step},
                                                             {kSha256Key, checksums}}
                                                  .dump());
    crash_point("rename generation");
    fs::rename(temp, path(generation), error);
    if (error) throw std::runtime_error(path(generation) + ": cannot rename: " + error.message());
    written = path(generation);
    sync_directory(directory_);
    crash_point("switch CURRENT");
    write_file_atomically(path(kCurrent), generation + "\n");
  } catch (const std::exception&) {
    // A save that fails (disk full, read-only folder) removes what it wrote
    // where it can; later saves remove what it could not. (A crash leaves its
    // files, as a killed process does: tests throw a non-std exception.)
    if (!written.empty()) fs::remove_all(written, error);
    throw;
  }

  // Remove the generations not kept and what earlier saves that failed or
  // were killed left unfinished (only this process writes here).
  crash_point("remove old generations");
  for (const fs::directory_entry& entry : fs::directory_iterator(directory_)) {
    const std::string name = entry.path().filename().string();
    const long number = generation_number(name);
    const bool unfinished = (name.rfind(kGenerationPrefix, 0) == 0 && number < 0) ||
                            name.rfind(kCurrentTempPrefix, 0) == 0;
    const bool other = number >= 0 && name != generation &&
                       std::find(kept.begin(), kept.end(), name) == kept.end();
    if (unfinished || other) fs::remove_all(entry.path(), error);
  }
}

std::string StateStore::move_aside(const std::string& name, const std::string& label) const {
  std::string target = path(label);
  for (int n = 1; fs::exists(target); ++n) target = path(label + "." + std::to_string(n));
  std::error_code error;
  fs::rename(path(name), target, error);
  return error ? "(could not move it: " + error.message() + ")" : "moved to " + target;
}

std::vector<std::string> StateStore::generations(LoadReport* report) const {
  std::map<long, std::string> folders;  // the finished generation folders by number
  for (const fs::directory_entry& entry : fs::directory_iterator(directory_)) {
    const std::string name = entry.path().filename().string();
    if (generation_number(name) >= 0 && entry.is_directory()) {
      folders[generation_number(name)] = name;
    }
  }
  std::string current;
  std::error_code error;
  if (fs::exists(fs::symlink_status(path(kCurrent), error))) {
    try {
      current = read_file(path(kCurrent));
      current.erase(current.find_last_not_of('\n') + 1);
    } catch (const std::runtime_error&) {
      current.clear();
    }
    if (generation_number(current) < 0) {
      current.clear();
      if (report != nullptr) {
        report->warnings.push_back(path(kCurrent) + ": does not name a generation; " +
                                   move_aside(kCurrent, "CURRENT.corrupt"));
      }
    }
  }
  if (current.empty() && !folders.empty()) current = folders.rbegin()->second;
  if (current.empty()) return {};
  std::vector<std::string> order = {current};
  for (auto folder = folders.rbegin(); folder != folders.rend(); ++folder) {
    if (folder->first < generation_number(current)) order.push_back(folder->second);
  }
  return order;
}

int64_t StateStore::saved_step() const {
  if (!fs::is_directory(directory_)) return 0;
  int64_t step = 0;
  for (const std::string& name : generations(nullptr)) {
    const Meta meta = read_meta(path(name) + "/" + kMeta);
    if (meta.damage.empty()) step = std::max(step, meta.step);
  }
  return step;
}

StateStore::LoadReport StateStore::load(ValidatorState& state) {
  LoadReport report;
  if (!fs::is_directory(directory_)) return report;
  std::error_code error;
  const bool had_current = fs::exists(fs::symlink_status(path(kCurrent), error));
  std::vector<Generation> found;
  for (const std::string& name : generations(&report)) {
    found.emplace_back();
    found.back().name = name;
  }
  if (found.empty() && !had_current) return report;  // a first start

  // A damaged file of `generation`: where it went.
  auto damaged = [&](const std::string& file, const Generation& generation,
                     const std::string& damage) {
    if (damage == kMissing) return file + " of " + generation.label() + " is missing";
    return file + " of " + generation.label() + " is damaged (" + damage + "); " +
           move_aside(generation.name + "/" + file, "corrupt-" + generation.name + "-" + file);
  };
  auto examine = [&](Generation& g) {
    if (g.examined) return;
    g.examined = true;
    if (!fs::is_directory(path(g.name))) {
      report.warnings.push_back(path(g.name) + ": missing, although CURRENT names it");
      return;
    }
    g.meta = read_meta(path(g.name) + "/" + kMeta);
    g.step_known = g.meta.damage.empty();
    if (!g.step_known) {
      report.warnings.push_back(damaged(kMeta, g, g.meta.damage) +
                                "; its parts are checked by parsing only");
    } else if (g.meta.version != kFormatVersion) {
      report.warnings.push_back(
          path(g.name) + ": format version " + std::to_string(g.meta.version) + " is not " +
          std::to_string(kFormatVersion) + "; skipped, " +
          move_aside(g.name, "incompatible-" + g.name + "-v" + std::to_string(g.meta.version)));
      return;
    }
    g.usable = true;
  };

  for (const Part& part : kParts) {
    PartSource source;
    source.part = part.file;
    std::vector<const Generation*> passed;  // the generations without an intact copy
    const Generation* from = nullptr;
    for (Generation& g : found) {
      examine(g);
      const std::string damage =
          g.usable ? restore_part(state, part, path(g.name) + "/" + part.file, g.meta) : "";
      if (g.usable && damage.empty()) {
        from = &g;
        break;
      }
      if (g.usable) report.warnings.push_back(damaged(part.file, g, damage));
      passed.push_back(&g);
    }
    if (from == nullptr) {
      source.fresh = true;
      report.errors.push_back(std::string(part.file) + ": " +
                              (passed.empty() ? "no generation on disk"
                                              : "no intact copy in " + joined_labels(passed)) +
                              "; " + part.fresh);
    } else {
      source.generation = from->name;
      source.step = from->step_known ? from->meta.step : 0;
      if (!passed.empty()) {
        report.warnings.push_back(std::string(part.file) + ": no intact copy in " +
                                  joined_labels(passed) + "; restored from " + from->label() +
                                  ": " + lost(part, *from, found.front()));
      }
    }
    report.parts.push_back(source);
  }

  for (const Generation& g : found) {
    const auto source = std::find_if(report.parts.begin(), report.parts.end(),
                                     [&](const PartSource& p) { return p.generation == g.name; });
    if (source != report.parts.end()) {
      report.fresh = false;
      report.generation = g.name;
      report.step = source->step;
      break;
    }
  }
  for (const PartSource& source : report.parts) {
    if (source.part == kEma) {
      report.ema_restored_or_fresh = source.fresh || source.generation != found.front().name;
    }
  }
  for (std::string& line : report.warnings) line = plain_line(line);
  for (std::string& line : report.errors) line = plain_line(line);
  return report;
}

}  // namespace crucible
