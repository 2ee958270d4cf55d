#include "crucible/validator/status_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace crucible {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kTextPlain = "text/plain; charset=utf-8";
constexpr const char* kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kJson = "application/json";
// After a response, unread input is drained for at most this long so that
// closing does not reset the connection before the client has read it.
constexpr std::chrono::milliseconds kMaxDrain{500};
constexpr size_t kMaxDrainBytes = 64 * 1024;
// Pause after accept() fails for lack of resources (too many open files).
constexpr std::chrono::milliseconds kAcceptRetryPause{100};

std::string error_text(int error) { return std::generic_category().message(error); }

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

enum class Wait { kReady, kTimedOut, kStopped };

// Waits until `fd` has one of `events` (fd < 0: nothing), `deadline` passes
// or `wake_fd` is readable, whichever comes first.
Wait wait_for(int fd, short events, int wake_fd, Clock::time_point deadline) {
  for (;;) {
    pollfd fds[2] = {{wake_fd, POLLIN, 0}, {fd, events, 0}};
    const auto remaining =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    const int timeout_ms = static_cast<int>(std::clamp<long long>(remaining, 0, INT_MAX));
    const int ready = ::poll(fds, 2, deadline == Clock::time_point::max() ? -1 : timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return Wait::kStopped;
    if (fds[0].revents != 0) return Wait::kStopped;
    if (fds[1].revents != 0) return Wait::kReady;
    return Wait::kTimedOut;
  }
}

// Sends all of `data` before `deadline`; false when the client went away,
// stopped reading or the server is stopping.
bool send_all(int fd, const std::string& data, int wake_fd, Clock::time_point deadline) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_for(fd, POLLOUT, wake_fd, deadline) != Wait::kReady) return false;
    } else {
      return false;
    }
  }
  return true;
}

enum class ReadHead { kComplete, kTooLarge, kTimedOut, kClosed, kStopped };

// Reads until the blank line that ends the request head, into `head`.
ReadHead read_head(int fd, int wake_fd, Clock::time_point deadline, std::string& head) {
  char buffer[4096];
  for (;;) {
    for (const char* end : {"\r\n\r\n", "\n\n"}) {
      const size_t at = head.find(end);
      if (at == std::string::npos) continue;
      const size_t head_size = at + std::char_traits<char>::length(end);
      if (head_size > StatusServer::kMaxRequestHeadBytes) return ReadHead::kTooLarge;
      head.resize(head_size);
      return ReadHead::kComplete;
    }
    if (head.size() >= StatusServer::kMaxRequestHeadBytes) return ReadHead::kTooLarge;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      head.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      return ReadHead::kClosed;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      const Wait wait = wait_for(fd, POLLIN, wake_fd, deadline);
      if (wait == Wait::kTimedOut) return ReadHead::kTimedOut;
      if (wait == Wait::kStopped) return ReadHead::kStopped;
    } else if (errno != EINTR) {
      return ReadHead::kClosed;
    }
  }
}

// Reads and discards what the client still sends, until it closes, a limit
// or `deadline`.
void drain(int fd, int wake_fd, Clock::time_point deadline) {
  char buffer[4096];
  size_t drained = 0;
  while (drained < kMaxDrainBytes) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      drained += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_for(fd, POLLIN, wake_fd, deadline) != Wait::kReady) return;
    } else if (!(n < 0 && errno == EINTR)) {
      return;
    }
  }
}

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
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

std::string serialize(const StatusResponse& response) {
  std::string out =
      "HTTP/1.1 " + std::to_string(response.status) + " " + reason_phrase(response.status) + "\r\n";
  out += "Content-Type: " + response.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  if (response.status == 405) out += "Allow: GET\r\n";
  out += "Connection: close\r\n\r\n";
  out += response.body;
  return out;
}

StatusResponse error_response(int status, const std::string& detail) {
  return {status, kTextPlain, std::string(reason_phrase(status)) + ": " + detail + "\n"};
}

bool is_token(const std::string& text) {
  static const std::string kTokenPunctuation = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           kTokenPunctuation.find(c) != std::string::npos;
  });
}

constexpr const char* kBuiltInPaths[] = {"/healthz", "/metrics", "/weights"};

