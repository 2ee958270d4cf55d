// HttpHub: the file list from the model API, then each file, over one CURL
// easy handle per download() call.
//
// Decisions beyond the header:
//  - Body sizes are limited in the write callback (the file list to
//    kMaxFileListBytes, the files together to max_total_bytes): returning a
//    short count makes curl abort the transfer at once.
//  - HTTP errors come from CURLOPT_FAILONERROR, so an error page is not written
//    into a model file; the status is read after the transfer and takes
//    precedence over the curl result.
//  - A complete body whose size differs from the announced one is retried like
//    a truncated one (a cache may have served a partial object); 429 is retried
//    like a 5xx. Too many redirects and an unsupported or malformed URL fail
//    at once.
//  - The token goes in a custom Authorization header, which curl drops when a
//    redirect leads to another host. Messages and log lines are also scrubbed
//    of the token, as a second guard.
//  - Only http and https are allowed, for the first URL and for redirects.
//  - Path components are percent-encoded by the file list parser
//    (hub_file_list.cpp; RFC 3986 unreserved characters kept) rather than with
//    curl_easy_escape, so no handle is needed for it.
#include "crucible/validator/http_hub.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "crucible/common/model_files.h"
#include "crucible/validator/hub_file_list.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxFileListBytes = 16 << 20;
constexpr long kMaxRedirects = 5;

// `text` with every occurrence of a non-empty `token` replaced by "<token>".
std::string without_token(std::string text, const std::string& token) {
  if (token.empty()) return text;
  for (size_t at = text.find(token); at != std::string::npos; at = text.find(token, at)) {
    text.replace(at, token.size(), "<token>");
  }
  return text;
}

// A repository namespace, name or commit: [A-Za-z0-9._-]+, not "." or "..".
bool is_segment(const std::string& text) {
  if (text.empty() || text == "." || text == "..") return false;
  for (char c : text) {
    if (!is_url_unreserved(c) || c == '~') return false;
  }
  return true;
}

// Where one response body goes (a file, or `text` when `file` is null), with
// a byte limit the write callback enforces.
struct Body {
  std::FILE* file = nullptr;
  std::string text;
  int64_t bytes = 0;
  int64_t limit = 0;
  bool over_limit = false;
  int write_errno = 0;

  // Forgets what an earlier attempt wrote; false (write_errno set) when the
  // file cannot be emptied.
  bool restart() {
    bytes = 0;
    over_limit = false;
    write_errno = 0;
    text.clear();
    if (file == nullptr) return true;
    if (std::fflush(file) != 0 || ::ftruncate(::fileno(file), 0) != 0) {
      write_errno = errno;
      return false;
    }
    std::rewind(file);
    return true;
  }
};

size_t write_body(char* data, size_t size, size_t count, void* user) {
  Body& body = *static_cast<Body*>(user);
  const size_t n = size * count;
  if (static_cast<int64_t>(n) > body.limit - body.bytes) {
    body.over_limit = true;
    return 0;
  }
  if (body.file != nullptr) {
    if (std::fwrite(data, 1, n, body.file) != n) {
      body.write_errno = errno;
      return 0;
    }
  } else {
    body.text.append(data, n);
  }
  body.bytes += static_cast<int64_t>(n);
  return n;
}

// How one attempt ended.
struct Outcome {
  enum Kind { kDone, kRetry, kFail } kind = kDone;
  std::string reason;  // the ModelFetchError reason when kind is kFail
  std::string detail;  // what happened, for the message
};

