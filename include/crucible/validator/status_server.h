// The validator's HTTP status endpoint, on cpp-httplib (Debian's
// libcpp-httplib-dev): bound to 127.0.0.1 by default, a small pool of
// threads, HTTP/1.1 keep-alive, GET (and HEAD) only:
//
//   GET /healthz   200 "ok\n" (text/plain); 503 "unhealthy: <why>; <why>\n"
//                  while ValidatorMetrics::problems() is not empty
//   GET /metrics   200 Prometheus text (text/plain; version=0.0.4)
//   GET /weights   200 {"block":N,"weights":[...]} (application/json)
//   GET /status    200 the health summary (ValidatorMetrics::status_json())
//   GET <path>     what StatusServerOptions::routes[path] returns (the
//                  validator registers /history.json and /dashboard); a
//                  route that throws is 500 with the exception's text
//   other paths 404 (naming every path served), other methods 405, a
//   malformed request 400; a client that sends nothing, or too slowly, is
//   disconnected after the client timeout.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "crucible/validator/validator_metrics.h"

namespace httplib {
class Server;
}

namespace crucible {

// One response of the status endpoint.
struct StatusResponse {
  int status = 200;  // 200, 400, 404, 500 or 503
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// An extra GET route: called on a server thread with the request target's
// query (after '?', "" when none) for each request; it must be thread-safe
// with whatever it reads.
using StatusRoute = std::function<StatusResponse(const std::string& query)>;

struct StatusServerOptions {
  std::string host = "127.0.0.1";  // an address (0.0.0.0: every interface) or a host name
  int port = 9184;                 // 0: any free port (see StatusServer::port())
  // The most time a client may stay silent while sending a request, taking
  // a response, or between requests on a kept-alive connection.
  std::chrono::milliseconds client_timeout{2000};
  // Requests served at once (one per thread); further connections wait.
  int threads = 4;
  // Extra GET routes by exact path ("/history.json"); each path starts with
  // '/' and is none of the built-in ones.
  std::map<std::string, StatusRoute> routes;
};

class StatusServer {
 public:
  // Binds, listens and starts serving `metrics`, which must outlive the
  // server. Throws std::runtime_error with one line, e.g. "status server:
  // cannot bind 127.0.0.1:9184: Address already in use", and
  // std::invalid_argument for a route path that is built in or lacks the
  // '/', or a thread count below 1.
  StatusServer(const ValidatorMetrics& metrics, StatusServerOptions options = {});

  // Throws std::invalid_argument with one line when the server could not
  // bind `host`:`port` for what they are: "port 70000 is out of range
  // 0..65535", "cannot resolve host 'x': Name or service not known". (A port
  // in use shows only when binding.) The constructor checks the same.
  static void check_address(const std::string& host, int port);

  // Stops.
  ~StatusServer();

  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // The port the server is bound to (the chosen one when options.port was 0).
  int port() const { return port_; }

  // Stops serving: closes the listening socket, lets the requests in
  // progress finish and joins the threads; bounded by the client timeout.
  // Idempotent; call it from the thread that owns the server.
  void stop();

 private:
  const ValidatorMetrics& metrics_;
  const StatusServerOptions options_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace crucible
