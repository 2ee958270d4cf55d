// A tiny HTTP/1.1 status endpoint for the validator, on POSIX sockets, bound
// to 127.0.0.1 by default. One background thread serves one connection at a
// time, GET only, and closes every connection after its response:
//
//   GET /healthz   200 "ok\n" (text/plain); 503 "unhealthy\n" while the
//                  metrics say the validator is not healthy
//   GET /metrics   200 Prometheus text (text/plain; version=0.0.4)
//   GET /weights   200 {"block":N,"weights":[...]} (application/json)
//   GET <path>     what StatusServerOptions::routes[path] returns (the
//                  validator registers /history.json, see step_history.h);
//                  a route that throws is 500 with the exception's text
//   other paths 404, other methods 405, a malformed request line 400, a
//   request head over kMaxRequestHeadBytes 431, a head not complete within
//   the client timeout 408.
//
// A slow or silent client holds the server for at most the client timeout
// and never delays stop(); a client that disconnects early is dropped.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "crucible/validator/validator_metrics.h"

namespace crucible {

// One response of the status endpoint.
struct StatusResponse {
  int status = 200;  // 200, 400, 404, 503 or 500 (any other is sent as 500's phrase)
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// An extra GET route: called on the server thread with the request target's
// query (after '?', "" when none) for each request; it must be thread-safe
// with whatever it reads.
using StatusRoute = std::function<StatusResponse(const std::string& query)>;

struct StatusServerOptions {
  std::string host = "127.0.0.1";  // an address or a name in /etc/hosts
  int port = 9184;                 // 0: any free port (see StatusServer::port())
  // The most time one client may take to send its request head, and again
  // to take its response.
  std::chrono::milliseconds client_timeout{2000};
  // Extra GET routes by exact path ("/history.json"); each path starts with
  // '/' and is none of the built-in ones.
  std::map<std::string, StatusRoute> routes;
};

class StatusServer {
 public:
  static constexpr size_t kMaxRequestHeadBytes = 8192;

  // Binds, listens and starts serving `metrics`, which must outlive the
  // server. Throws std::runtime_error with one line, e.g. "status server:
  // cannot bind 127.0.0.1:9184: Address already in use", and
  // std::invalid_argument for a route path that is built in or lacks the '/'.
  StatusServer(const ValidatorMetrics& metrics, StatusServerOptions options = {});

  // Stops.
  ~StatusServer();

  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // The port the server is bound to (the chosen one when options.port was 0).
  int port() const { return port_; }

  // Stops serving: drops the connection in progress, closes the listening
  // socket and joins the thread. Returns promptly whatever clients do.
  // Idempotent; call it from the thread that owns the server.
  void stop();

 private:
  void serve();
  void handle_connection(int client);

  const ValidatorMetrics& metrics_;
  const StatusServerOptions options_;
  int listen_fd_ = -1;
  int port_ = 0;
  // stop() writes to wake_write_fd_; every wait of the server thread also
  // polls wake_read_fd_, which then stays readable, so the thread returns.
  int wake_read_fd_ = -1;
  int wake_write_fd_ = -1;
  std::thread thread_;
};

}  // namespace crucible
