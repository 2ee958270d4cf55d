// The Hugging Face Hub over HTTPS (libcurl): a ModelHub that downloads a
// repository at a pinned commit, size-capped and retried.
//
//   GET {endpoint}/api/models/{ns}/{name}/revision/{commit}?blobs=true
//       the file list: {"siblings": [{"rfilename": "model.pt", "size": 123}, ...]}
//   GET {endpoint}/{ns}/{name}/resolve/{commit}/{rfilename}
//       each file's bytes (redirects followed, at most 5)
//
// The endpoint is configurable so tests use a local HTTP server
// (tests/python/misbehaving_hub.py). Built only when libcurl is found
// (CRUCIBLE_HAVE_CURL).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "crucible/validator/model_hub.h"

namespace crucible {

struct HttpHubOptions {
  std::string endpoint = "https://huggingface.co";  // scheme and host, no trailing path
  // Sent as "Authorization: Bearer <token>" when non-empty (the caller reads
  // HF_TOKEN). Never written to a message or a log line.
  std::string token;
  double connect_timeout_seconds = 10;
  double total_timeout_seconds = 600;  // per request (the file list, each file)
  // A request slower than low_speed_bytes_per_second for low_speed_seconds
  // (whole seconds) is aborted as timed out.
  int64_t low_speed_bytes_per_second = 1024;
  int64_t low_speed_seconds = 30;
  // Each request is tried up to max_attempts times; the wait before attempt
  // k+1 is initial_backoff_seconds * 2^(k-1).
  int max_attempts = 3;
  double initial_backoff_seconds = 1;
  // Receives one line per retry; may be empty. Called from the thread that
  // runs download(), so it must be thread-safe when downloads run concurrently.
  std::function<void(const std::string&)> log;
};

class HttpHub : public ModelHub {
 public:
  // Throws std::invalid_argument naming the option when an option is out of
  // range (empty endpoint, max_attempts < 1, a timeout <= 0, a negative
  // backoff or low-speed setting).
  explicit HttpHub(HttpHubOptions options = {});

  // See ModelHub::download. Reasons thrown (ModelFetchError::reason()):
  //  - "bad-files": repo_id not "ns/name" or commit not one segment, each of
  //    [A-Za-z0-9._-] (refused before any request); a listed file name that is
  //    absolute, has an empty, "." or ".." component or a control character,
  //    is listed twice, or is also a folder of another listed file.
  //  - "not-found": HTTP 404, or 401/403 (the message says access denied).
  //  - "too-large": the announced sizes add up to more than max_total_bytes
  //    (before any file is requested), or the bytes written exceed it.
  //  - "download-failed": 5xx, 429, timeouts, connection errors, a body shorter
  //    than its Content-Length or a size unlike the announced one, after
  //    max_attempts tries; other HTTP errors, a malformed file list, a local
  //    write error at once.
  // what() is one line: "hub: ns/name@commit: \"<file>\": <reason>" (or "file list: <reason>").
  // Thread-safe: concurrent calls each use their own connection.
  // max_total_bytes < 0 throws std::invalid_argument.
  void download(const std::string& repo_id, const std::string& commit, int64_t max_total_bytes,
                const std::string& destination) override;

 private:
  HttpHubOptions options_;
};

}  // namespace crucible
