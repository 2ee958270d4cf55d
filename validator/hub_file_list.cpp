// The model API's file list: JSON checks, safe names, percent-encoded URL paths.
#include "crucible/validator/hub_file_list.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "crucible/common/quoted_text.h"
#include "crucible/validator/safe_names.h"

namespace crucible {
namespace {

[[noreturn]] void fail(const std::string& reason, const std::string& subject,
                       const std::string& problem) {
  throw HubFileListError(reason, subject, problem);
}

std::string percent_encode(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (is_url_unreserved(ch)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

// Splits a listed file name on '/'; returns why it is unsafe ("" when safe).
std::string unsafe_name_problem(const std::string& name, std::vector<std::string>& components) {
  if (name.empty()) return "empty file name";
  if (name.front() == '/') return "absolute path";
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return "control character in file name";
  }
  size_t start = 0;
  while (true) {
    const size_t slash = name.find('/', start);
    const std::string part = name.substr(start, slash == std::string::npos ? slash : slash - start);
    if (part.empty()) return "empty path component";
    if (part == "." || part == "..") return "\"" + part + "\" path component";
    components.push_back(part);
    if (slash == std::string::npos) return "";
    start = slash + 1;
  }
}

}  // namespace

std::string hub_quoted(const std::string& text) { return quoted_for_message(text, 128); }

bool is_url_unreserved(char c) {
  return is_ascii_alphanumeric(c) || c == '.' || c == '_' || c == '-' || c == '~';
}

std::vector<HubListedFile> parse_hub_file_list(const std::string& text) {
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    fail("download-failed", "file list", "not a JSON object");
  }
  const auto siblings = doc.find("siblings");
  if (siblings == doc.end() || !siblings->is_array()) {
    fail("download-failed", "file list", "no \"siblings\" array");
  }
  std::vector<HubListedFile> files;
  std::set<std::string> names;
  for (size_t i = 0; i < siblings->size(); ++i) {
    const nlohmann::json& entry = (*siblings)[i];
    const std::string field = "siblings[" + std::to_string(i) + "]";
    const auto name = entry.is_object() ? entry.find("rfilename") : entry.end();
    if (!entry.is_object() || name == entry.end() || !name->is_string()) {
      fail("download-failed", "file list", field + ".rfilename is not a string");
    }
    HubListedFile file;
    file.name = name->get<std::string>();
    file.shown = hub_quoted(file.name);
    std::vector<std::string> components;
    const std::string problem = unsafe_name_problem(file.name, components);
    if (!problem.empty()) fail("bad-files", file.shown, "unsafe file name: " + problem);
    for (const std::string& component : components) {
      file.url_path += (file.url_path.empty() ? "" : "/") + percent_encode(component);
    }
    const auto size = entry.find("size");
    if (size != entry.end() && !size->is_null()) {
      if (!size->is_number_unsigned() ||
          size->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail("download-failed", "file list", field + ".size is not a non-negative integer");
      }
      file.size = static_cast<int64_t>(size->get<uint64_t>());
    }
    if (!names.insert(file.name).second) fail("bad-files", file.shown, "listed twice");
    files.push_back(std::move(file));
  }
  for (const std::string& name : names) {
    for (size_t slash = name.find('/'); slash != std::string::npos;
         slash = name.find('/', slash + 1)) {
      if (names.count(name.substr(0, slash)) != 0) {
        fail("bad-files", hub_quoted(name),
             "inside " + hub_quoted(name.substr(0, slash)) + ", which is also a listed file");
      }
    }
  }
  return files;
}

}  // namespace crucible
