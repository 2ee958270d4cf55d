#include "crucible/validator/status_server.h"

#include <netdb.h>
#include <sys/socket.h>

#include <httplib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>

namespace crucible {
namespace {

constexpr const char* kTextPlain = "text/plain; charset=utf-8";
constexpr const char* kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kJson = "application/json";
constexpr const char* kBuiltInPaths[] = {"/healthz", "/metrics", "/weights", "/status"};

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

StatusResponse error_response(int status, const std::string& detail) {
  return {status, kTextPlain, std::string(reason_phrase(status)) + ": " + detail + "\n"};
}

// "/healthz, /metrics, ..., /dashboard or /history.json": every path served.
std::string served_paths(const std::map<std::string, StatusRoute>& routes) {
  std::vector<std::string> paths(std::begin(kBuiltInPaths), std::end(kBuiltInPaths));
  for (const auto& route : routes) paths.push_back(route.first);
  std::string text;
  for (size_t i = 0; i < paths.size(); ++i) {
    text += (i == 0 ? "" : i + 1 == paths.size() ? " or " : ", ") + paths[i];
  }
  return text;
}

// The response to GET `path` with `query`.
StatusResponse respond(const std::string& path, const std::string& query,
                       const ValidatorMetrics& metrics,
                       const std::map<std::string, StatusRoute>& routes) {
  if (path == "/healthz") {
    const std::vector<std::string> problems = metrics.problems();
    if (problems.empty()) return {200, kTextPlain, "ok\n"};
    std::string body = "unhealthy: ";
    for (size_t i = 0; i < problems.size(); ++i) body += (i == 0 ? "" : "; ") + problems[i];
    return {503, kTextPlain, body + "\n"};
  }
  if (path == "/metrics") return {200, kPrometheusText, metrics.prometheus_text()};
  if (path == "/weights") return {200, kJson, metrics.weights_json()};
  if (path == "/status") return {200, kJson, metrics.status_json()};
  const auto route = routes.find(path);
  if (route != routes.end()) return route->second(query);
  return error_response(404, "no such path (try " + served_paths(routes) + ")");
}

std::string host_and_port(const std::string& host, int port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

void send(const StatusResponse& response, httplib::Response& out) {
  out.status = response.status;
  out.set_content(response.body, response.content_type);
}

}  // namespace

void StatusServer::check_address(const std::string& host, int port) {
  if (port < 0 || port > 65535) {
    throw std::invalid_argument("port " + std::to_string(port) + " is out of range 0..65535");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* addresses = nullptr;
  const int resolved = ::getaddrinfo(host.c_str(), nullptr, &hints, &addresses);
  if (resolved != 0) {
    throw std::invalid_argument("cannot resolve host '" + host + "': " + ::gai_strerror(resolved));
  }
  ::freeaddrinfo(addresses);
}

StatusServer::StatusServer(const ValidatorMetrics& metrics, StatusServerOptions options)
    : metrics_(metrics), options_(std::move(options)) {
  for (const auto& route : options_.routes) {
    const std::string& path = route.first;
    if (path.empty() || path[0] != '/' ||
        std::find(std::begin(kBuiltInPaths), std::end(kBuiltInPaths), path) !=
            std::end(kBuiltInPaths)) {
      throw std::invalid_argument("status server: route path '" + path +
                                  "' does not start with '/' or is built in");
    }
  }
  if (options_.threads < 1) {
    throw std::invalid_argument("status server: threads must be >= 1, got " +
                                std::to_string(options_.threads));
  }
  try {
    check_address(options_.host, options_.port);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("status server: ") + e.what());
  }

  server_ = std::make_unique<httplib::Server>();
  const int threads = options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  const auto timeout =
      std::chrono::duration_cast<std::chrono::microseconds>(options_.client_timeout);
  const time_t seconds = static_cast<time_t>(timeout.count() / 1000000);
  const time_t microseconds = static_cast<time_t>(timeout.count() % 1000000);
  server_->set_read_timeout(seconds, microseconds);
  server_->set_write_timeout(seconds, microseconds);
  server_->set_keep_alive_timeout(std::max<time_t>(1, seconds));
  server_->set_payload_max_length(64 * 1024);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a
  // second validator would share the port instead of failing to bind.
  server_->set_socket_options([](int socket) {
    const int on = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  });
  server_->Get(".*", [this](const httplib::Request& request, httplib::Response& response) {
    const size_t question_mark = request.target.find('?');
    const std::string query =
        question_mark == std::string::npos ? "" : request.target.substr(question_mark + 1);
    try {
      send(respond(request.path, query, metrics_, options_.routes), response);
    } catch (const std::exception& e) {
      send(error_response(500, e.what()), response);
    }
  });
  const auto not_allowed = [](const httplib::Request&, httplib::Response& response) {
    send(error_response(405, "only GET is served"), response);
    response.set_header("Allow", "GET");
  };
  server_->Post(".*", not_allowed);
  server_->Put(".*", not_allowed);
  server_->Patch(".*", not_allowed);
  server_->Delete(".*", not_allowed);
  server_->Options(".*", not_allowed);

  errno = 0;
  const bool bound = options_.port == 0
                         ? (port_ = server_->bind_to_any_port(options_.host)) > 0
                         : server_->bind_to_port(options_.host, port_ = options_.port);
  if (!bound) {
    const int error = errno;
    throw std::runtime_error("status server: cannot bind " +
                             host_and_port(options_.host, options_.port) + ": " +
                             (error != 0 ? std::strerror(error) : "no usable address"));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

StatusServer::~StatusServer() { stop(); }

void StatusServer::stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace crucible
