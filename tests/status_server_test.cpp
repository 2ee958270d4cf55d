// The status endpoint over real sockets: each path, the error statuses,
// extra routes (/history.json among them), silent, slow and vanishing
// clients, a port in use, and metrics updated from threads while they are
// served (checked by ThreadSanitizer).
#include "crucible/validator/status_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "crucible/common/files.h"
#include "crucible/validator/step_history.h"

namespace crucible {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A connected client socket (5 s receive timeout so a broken server fails
// the test instead of hanging it), or -1.
int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Everything the server sends until it closes.
std::string read_to_end(int fd) {
  std::string data;
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) data.append(buffer, n);
  return data;
}

// Sends `request` raw and returns the raw response ("" when no connection).
std::string send_request(int port, const std::string& request) {
  const int fd = connect_to(port);
  if (fd < 0) return "";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response = read_to_end(fd);
  ::close(fd);
  return response;
}

struct HttpResponse {
  std::string status_line;
  std::map<std::string, std::string> headers;
  std::string body;
};

HttpResponse parse(const std::string& raw) {
  HttpResponse response;
  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return response;
  response.body = raw.substr(head_end + 4);
  size_t start = 0;
  while (start < head_end) {
    const size_t end = raw.find("\r\n", start);
    const std::string line = raw.substr(start, end - start);
    if (start == 0) {
      response.status_line = line;
    } else {
      const size_t colon = line.find(": ");
      response.headers[line.substr(0, colon)] = line.substr(colon + 2);
    }
    start = end + 2;
  }
  return response;
}

// One request on its own connection, which the server then closes.
HttpResponse http_get(int port, const std::string& request_line) {
  return parse(
      send_request(port, request_line + "\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
}

class StatusServerTest : public ::testing::Test {
 protected:
  static StatusServerOptions options(milliseconds client_timeout = milliseconds(500)) {
    StatusServerOptions result;
    result.port = 0;
    result.client_timeout = client_timeout;
    return result;
  }

  ValidatorMetrics metrics_;
};

TEST_F(StatusServerTest, ServesHealthzMetricsAndWeights) {
  metrics_.record_step(3, 1234, 1.5, 17);
  metrics_.set_weights(1200, {0.25, 0.75});
  StatusServer server(metrics_, options());
  ASSERT_GT(server.port(), 0);

  HttpResponse health = http_get(server.port(), "GET /healthz HTTP/1.1");
  EXPECT_EQ(health.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(health.headers["Content-Type"], "text/plain; charset=utf-8");
  EXPECT_EQ(health.headers["Content-Length"], "3");
  EXPECT_EQ(health.headers["Connection"], "close");
  EXPECT_EQ(health.body, "ok\n");

  HttpResponse metrics = http_get(server.port(), "GET /metrics HTTP/1.0");
  EXPECT_EQ(metrics.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(metrics.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(metrics.body, metrics_.prometheus_text());
  EXPECT_EQ(metrics.headers["Content-Length"], std::to_string(metrics.body.size()));
  EXPECT_NE(metrics.body.find("\ncrucible_block 1234\n"), std::string::npos);

  HttpResponse weights = http_get(server.port(), "GET /weights?pretty=1 HTTP/1.1");
  EXPECT_EQ(weights.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(weights.headers["Content-Type"], "application/json");
  EXPECT_EQ(weights.body, R"({"block":1200,"weights":[0.25,0.75]})");
}

TEST_F(StatusServerTest, HealthzIs503WithTheProblemsWhileUnhealthy) {
  StatusServer server(metrics_, options());
  metrics_.set_problem("step", "the last step failed: disk full");
  metrics_.set_problem("chain", "chain stale: metagraph.json last read fine 400 s ago");
  HttpResponse health = http_get(server.port(), "GET /healthz HTTP/1.1");
  EXPECT_EQ(health.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(health.body,
            "unhealthy: chain stale: metagraph.json last read fine 400 s ago; the last step "
            "failed: disk full\n");
  metrics_.set_problem("chain", "");
  EXPECT_EQ(http_get(server.port(), "GET /healthz HTTP/1.1").body,
            "unhealthy: the last step failed: disk full\n");
  metrics_.set_problem("step", "");
  EXPECT_EQ(http_get(server.port(), "GET /healthz HTTP/1.1").body, "ok\n");
}

TEST_F(StatusServerTest, StatusIsTheMetricsSummary) {
  StatusServer server(metrics_, options());
  HttpResponse status = http_get(server.port(), "GET /status HTTP/1.1");
  EXPECT_EQ(status.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(status.headers["Content-Type"], "application/json");
  const nlohmann::json document = nlohmann::json::parse(status.body);
  EXPECT_EQ(document["healthy"], true);
  EXPECT_EQ(document["chain"]["stale"], false);
}

TEST_F(StatusServerTest, UnknownPathIs404NamingEveryPathAndOtherMethodsAre405) {
  StatusServerOptions with_routes = options();
  with_routes.routes["/dashboard"] = [](const std::string&) { return StatusResponse{}; };
  with_routes.routes["/history.json"] = [](const std::string&) { return StatusResponse{}; };
  StatusServer server(metrics_, with_routes);
  for (const char* line : {"GET / HTTP/1.1", "GET /metricsx HTTP/1.1", "GET /healthz/ HTTP/1.1"}) {
    HttpResponse response = http_get(server.port(), line);
    EXPECT_EQ(response.status_line, "HTTP/1.1 404 Not Found") << line;
    EXPECT_EQ(response.body,
              "Not Found: no such path (try /healthz, /metrics, /weights, /status, /dashboard or "
              "/history.json)\n");
  }
  for (const char* line : {"POST /metrics HTTP/1.1", "PUT /healthz HTTP/1.1",
                           "DELETE /weights HTTP/1.1", "OPTIONS /status HTTP/1.1"}) {
    HttpResponse response = http_get(server.port(), std::string(line) + "\r\nContent-Length: 0");
    EXPECT_EQ(response.status_line, "HTTP/1.1 405 Method Not Allowed") << line;
    EXPECT_EQ(response.headers["Allow"], "GET") << line;
  }
  // HEAD is GET without the body.
  HttpResponse head = http_get(server.port(), "HEAD /healthz HTTP/1.1");
  EXPECT_EQ(head.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(head.body, "");
}

TEST_F(StatusServerTest, MalformedRequestLineIs400) {
  StatusServer server(metrics_, options());
  for (const char* line : {"GARBAGE", "GET /healthz", "GET /healthz HTTP/1.1 extra"}) {
    HttpResponse response = http_get(server.port(), line);
    EXPECT_EQ(response.status_line, "HTTP/1.1 400 Bad Request") << "'" << line << "'";
  }
  EXPECT_EQ(http_get(server.port(), "GET /healthz HTTP/1.1").body, "ok\n");
}

TEST_F(StatusServerTest, OversizedRequestHeadIsRefusedAndTheServerGoesOn) {
  StatusServer server(metrics_, options());
  const std::string request =
      "GET /healthz HTTP/1.1\r\nX-Padding: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
  const HttpResponse response = parse(send_request(server.port(), request));
  EXPECT_NE(response.body, "ok\n");
  EXPECT_EQ(http_get(server.port(), "GET /healthz HTTP/1.1").body, "ok\n");
}

TEST_F(StatusServerTest, SilentClientDoesNotDelayOthersAndIsDroppedAtTheTimeout) {
  StatusServer server(metrics_, options(milliseconds(300)));
  const int silent = connect_to(server.port());
  ASSERT_GE(silent, 0);
  std::this_thread::sleep_for(milliseconds(50));  // a server thread is now waiting on it
  const Clock::time_point start = Clock::now();
  EXPECT_EQ(http_get(server.port(), "GET /healthz HTTP/1.1").body, "ok\n");
  EXPECT_LT(Clock::now() - start, milliseconds(250));
  EXPECT_EQ(read_to_end(silent), "");  // closed after 300 ms without a response
  EXPECT_LT(Clock::now() - start, milliseconds(1500));
  ::close(silent);
}

TEST_F(StatusServerTest, SlowClientIsCutOffOnceItStalls) {
  StatusServer server(metrics_, options(milliseconds(300)));
  const int slow = connect_to(server.port());
  ASSERT_GE(slow, 0);
  const Clock::time_point start = Clock::now();
  for (const char c : std::string("GET /healthz HTTP/1.1\r\n")) {
    if (::send(slow, &c, 1, MSG_NOSIGNAL) != 1) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  // Closed (httplib answers the incomplete request 400) soon after it stalls.
  EXPECT_EQ(parse(read_to_end(slow)).body, "");
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  ::close(slow);
}

TEST_F(StatusServerTest, StopIsBoundedByTheClientTimeout) {
  StatusServer server(metrics_, options(milliseconds(500)));
  const int silent = connect_to(server.port());
  ASSERT_GE(silent, 0);
  std::this_thread::sleep_for(milliseconds(100));
  const Clock::time_point start = Clock::now();
  server.stop();
  EXPECT_LT(Clock::now() - start, milliseconds(1500));
  EXPECT_EQ(read_to_end(silent), "");  // dropped without a response
  ::close(silent);
  EXPECT_EQ(connect_to(server.port()), -1);  // no longer listening
  server.stop();                             // idempotent
}

TEST_F(StatusServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StatusServer server(metrics_, options());
  const int fd = connect_to(server.port());
  ASSERT_GE(fd, 0);
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
  std::string received;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    // The whole response: its head, then Content-Length (3) bytes of body.
    received.clear();
    char buffer[4096];
    while (received.find("\r\n\r\n") == std::string::npos || parse(received).body.size() < 3) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      ASSERT_GT(n, 0);
      received.append(buffer, static_cast<size_t>(n));
    }
    EXPECT_EQ(parse(received).body, "ok\n") << i;
  }
  ::close(fd);
}

TEST_F(StatusServerTest, BindsWhereTold) {
  StatusServerOptions anywhere = options();
  anywhere.host = "0.0.0.0";
  StatusServer server(metrics_, anywhere);
  EXPECT_EQ(http_get(server.port(), "GET /healthz HTTP/1.1").body, "ok\n");
  StatusServerOptions bad = options();
  bad.host = "no-such-host.invalid";
  try {
    StatusServer unresolved(metrics_, bad);
    FAIL() << "bound a host that does not resolve";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(
                  "status server: cannot resolve host 'no-such-host.invalid': ", 0),
              0u)
        << e.what();
  }
}

TEST_F(StatusServerTest, VanishingClientsDoNotHurtTheServer) {
  StatusServer server(metrics_, options(milliseconds(5000)));
  // Connects and leaves at once; leaves mid-request.
  ::close(connect_to(server.port()));
  int fd = connect_to(server.port());
  ::send(fd, "GET /met", 8, MSG_NOSIGNAL);
  ::close(fd);
  // Asks for a response larger than the socket buffers (about 6 MB), reads a
  // little of it and resets the connection: the server's pending send fails
  // and it moves on at once, not after the 5 s client timeout.
  metrics_.set_weights(1, std::vector<double>(1 << 19, 0.123456789));
  for (int i = 0; i < 2; ++i) {
    fd = connect_to(server.port());
    const std::string request = "GET /weights HTTP/1.1\r\n\r\n";
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char first[16];
    EXPECT_EQ(::recv(fd, first, sizeof first, MSG_WAITALL), 16);
    const linger reset{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(fd);
  }
  const Clock::time_point start = Clock::now();
  EXPECT_EQ(http_get(server.port(), "GET /healthz HTTP/1.1").body, "ok\n");
  EXPECT_LT(Clock::now() - start, milliseconds(400));
}

TEST_F(StatusServerTest, PortInUseIsAOneLineError) {
  StatusServer first(metrics_, options());
  StatusServerOptions same_port = options();
  same_port.port = first.port();
  try {
    StatusServer second(metrics_, same_port);
    FAIL() << "bound a port already in use";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "status server: cannot bind 127.0.0.1:" +
                                         std::to_string(first.port()) + ": Address already in use");
  }
  EXPECT_EQ(http_get(first.port(), "GET /healthz HTTP/1.1").body, "ok\n");
}

TEST_F(StatusServerTest, PortOutOfRangeIsAnError) {
  StatusServerOptions bad = options();
  bad.port = 70000;
  try {
    StatusServer server(metrics_, bad);
    FAIL() << "accepted port 70000";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "status server: port 70000 is out of range 0..65535");
  }
}

TEST_F(StatusServerTest, ExtraRoutesGetTheQueryAndMayFail) {
  StatusServerOptions with_routes = options();
  with_routes.routes["/echo"] = [](const std::string& query) {
    return StatusResponse{200, "text/x-echo", "query=" + query};
  };
  with_routes.routes["/broken"] = [](const std::string&) -> StatusResponse {
    throw std::runtime_error("no data");
  };
  StatusServer server(metrics_, with_routes);
  HttpResponse echo = http_get(server.port(), "GET /echo?a=1&b=2 HTTP/1.1");
  EXPECT_EQ(echo.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(echo.headers["Content-Type"], "text/x-echo");
  EXPECT_EQ(echo.body, "query=a=1&b=2");
  EXPECT_EQ(http_get(server.port(), "GET /echo HTTP/1.1").body, "query=");
  HttpResponse broken = http_get(server.port(), "GET /broken HTTP/1.1");
  EXPECT_EQ(broken.status_line, "HTTP/1.1 500 Internal Server Error");
  EXPECT_EQ(broken.body, "Internal Server Error: no data\n");
  EXPECT_EQ(http_get(server.port(), "GET /echo/ HTTP/1.1").status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(http_get(server.port(), "POST /echo HTTP/1.1\r\nContent-Length: 0").status_line,
            "HTTP/1.1 405 Method Not Allowed");
}

TEST_F(StatusServerTest, RoutesMayNotReplaceBuiltInPaths) {
  for (const char* path : {"/weights", "history.json", ""}) {
    StatusServerOptions bad = options();
    bad.routes[path] = [](const std::string&) { return StatusResponse{}; };
    EXPECT_THROW(StatusServer(metrics_, bad), std::invalid_argument) << path;
  }
}

TEST_F(StatusServerTest, HistoryJsonServesTheLastStepsAnd400OnABadStepsValue) {
  const TemporaryFolder folder("crucible-status-history-test");
  const std::string metrics_path = folder.path() + "/metrics.jsonl";
  std::ofstream out(metrics_path);
  for (int step = 1; step <= 3; ++step) {
    out << R"({"step":)" << step << R"(,"block":)" << 100 * step
        << R"(,"seconds":0.5,"pending":2,"active":1,"models":[{"uid":4,"hotkey":"k",)"
        << R"("status":"ok","ema":0.25,"weight":1}],"subnet_weights":[0,1]})"
        << "\n";
  }
  out.close();
  StatusServerOptions with_history = options();
  with_history.routes["/history.json"] = step_history_route(metrics_path);
  StatusServer server(metrics_, with_history);

  HttpResponse two = http_get(server.port(), "GET /history.json?steps=2 HTTP/1.1");
  EXPECT_EQ(two.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(two.headers["Content-Type"], "application/json");
  EXPECT_EQ(two.body,
            R"({"steps":[2,3],"times":[null,null],"blocks":[200,300],)"
            R"("competition_ids":[null,null],"seconds":[0.5,0.5],"pending":[2,2],"active":[1,1],)"
            R"("uids":[4],"series":{"4":{"hotkey":"k","ema":[0.25,0.25],"weight":[1,1],)"
            R"("mean_loss":[null,null],"composite":[null,null]}},"failures":{},)"
            R"("current_weights":[0,1],"miners":[{"uid":4,"hotkey":"k","model":"","status":"ok",)"
            R"("reason":"","ema":0.25,"weight":1}],"skipped_lines":0,"total_steps_in_window":2})");
  const auto steps_served = [&](const std::string& target) {
    const HttpResponse response = http_get(server.port(), "GET " + target + " HTTP/1.1");
    EXPECT_EQ(response.status_line, "HTTP/1.1 200 OK") << target;
    return nlohmann::json::parse(response.body)["steps"];
  };
  EXPECT_EQ(steps_served("/history.json"), nlohmann::json::parse("[1,2,3]"));
  EXPECT_EQ(steps_served("/history.json?steps=0"), nlohmann::json::parse("[3]"));
  EXPECT_EQ(steps_served("/history.json?x=1&steps=99999999999999999999999"),
            nlohmann::json::parse("[1,2,3]"));
  for (const char* target : {"/history.json?steps=abc", "/history.json?steps=-1",
                             "/history.json?steps=", "/history.json?steps",
                             "/history.json?steps=2x", "/history.json?steps=1.5"}) {
    const HttpResponse response =
        http_get(server.port(), std::string("GET ") + target + " HTTP/1.1");
    EXPECT_EQ(response.status_line, "HTTP/1.1 400 Bad Request") << target;
    EXPECT_EQ(response.body, "Bad Request: steps must be a whole number (1..10000 are served)\n");
  }
}

TEST_F(StatusServerTest, ServesWhileMetricsAreUpdatedFromThreads) {
  StatusServer server(metrics_, options());
  constexpr int kWriters = 3, kIterations = 2000;
  std::atomic<bool> writing{true};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([this] {
      for (int i = 0; i < kIterations; ++i) {
        metrics_.record_step(i, 5000 + i, 0.25, 2);
        metrics_.add_failure("bad-output");
        metrics_.set_queue_sizes(i, 1);
        metrics_.set_weights(5000 + i, {1.0});
        metrics_.set_problem("step", i % 2 == 0 ? "" : "failing");
      }
    });
  }
  std::thread reader([&] {
    for (int round = 0; writing || round < 20; ++round) {
      for (const char* path : {"/metrics", "/weights", "/status", "/healthz"}) {
        HttpResponse response = http_get(server.port(), std::string("GET ") + path + " HTTP/1.1");
        EXPECT_NE(response.status_line, "") << path;
        EXPECT_EQ(response.headers["Content-Length"], std::to_string(response.body.size()));
      }
    }
  });
  for (std::thread& writer : writers) writer.join();
  writing = false;
  reader.join();
  const std::string body = http_get(server.port(), "GET /metrics HTTP/1.1").body;
  EXPECT_NE(body.find("\ncrucible_models_evaluated_total 12000\n"), std::string::npos);
  EXPECT_NE(body.find("\ncrucible_model_failures_total{reason=\"bad-output\"} 6000\n"),
            std::string::npos);
}

}  // namespace
}  // namespace crucible
