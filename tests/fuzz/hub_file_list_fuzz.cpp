// Feeds arbitrary bytes to parse_hub_file_list as the model API's response.
// Expected: the listed files, or HubFileListError with reason "bad-files" or
// "download-failed" and a one-line problem. Asserted on an accepted list:
// every name is relative, with no empty, "." or ".." component and no
// control byte; names are distinct and none is a folder of another; url_path percent-decodes to the
// name and holds only unreserved characters, '%' escapes and '/'; sizes are
// -1 or >= 0. Any other exception, a broken property, a crash or a sanitizer
// report is a bug.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "crucible/validator/hub_file_list.h"
#include "fuzz_support.h"

using crucible::fuzz::require;

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The name a url_path encodes; aborts on anything but unreserved
// characters, '/' and upper-case %XX escapes.
std::string decoded(const std::string& url_path) {
  std::string name;
  for (size_t i = 0; i < url_path.size(); ++i) {
    const char c = url_path[i];
    if (c != '%') {
      require(c == '/' || crucible::is_url_unreserved(c), "a reserved character in url_path");
      name += c;
      continue;
    }
    require(i + 2 < url_path.size(), "a cut %-escape");
    const int high = hex_value(url_path[i + 1]);
    const int low = hex_value(url_path[i + 2]);
    require(high >= 0 && low >= 0, "a malformed %-escape");
    name += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return name;
}

// Checked by a route other than the parser's: "/" + name + "/" holds no
// "//", "/./" or "/../", and no byte is a control byte.
void check_name(const std::string& name) {
  const std::string padded = "/" + name + "/";
  for (const char* unsafe : {"//", "/./", "/../"}) {
    require(padded.find(unsafe) == std::string::npos, "an unsafe name accepted");
  }
  for (char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    require(byte >= 0x20 && byte != 0x7f, "a control byte in a name accepted");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::set<std::string> names;
    for (const crucible::HubListedFile& file :
         crucible::parse_hub_file_list(crucible::fuzz::text_of(data, size))) {
      check_name(file.name);
      require(names.insert(file.name).second, "a name listed twice accepted");
      require(decoded(file.url_path) == file.name, "url_path does not decode to the name");
      require(file.size >= -1, "a negative size accepted");
    }
    for (const std::string& name : names) {  // the names sort a folder's files right after it
      const auto next = names.lower_bound(name + "/");
      require(next == names.end() || next->rfind(name + "/", 0) != 0,
              "a file inside a listed file accepted");
    }
  } catch (const crucible::HubFileListError& e) {
    require(e.reason() == "bad-files" || e.reason() == "download-failed", "an unknown reason");
    require(std::string(e.what()).find('\n') == std::string::npos, "the problem is not one line");
  }
  return 0;
}