// One download() call: a curl handle with the common options, the messages'
// prefix and the retry loop.
class Session {
 public:
  Session(const HttpHubOptions& options, std::string label)
      : options_(options), label_(std::move(label)), handle_(curl_easy_init()) {
    if (!handle_) fail("download-failed", "session", "cannot start a libcurl session");
    if (!options_.token.empty()) {
      headers_.reset(
          curl_slist_append(nullptr, ("Authorization: Bearer " + options_.token).c_str()));
      if (!headers_) fail("download-failed", "session", "cannot build the request headers");
    }
    CURL* curl = handle_.get();
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, kMaxRedirects);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     milliseconds(options_.connect_timeout_seconds));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, milliseconds(options_.total_timeout_seconds));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT,
                     static_cast<long>(options_.low_speed_bytes_per_second));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.low_speed_seconds));
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "crucible-validator");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers_.get());
  }

  // Fetches `url` into `body`, retrying transient failures with exponential
  // backoff. `what` names the request in messages (a quoted file name or
  // "file list"); `announced` is the expected body size or -1; `over_limit`
  // is how a body past body.limit fails.
  void fetch(const std::string& url, const std::string& what, int64_t announced, Body& body,
             const Outcome& over_limit) {
    const int attempts = options_.max_attempts;
    for (int attempt = 1;; ++attempt) {
      if (!body.restart()) fail("download-failed", what, "cannot write: " + errno_text(body));
      const Outcome outcome = perform(url, announced, body, over_limit);
      if (outcome.kind == Outcome::kDone) return;
      if (outcome.kind == Outcome::kFail) fail(outcome.reason, what, outcome.detail);
      if (attempt >= attempts) {
        fail("download-failed", what,
             outcome.detail + " after " + std::to_string(attempts) +
                 (attempts == 1 ? " attempt" : " attempts"));
      }
      const double wait = options_.initial_backoff_seconds * std::pow(2.0, attempt - 1);
      char wait_text[32];
      std::snprintf(wait_text, sizeof wait_text, "%g", wait);
      log(what, outcome.detail + ", retrying in " + wait_text + " s (attempt " +
                    std::to_string(attempt + 1) + " of " + std::to_string(attempts) + ")");
      std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    }
  }

  [[noreturn]] void fail(const std::string& reason, const std::string& what,
                         const std::string& detail) const {
    throw ModelFetchError(reason, line(what, detail));
  }

  void log(const std::string& what, const std::string& detail) const {
    if (options_.log) options_.log(line(what, detail));
  }

 private:
  static long milliseconds(double seconds) {
    return std::max(1L, static_cast<long>(std::llround(seconds * 1000)));
  }

  static std::string errno_text(const Body& body) { return std::strerror(body.write_errno); }

  // "hub: ns/name@commit: <what>: <detail>", without the token.
  std::string line(const std::string& what, const std::string& detail) const {
    return without_token("hub: " + label_ + ": " + what + ": " + detail, options_.token);
  }

  Outcome perform(const std::string& url, int64_t announced, Body& body,
                  const Outcome& over_limit) {
    CURL* curl = handle_.get();
    error_[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    const CURLcode code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    const std::string http = "HTTP " + std::to_string(status);
    if (body.over_limit) return over_limit;
    if (body.write_errno != 0) {
      return {Outcome::kFail, "download-failed", "cannot write: " + errno_text(body)};
    }
    if (status == 404) return {Outcome::kFail, "not-found", http};
    if (status == 401 || status == 403) {
      return {Outcome::kFail, "not-found", "access denied (" + http + ")"};
    }
    if (status == 429 || status >= 500) return {Outcome::kRetry, "", http};
    if (status >= 400) return {Outcome::kFail, "download-failed", http};
    if (code != CURLE_OK) {
      const std::string text = hub_quoted(error_[0] != '\0' ? error_ : curl_easy_strerror(code));
      const bool permanent = code == CURLE_TOO_MANY_REDIRECTS ||
                             code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT;
      return {permanent ? Outcome::kFail : Outcome::kRetry, "download-failed", text};
    }
    if (status < 200 || status >= 300) return {Outcome::kFail, "download-failed", http};
    if (announced >= 0 && body.bytes != announced) {
      return {Outcome::kRetry, "",
              "got " + std::to_string(body.bytes) + " bytes, the file list announced " +
                  std::to_string(announced)};
    }
    return {};
  }

  struct HandleCleanup {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
  };
  struct HeadersCleanup {
    void operator()(curl_slist* headers) const { curl_slist_free_all(headers); }
  };

  const HttpHubOptions& options_;
  const std::string label_;
  std::unique_ptr<CURL, HandleCleanup> handle_;
  std::unique_ptr<curl_slist, HeadersCleanup> headers_;
  char error_[CURL_ERROR_SIZE] = {};
};

