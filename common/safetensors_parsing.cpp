#include "safetensors_parsing.h"

#include <set>
#include <vector>

#include "crucible/common/safetensors.h"

namespace crucible {
namespace safetensors_detail {

std::string printable(const std::string& text, size_t limit, bool ascii_only) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == limit) return out + "...";
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f || (ascii_only && c >= 0x80)) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string in_quotes(const std::string& text) { return "'" + printable(text) + "'"; }

void fail(const std::string& label, const std::string& what) {
  throw SafetensorsError(label + ": " + what);
}

void fail_tensor(const std::string& label, const std::string& name, const std::string& what) {
  fail(label, "tensor " + in_quotes(name) + ": " + what);
}

Json parse_unique_keys(const std::string& label, const std::string& subject, const char* text,
                       size_t size, const DuplicateKey& duplicate) {
  std::vector<std::set<std::string>> open_objects;  // the keys seen in each open object
  std::string top_key;                              // the current top-level key
  const Json::parser_callback_t check_keys = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      open_objects.pop_back();
    } else if (event == Json::parse_event_t::key) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) {
        duplicate(key, open_objects.size() == 1 ? "" : top_key, open_objects.size());
      }
      if (open_objects.size() == 1) top_key = key;
    }
    return true;
  };
  try {
    return Json::parse(text, text + size, check_keys);
  } catch (const Json::exception& e) {
    const std::string what = e.what();  // "[json.exception.parse_error.101] parse error at ..."
    const size_t bracket = what.find("] ");
    fail(label,
         subject + "not valid JSON: " +
             printable(bracket == std::string::npos ? what : what.substr(bracket + 2), 300, true));
  }
}

}  // namespace safetensors_detail
}  // namespace crucible
