// The on-disk model store. Locking: downloads and hashing run unlocked (they
// are slow and touch only the install's own .tmp folder); creating a .tmp
// folder, renaming into place, find() and cleanup hold mutex_, so a cleanup
// sees each model folder either absent or complete and skips .tmp folders of
// installs in flight.
#include "crucible/validator/disk_model_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>
#include <vector>

#include "crucible/common/files.h"
#include "crucible/common/model_files.h"
#include "crucible/common/quoted_text.h"
#include "crucible/validator/folder_stamps.h"
#include "crucible/validator/safe_names.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTempFolder = ".tmp";
constexpr const char* kTempPattern = "install-XXXXXX";
constexpr const char* kModelFile = "model.pt";         // TorchScript
constexpr const char* kStampsSuffix = ".stamps.json";  // beside the model folder
constexpr size_t kMaxHotkeyChars = 128;
constexpr size_t kShownChars = 64;

// Standard base64 characters only, and not empty once '=' padding is dropped.
bool is_base64(const std::string& text) {
  bool has_data = false;
  for (char c : text) {
    if (!is_ascii_alphanumeric(c) && c != '+' && c != '/' && c != '=') return false;
    has_data = has_data || c != '=';
  }
  return has_data;
}

void check_hotkey(const std::string& hotkey) {
  if (!DiskModelStore::is_valid_hotkey(hotkey)) {
    throw ModelFetchError("bad-files", "hotkey " + quoted_for_message(hotkey, kShownChars) +
                                           ": must be 1 to " + std::to_string(kMaxHotkeyChars) +
                                           " characters of [A-Za-z0-9_-]");
  }
}

// lstat-based: links are neither folders nor regular files here.
bool is_real_folder(const std::string& path) {
  struct stat info;
  return ::lstat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool is_regular_file(const std::string& path) {
  struct stat info;
  return ::lstat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

void fsync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": cannot open to fsync: " + std::strerror(errno));
  const int synced = ::fsync(fd);
  const int fsync_errno = errno;
  ::close(fd);
  if (synced != 0) throw std::runtime_error(path + ": cannot fsync: " + std::strerror(fsync_errno));
}

// What the engine evaluates in a model folder: its model.pt when there is
// one, else the folder itself when it holds a native model (model_files.h);
// "" when neither.
std::string model_entry_path(const std::string& directory) {
  switch (model_layout(directory)) {
    case ModelLayout::kTorchScript:
      return directory + "/" + kModelFile;
    case ModelLayout::kNative:
      return directory;
    case ModelLayout::kUnsupported:
      break;
  }
  return "";
}

// Whether read_tree() fsyncs what it reads: a fresh download must be
// durable before it is renamed in; an installed model is only re-hashed.
enum class SyncFiles { kYes, kNo };

// The files of a model folder (relative path -> bytes); refuses links and
// special files.
std::map<std::string, std::string> read_tree(const std::string& folder, const std::string& label,
                                             SyncFiles sync) {
  std::map<std::string, std::string> files;
  std::error_code error;
  fs::recursive_directory_iterator it(folder, error), end;
  for (; !error && it != end; it.increment(error)) {
    const std::string path = it->path().string();
    const fs::file_type type = it->symlink_status().type();
    if (type == fs::file_type::directory) {
      if (sync == SyncFiles::kYes) sync_directory(path);
      continue;
    }
    const std::string relative = it->path().lexically_relative(folder).generic_string();
    if (type != fs::file_type::regular) {
      throw ModelFetchError("bad-files", label + ": downloaded " +
                                             quoted_for_message(relative, kShownChars) +
                                             " is not a regular file or folder");
    }
    files[relative] = read_file(path);
    if (sync == SyncFiles::kYes) fsync_file(path);
  }
  if (error) throw std::runtime_error(folder + ": cannot list: " + error.message());
  if (sync == SyncFiles::kYes) sync_directory(folder);
  return files;
}

// The names in a folder. Throws std::runtime_error naming it.
std::vector<std::string> folder_entries(const std::string& folder) {
  std::vector<std::string> names;
  std::error_code error;
  fs::directory_iterator it(folder, error), end;
  for (; !error && it != end; it.increment(error)) {
    names.push_back(it->path().filename().string());
  }
  if (error) throw std::runtime_error(folder + ": cannot list: " + error.message());
  return names;
}