// Throws "bad-files" unless repo_id is "ns/name" and commit one segment (both
// then need no percent-encoding in a URL).
void check_repository(const std::string& repo_id, const std::string& commit,
                      const std::string& token) {
  const size_t slash = repo_id.find('/');
  if (slash == std::string::npos || !is_segment(repo_id.substr(0, slash)) ||
      !is_segment(repo_id.substr(slash + 1))) {
    throw ModelFetchError("bad-files",
                          without_token("hub: invalid repository id " + hub_quoted(repo_id) +
                                            ": expected \"namespace/name\" of letters, digits, "
                                            "'.', '_', '-'",
                                        token));
  }
  if (!is_segment(commit)) {
    throw ModelFetchError(
        "bad-files", without_token("hub: " + repo_id + ": invalid commit " + hub_quoted(commit) +
                                       ": expected letters, digits, '.', '_', '-'",
                                   token));
  }
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

void init_curl_once() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    throw std::runtime_error(std::string("HttpHub: curl_global_init failed: ") +
                             curl_easy_strerror(result));
  }
}

}  // namespace

HttpHub::HttpHub(HttpHubOptions options) : options_(std::move(options)) {
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/')
    options_.endpoint.pop_back();
  auto require = [](bool ok, const char* field, const char* rule) {
    if (!ok) throw std::invalid_argument(std::string("HttpHubOptions.") + field + " " + rule);
  };
  require(!options_.endpoint.empty(), "endpoint", "is empty");
  require(options_.connect_timeout_seconds > 0, "connect_timeout_seconds", "must be > 0");
  require(options_.total_timeout_seconds > 0, "total_timeout_seconds", "must be > 0");
  require(options_.low_speed_bytes_per_second >= 0, "low_speed_bytes_per_second", "must be >= 0");
  require(options_.low_speed_seconds >= 0, "low_speed_seconds", "must be >= 0");
  require(options_.max_attempts >= 1, "max_attempts", "must be >= 1");
  require(options_.initial_backoff_seconds >= 0, "initial_backoff_seconds", "must be >= 0");
  init_curl_once();
}

void HttpHub::download(const std::string& repo_id, const std::string& commit,
                       int64_t max_total_bytes, const std::string& destination) {
  if (max_total_bytes < 0) throw std::invalid_argument("HttpHub::download: max_total_bytes < 0");
  check_repository(repo_id, commit, options_.token);
  Session session(options_, repo_id + "@" + commit);

  Body list;
  list.limit = kMaxFileListBytes;
  session.fetch(
      options_.endpoint + "/api/models/" + repo_id + "/revision/" + commit + "?blobs=true",
      "file list", -1, list,
      {Outcome::kFail, "download-failed",
       "longer than " + std::to_string(kMaxFileListBytes) + " bytes"});
  std::vector<HubListedFile> files;
  try {
    files = parse_hub_file_list(list.text);
  } catch (const HubFileListError& e) {
    session.fail(e.reason(), e.subject(), e.what());
  }

  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t announced = 0;
  for (const HubListedFile& file : files) {
    if (file.size >= 0) announced = file.size > kMax - announced ? kMax : announced + file.size;
  }
  if (announced > max_total_bytes) {
    session.fail("too-large", "file list", repository_size_reason(announced, max_total_bytes));
  }

  const std::string cap_text =
      "over the cap of " + std::to_string(max_total_bytes) + " bytes while downloading";
  int64_t written = 0;
  for (const HubListedFile& file : files) {
    const fs::path path = fs::path(destination) / file.name;
    std::error_code error;
    fs::create_directories(path.parent_path(), error);
    if (error)
      session.fail("download-failed", file.shown, "cannot create folder: " + error.message());
    std::unique_ptr<std::FILE, FileCloser> out(std::fopen(path.c_str(), "wb"));
    if (!out)
      session.fail("download-failed", file.shown,
                   std::string("cannot create file: ") + std::strerror(errno));
    Body body;
    body.file = out.get();
    body.limit = max_total_bytes - written;
    session.fetch(options_.endpoint + "/" + repo_id + "/resolve/" + commit + "/" + file.url_path,
                  file.shown, file.size, body, {Outcome::kFail, "too-large", cap_text});
    if (std::fclose(out.release()) != 0) {
      session.fail("download-failed", file.shown,
                   std::string("cannot write: ") + std::strerror(errno));
    }
    written += body.bytes;
  }
}

}  // namespace crucible