// The response to a complete request head.
StatusResponse respond(const std::string& head, const ValidatorMetrics& metrics,
                       const std::map<std::string, StatusRoute>& routes) {
  std::string line = head.substr(0, head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const size_t first_space = line.find(' ');
  const size_t second_space = line.find(' ', first_space + 1);
  if (first_space == std::string::npos || second_space == std::string::npos ||
      line.find(' ', second_space + 1) != std::string::npos) {
    return error_response(400, "the request line is not 'METHOD /path HTTP/1.x'");
  }
  const std::string method = line.substr(0, first_space);
  const std::string target = line.substr(first_space + 1, second_space - first_space - 1);
  const std::string version = line.substr(second_space + 1);
  if (!is_token(method) || target.empty() || target[0] != '/' ||
      (version != "HTTP/1.0" && version != "HTTP/1.1")) {
    return error_response(400, "the request line is not 'METHOD /path HTTP/1.x'");
  }
  if (method != "GET") return error_response(405, "only GET is served");

  const size_t question_mark = target.find('?');
  const std::string path = target.substr(0, question_mark);
  if (path == "/healthz") {
    if (metrics.healthy()) return {200, kTextPlain, "ok\n"};
    return {503, kTextPlain, "unhealthy\n"};
  }
  if (path == "/metrics") return {200, kPrometheusText, metrics.prometheus_text()};
  if (path == "/weights") return {200, kJson, metrics.weights_json()};
  const auto route = routes.find(path);
  if (route != routes.end()) {
    return route->second(question_mark == std::string::npos ? ""
                                                            : target.substr(question_mark + 1));
  }
  return error_response(404, "no such path (try /healthz, /metrics or /weights)");
}

std::string host_and_port(const std::string& host, int port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

StatusServer::StatusServer(const ValidatorMetrics& metrics, StatusServerOptions options)
    : metrics_(metrics), options_(std::move(options)) {
  const std::string where = host_and_port(options_.host, options_.port);
  for (const auto& route : options_.routes) {
    const std::string& path = route.first;
    if (path.empty() || path[0] != '/' ||
        std::find(std::begin(kBuiltInPaths), std::end(kBuiltInPaths), path) !=
            std::end(kBuiltInPaths)) {
      throw std::invalid_argument("status server: route path '" + path +
                                  "' does not start with '/' or is built in");
    }
  }
  if (options_.port < 0 || options_.port > 65535) {
    throw std::runtime_error("status server: port " + std::to_string(options_.port) +
                             " is out of range 0..65535");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  const int resolved = ::getaddrinfo(options_.host.c_str(), std::to_string(options_.port).c_str(),
                                     &hints, &addresses);
  if (resolved != 0) {
    throw std::runtime_error("status server: cannot resolve host '" + options_.host +
                             "': " + ::gai_strerror(resolved));
  }
  const addrinfo address = *addresses;
  listen_fd_ = ::socket(address.ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  const int reuse = 1;
  const bool bound =
      listen_fd_ >= 0 &&
      ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse) == 0 &&
      ::bind(listen_fd_, address.ai_addr, address.ai_addrlen) == 0;
  int error = errno;
  ::freeaddrinfo(addresses);
  if (!bound) {
    close_fd(listen_fd_);
    throw std::runtime_error("status server: cannot bind " + where + ": " + error_text(error));
  }

  sockaddr_storage local{};
  socklen_t local_size = sizeof local;
  int wake[2] = {-1, -1};
  if (::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&local), &local_size) != 0 ||
      ::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    error = errno;
    close_fd(listen_fd_);
    throw std::runtime_error("status server: cannot listen on " + where + ": " + error_text(error));
  }
  char service[NI_MAXSERV];
  ::getnameinfo(reinterpret_cast<sockaddr*>(&local), local_size, nullptr, 0, service,
                sizeof service, NI_NUMERICSERV);
  port_ = std::stoi(service);
  wake_read_fd_ = wake[0];
  wake_write_fd_ = wake[1];
  thread_ = std::thread(&StatusServer::serve, this);
}

StatusServer::~StatusServer() { stop(); }

void StatusServer::stop() {
  if (!thread_.joinable()) return;
  const char byte = 0;
  while (::write(wake_write_fd_, &byte, 1) < 0 && errno == EINTR) {
  }
  thread_.join();
  close_fd(listen_fd_);
  close_fd(wake_read_fd_);
  close_fd(wake_write_fd_);
}

void StatusServer::serve() {
  for (;;) {
    if (wait_for(listen_fd_, POLLIN, wake_read_fd_, Clock::time_point::max()) != Wait::kReady) {
      return;
    }
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client >= 0) {
      handle_connection(client);
      close_fd(client);
    } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      if (wait_for(-1, 0, wake_read_fd_, Clock::now() + kAcceptRetryPause) == Wait::kStopped) {
        return;
      }
    }
  }
}

void StatusServer::handle_connection(int client) {
  const Clock::time_point read_deadline = Clock::now() + options_.client_timeout;
  std::string head;
  StatusResponse response;
  try {
    switch (read_head(client, wake_read_fd_, read_deadline, head)) {
      case ReadHead::kClosed:
      case ReadHead::kStopped:
        return;
      case ReadHead::kTimedOut:
        send_all(client, serialize(error_response(408, "the request head did not arrive in time")),
                 wake_read_fd_, Clock::now() + options_.client_timeout);
        return;
      case ReadHead::kTooLarge:
        response = error_response(
            431, "the request head is over " + std::to_string(kMaxRequestHeadBytes) + " bytes");
        break;
      case ReadHead::kComplete:
        response = respond(head, metrics_, options_.routes);
        break;
    }
  } catch (const std::exception& e) {
    response = error_response(500, e.what());
  }
  if (!send_all(client, serialize(response), wake_read_fd_,
                Clock::now() + options_.client_timeout)) {
    return;
  }
  ::shutdown(client, SHUT_WR);
  drain(client, wake_read_fd_, Clock::now() + std::min(kMaxDrain, options_.client_timeout));
}

}  // namespace crucible