void remove_path(const std::string& path) {
  std::error_code error;
  fs::remove_all(path, error);
  if (error) throw std::runtime_error(path + ": cannot remove: " + error.message());
}

}  // namespace

DiskModelStore::DiskModelStore(std::string root)
    : root_(std::move(root)), temp_root_(root_ + "/" + kTempFolder) {
  std::error_code error;
  fs::create_directories(temp_root_, error);
  if (error) {
    throw std::runtime_error(temp_root_ +
                             ": cannot create the model store folder: " + error.message());
  }
  // Cleanup deletes what is inside .tmp: it must not be a link to elsewhere.
  if (!is_real_folder(temp_root_)) {
    throw std::runtime_error(temp_root_ + ": not a folder (a link or a file)");
  }
}

bool DiskModelStore::is_valid_hotkey(const std::string& hotkey) {
  if (hotkey.empty() || hotkey.size() > kMaxHotkeyChars) return false;
  for (char c : hotkey) {
    if (!is_ascii_alphanumeric(c) && c != '_' && c != '-') return false;
  }
  return true;
}

std::string DiskModelStore::hash_folder_name(const std::string& content_hash) {
  if (!is_base64(content_hash)) {
    throw ModelFetchError(
        "bad-files",
        "content hash " + quoted_for_message(content_hash, kShownChars) + " is not base64");
  }
  std::string name;
  for (char c : content_hash) {
    if (c == '/') {
      name += '_';
    } else if (c == '+') {
      name += '-';
    } else if (c != '=') {
      name += c;
    }
  }
  return name;
}

InstalledModel DiskModelStore::installed_model(const std::string& hotkey,
                                               const std::string& content_hash) const {
  const std::string directory = root_ + "/" + hotkey + "/" + hash_folder_name(content_hash);
  return {hotkey, content_hash, directory, model_entry_path(directory)};
}

std::string DiskModelStore::make_temp_folder() {
  std::string path = temp_root_ + "/" + kTempPattern;
  std::lock_guard<std::mutex> lock(mutex_);
  if (::mkdtemp(path.data()) == nullptr) {
    throw std::runtime_error(temp_root_ +
                             ": cannot create a download folder: " + std::strerror(errno));
  }
  installs_in_flight_.insert(fs::path(path).filename().string());
  return path;
}

void DiskModelStore::discard_temp_folder(const std::string& temp) {
  std::error_code ignored;  // a leftover is removed by the next cleanup
  fs::remove_all(temp, ignored);
  std::lock_guard<std::mutex> lock(mutex_);
  installs_in_flight_.erase(fs::path(temp).filename().string());
}

InstalledModel DiskModelStore::install(const std::string& hotkey, const ModelId& id, ModelHub& hub,
                                       int64_t max_total_bytes) {
  check_hotkey(hotkey);
  const std::string temp = make_temp_folder();
  try {
    hub.download(id.repo_id(), id.commit, max_total_bytes, temp);
    const InstalledModel model = verify_and_place(hotkey, id, temp);
    discard_temp_folder(temp);  // renamed away, or a duplicate of the installed model
    return model;
  } catch (...) {
    discard_temp_folder(temp);
    throw;
  }
}

