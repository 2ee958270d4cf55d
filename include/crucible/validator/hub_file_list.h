// The file list of a Hugging Face model API response (what HttpHub downloads),
// parsed and checked without libcurl:
//   {"siblings": [{"rfilename": "model.pt", "size": 123}, ...]}
// Other keys are ignored; "size" is optional (null or absent: unknown).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace crucible {

// `text` (a file name, or other outside text) quoted for a one-line hub
// message, at most its first 128 bytes shown.
std::string hub_quoted(const std::string& text);

// One listed file, its name checked safe to create under a download folder.
struct HubListedFile {
  std::string name;      // relative path
  std::string shown;     // name quoted for messages
  std::string url_path;  // name with each component percent-encoded
  int64_t size = -1;     // announced size, -1 when unknown
};

// A file list that must not be used. reason() is the ModelFetchError reason,
// subject() what the message is about ("file list", or a quoted file name),
// what() the problem.
class HubFileListError : public std::runtime_error {
 public:
  HubFileListError(std::string reason, std::string subject, const std::string& problem)
      : std::runtime_error(problem), reason_(std::move(reason)), subject_(std::move(subject)) {}
  const std::string& reason() const { return reason_; }
  const std::string& subject() const { return subject_; }

 private:
  std::string reason_;
  std::string subject_;
};

// True for the RFC 3986 unreserved characters: letters, digits, '.', '_', '-', '~'.
bool is_url_unreserved(char c);

// The files of the response text, in listed order. Throws HubFileListError
// with reason "download-failed" when the text is not a JSON object, has no
// "siblings" array, an entry is not an object with a string "rfilename", or
// a size is not an integer in [0, 2^63); with reason "bad-files" when a name
// is empty, absolute, has an empty, "." or ".." component or a control
// character, is listed twice, or is also a folder of another listed file.
std::vector<HubListedFile> parse_hub_file_list(const std::string& text);

}  // namespace crucible
