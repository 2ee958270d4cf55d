#include "crucible/validator/state_store.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "crucible/common/files.h"

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
constexpr const char* kCurrentTempPrefix = "CURRENT.tmp.";  // write_file_atomically's temporaries

// The number of a generation folder name ("state-000042" -> 42), or -1.
long generation_number(const std::string& name) {
  const std::string prefix = kGenerationPrefix;
  if (name.rfind(prefix, 0) != 0) return -1;
  const std::string digits = name.substr(prefix.size());
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stol(digits);
}

std::string generation_name(long number) {
  char name[32];
  std::snprintf(name, sizeof name, "%s%06ld", kGenerationPrefix, number);
  return name;
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
  const long previous = generation_number(current_generation(nullptr));  // -1: none
  const std::string temp = path(generation + kTempSuffix);
  std::string written;  // the folder this save has written so far, until CURRENT names it
  try {
    fs::create_directory(temp, error);
    if (error) throw std::runtime_error(temp + ": cannot create: " + error.message());
    written = temp;

    const std::pair<const char*, std::string> documents[] = {
        {kQueues, snapshot.queues.dump()},
        {kEma, snapshot.ema.dump()},
        {kModels, snapshot.models.dump()},
        {kMeta, nlohmann::json{{kFormatVersionKey, kFormatVersion}, {kStepKey, step}}.dump()}};
    for (const auto& [file, text] : documents) {
      crash_point(std::string("write ") + file);
      write_file_atomically(temp + "/" + file, text);
    }
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

  // Keep the previous generation; remove other ones and what earlier saves
  // that failed or were killed left unfinished (only this process writes here).
  crash_point("remove old generations");
  for (const fs::directory_entry& entry : fs::directory_iterator(directory_)) {
    const std::string name = entry.path().filename().string();
    const long number = generation_number(name);
    const bool unfinished = (name.rfind(kGenerationPrefix, 0) == 0 && number < 0) ||
                            name.rfind(kCurrentTempPrefix, 0) == 0;
    const bool other = number >= 0 && number != previous && number != last + 1;
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

std::string StateStore::current_generation(LoadReport* report) const {
  std::string name;
  try {
    name = read_file(path(kCurrent));
    name.erase(name.find_last_not_of("\n") + 1);
  } catch (const std::runtime_error&) {
    name.clear();
  }
  if (generation_number(name) >= 0 && fs::is_directory(path(name))) return name;

  // CURRENT is missing or names nothing: fall back to the newest finished generation.
  long newest = -1;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory_)) {
    if (entry.is_directory()) {
      newest = std::max(newest, generation_number(entry.path().filename().string()));
    }
  }
  if (report != nullptr && fs::exists(path(kCurrent))) {
    report->warnings.push_back(path(kCurrent) + ": does not name a saved generation; " +
                               move_aside(kCurrent, "CURRENT.corrupt"));
  }
  return newest >= 0 ? generation_name(newest) : "";
}

int64_t StateStore::saved_step() const {
  if (!fs::is_directory(directory_)) return 0;
  const std::string generation = current_generation(nullptr);
  if (generation.empty()) return 0;
  try {
    return nlohmann::json::parse(read_file(path(generation) + "/" + kMeta))
        .value(kStepKey, int64_t{0});
  } catch (const std::exception&) {
    return 0;  // load() reports it
  }
}

StateStore::LoadReport StateStore::load(ValidatorState& state) {
  LoadReport report;
  if (!fs::is_directory(directory_)) return report;
  const std::string generation = current_generation(&report);
  if (generation.empty()) return report;

  const std::string folder = path(generation);
  int version = kFormatVersion;
  try {
    const nlohmann::json meta = nlohmann::json::parse(read_file(folder + "/" + kMeta));
    version = meta.at(kFormatVersionKey).get<int>();
    report.step = meta.value(kStepKey, int64_t{0});
  } catch (const std::exception& e) {
    report.warnings.push_back(folder + "/" + kMeta + ": unreadable (" + e.what() +
                              "); assuming format version " + std::to_string(kFormatVersion));
  }
  if (version != kFormatVersion) {
    report.warnings.push_back(
        folder + ": format version " + std::to_string(version) + " is not " +
        std::to_string(kFormatVersion) + "; starting fresh, " +
        move_aside(generation, "incompatible-" + generation + "-v" + std::to_string(version)));
    return report;
  }

  report.generation = generation;
  for (const char* file : {kQueues, kEma, kModels}) {
    const std::string name = generation + "/" + file;
    try {
      const nlohmann::json document = nlohmann::json::parse(read_file(path(name)));
      const nlohmann::json none;
      const std::string part = file;
      state.restore(part == kQueues ? document : none, part == kEma ? document : none,
                    part == kModels ? document : none);
      report.fresh = false;
    } catch (const std::exception& e) {
      std::string reason = e.what();
      reason = reason.substr(0, reason.find('\n'));
      report.warnings.push_back(path(name) + ": corrupt (" + reason +
                                "); this part starts fresh, " +
                                move_aside(name, "corrupt-" + generation + "-" + file));
    }
  }
  return report;
}

}  // namespace crucible