InstalledModel DiskModelStore::verify_and_place(const std::string& hotkey, const ModelId& id,
                                                const std::string& temp) {
  const std::string label = "repository " + quoted_for_message(id.repo_id(), kShownChars) +
                            " at commit " + quoted_for_message(id.commit, kShownChars);
  if (model_entry_path(temp).empty()) {
    throw ModelFetchError("bad-files", label + ": " + model_layout_reason(temp));
  }
  const std::string hash = content_hash(read_tree(temp, label, SyncFiles::kYes));
  if (!id.secure_hash.empty()) {
    const std::string expected = secure_hash(hash, hotkey);
    if (expected != id.secure_hash) {
      throw ModelFetchError("hash-mismatch", label + ": committed secure hash " +
                                                 quoted_for_message(id.secure_hash, kShownChars) +
                                                 " but the content (hash " + hash +
                                                 ") with hotkey " + hotkey + " gives " + expected);
    }
  }

  const std::string hotkey_folder = root_ + "/" + hotkey;
  std::lock_guard<std::mutex> lock(mutex_);
  const InstalledModel existing = installed_model(hotkey, hash);
  if (is_real_folder(existing.directory)) {
    if (integrity_problem(existing).empty()) return existing;  // same content already installed
    remove_path(existing.directory);  // damaged on disk: replaced by this download
  }

  const bool created = ::mkdir(hotkey_folder.c_str(), 0755) == 0;
  if (!created && errno != EEXIST) {
    throw std::runtime_error(hotkey_folder + ": cannot create: " + std::strerror(errno));
  }
  if (!is_real_folder(hotkey_folder)) {
    throw std::runtime_error(hotkey_folder + ": not a folder (a link or a file)");
  }
  if (::rename(temp.c_str(), existing.directory.c_str()) != 0) {
    const int rename_errno = errno;
    if (created) ::rmdir(hotkey_folder.c_str());
    throw std::runtime_error(existing.directory + ": cannot rename the download into place: " +
                             std::strerror(rename_errno));
  }
  sync_directory(hotkey_folder);
  sync_directory(temp_root_);
  if (created) sync_directory(root_);
  record_stamps(existing.directory);
  return installed_model(hotkey, hash);
}

void DiskModelStore::record_stamps(const std::string& directory) const {
  try {
    write_folder_stamps(directory + kStampsSuffix, stamp_folder(directory));
  } catch (const std::runtime_error&) {
    // Without stamps the next check re-hashes the folder and records them then.
  }
}

std::string DiskModelStore::integrity_problem(const InstalledModel& model) const {
  if (!is_real_folder(model.directory)) return "not installed";
  if (model.model_path.empty()) return "its model files are missing";
  FolderStamps now;
  try {
    now = stamp_folder(model.directory);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  const std::optional<FolderStamps> recorded = read_folder_stamps(model.directory + kStampsSuffix);
  const std::string difference =
      recorded ? stamps_difference(*recorded, now) : "no stamps recorded";
  if (difference.empty()) return "";
  // Changed stamps (a copy that did not keep modification times, or stamps
  // never written) are fine as long as the bytes still have the content hash.
  std::string rehashed;
  try {
    rehashed = content_hash(read_tree(model.directory, model.directory, SyncFiles::kNo));
  } catch (const std::exception& e) {
    return difference + "; " + e.what();
  }
  if (rehashed != model.content_hash) {
    return difference + "; the files no longer have the content hash " + model.content_hash;
  }
  record_stamps(model.directory);
  return "";
}

std::optional<InstalledModel> DiskModelStore::find(const std::string& hotkey,
                                                   const std::string& content_hash,
                                                   std::string* problem) const {
  check_hotkey(hotkey);
  const InstalledModel model = installed_model(hotkey, content_hash);
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string found_problem = integrity_problem(model);
  if (problem != nullptr) *problem = found_problem;
  if (!found_problem.empty()) return std::nullopt;
  return model;
}

size_t DiskModelStore::remove_unreferenced(const std::map<std::string, std::string>& keep) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const std::string& name : folder_entries(temp_root_)) {
    if (installs_in_flight_.count(name) == 0) remove_path(temp_root_ + "/" + name);
  }

  size_t removed = 0;
  for (const std::string& hotkey : folder_entries(root_)) {
    const std::string hotkey_folder = root_ + "/" + hotkey;
    if (!is_valid_hotkey(hotkey) || !is_real_folder(hotkey_folder)) continue;
    const auto kept = keep.find(hotkey);
    const std::string kept_folder =
        kept != keep.end() && is_base64(kept->second) ? hash_folder_name(kept->second) : "";
    bool anything_kept = false;
    for (const std::string& name : folder_entries(hotkey_folder)) {
      if (!kept_folder.empty() && (name == kept_folder || name == kept_folder + kStampsSuffix)) {
        anything_kept = true;
        continue;
      }
      const std::string path = hotkey_folder + "/" + name;
      if (is_real_folder(path)) ++removed;
      remove_path(path);
    }
    if (!anything_kept) remove_path(hotkey_folder);
  }
  return removed;
}

}  // namespace crucible
