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

HttpResponse http_get(int port, const std::string& request_line) {
  return parse(send_request(port, request_line + "\r\nHost: localhost\r\n\r\n"));
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

TEST_F(StatusServerTest, HealthzIs503WhileUnhealthy) {
  StatusServer server(metrics_, options());
  metrics_.set_healthy(false);
  HttpResponse health = http_get(server.port(), "GET /healthz HTTP/1.1");
  EXPECT_EQ(health.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(health.body, "unhealthy\n");
  metrics_.set_healthy(true);
  EXPECT_EQ(http_get(server.port(), "GET /healthz HTTP/1.1").body, "ok\n");
}

TEST_F(StatusServerTest, UnknownPathIs404AndOtherMethodsAre405) {
  StatusServer server(metrics_, options());
  for (const char* line : {"GET / HTTP/1.1", "GET /metricsx HTTP/1.1", "GET /healthz/ HTTP/1.1"}) {
    HttpResponse response = http_get(server.port(), line);
    EXPECT_EQ(response.status_line, "HTTP/1.1 404 Not Found") << line;
    EXPECT_EQ(response.body, "Not Found: no such path (try /healthz, /metrics or /weights)\n");
  }
  for (const char* line :
       {"POST /metrics HTTP/1.1", "HEAD /healthz HTTP/1.1", "get /healthz HTTP/1.1"}) {
    HttpResponse response = http_get(server.port(), line);
    EXPECT_EQ(response.status_line, "HTTP/1.1 405 Method Not Allowed") << line;
    EXPECT_EQ(response.headers["Allow"], "GET") << line;
  }
}

TEST_F(StatusServerTest, MalformedRequestLineIs400) {
  StatusServer server(metrics_, options());
  for (const char* line :
       {"GARBAGE", "", "GET /healthz", "GET healthz HTTP/1.1", "GET /healthz HTTP/2.0",
        "GET  /healthz HTTP/1.1", "GET /healthz HTTP/1.1 extra", "G(T /healthz HTTP/1.1"}) {
    HttpResponse response = http_get(server.port(), line);
    EXPECT_EQ(response.status_line, "HTTP/1.1 400 Bad Request") << "'" << line << "'";
    EXPECT_EQ(response.body, "Bad Request: the request line is not 'METHOD /path HTTP/1.x'\n");
  }
}

TEST_F(StatusServerTest, OversizedRequestHeadIs431) {
  StatusServer server(metrics_, options());
  const std::string request =
      "GET /healthz HTTP/1.1\r\nX-Padding: " + std::string(StatusServer::kMaxRequestHeadBytes, 'a');
  HttpResponse response = parse(send_request(server.port(), request));
  EXPECT_EQ(response.status_line, "HTTP/1.1 431 Request Header Fields Too Large");
  // A head of exactly the limit is served.
  std::string exact = "GET /healthz HTTP/1.1\r\nX-Padding: ";
  exact += std::string(StatusServer::kMaxRequestHeadBytes - exact.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(exact.size(), StatusServer::kMaxRequestHeadBytes);
  EXPECT_EQ(parse(send_request(server.port(), exact)).body, "ok\n");
}

TEST_F(StatusServerTest, SilentClientDelaysTheNextRequestAtMostTheTimeout) {
  StatusServer server(metrics_, options(milliseconds(300)));
  const int silent = connect_to(server.port());
  ASSERT_GE(silent, 0);
  std::this_thread::sleep_for(milliseconds(50));  // the server is now waiting on it
  const Clock::time_point start = Clock::now();
  HttpResponse health = http_get(server.port(), "GET /healthz HTTP/1.1");
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_GE(elapsed, milliseconds(200));
  EXPECT_LT(elapsed, milliseconds(1500));
  EXPECT_EQ(parse(read_to_end(silent)).status_line, "HTTP/1.1 408 Request Timeout");
  ::close(silent);
}

TEST_F(StatusServerTest, SlowClientIsCutOffAtTheTimeout) {
  StatusServer server(metrics_, options(milliseconds(300)));
  const int slow = connect_to(server.port());
  ASSERT_GE(slow, 0);
  const Clock::time_point start = Clock::now();
  for (const char c : std::string("GET /healthz HTTP/1.1\r\n")) {
    if (::send(slow, &c, 1, MSG_NOSIGNAL) != 1) break;
    std::this_thread::sleep_for(milliseconds(40));
  }
  EXPECT_EQ(parse(read_to_end(slow)).status_line, "HTTP/1.1 408 Request Timeout");
  EXPECT_LT(Clock::now() - start, milliseconds(1500));
  ::close(slow);
}

TEST_F(StatusServerTest, SilentClientDoesNotBlockStop) {
  StatusServer server(metrics_, options(milliseconds(30000)));
  const int silent = connect_to(server.port());
  ASSERT_GE(silent, 0);
  std::this_thread::sleep_for(milliseconds(100));
  const Clock::time_point start = Clock::now();
  server.stop();
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
  EXPECT_EQ(read_to_end(silent), "");  // dropped without a response
  ::close(silent);
  EXPECT_EQ(connect_to(server.port()), -1);  // no longer listening
  server.stop();                             // idempotent
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
  EXPECT_EQ(http_get(server.port(), "POST /echo HTTP/1.1").status_line,
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
  EXPECT_EQ(two.body, R"({"steps":[2,3],"blocks":[200,300],"competition_ids":[null,null],)"
                      R"("seconds":[0.5,0.5],"pending":[2,2],"active":[1,1],"uids":[4],)"
                      R"("series":{"4":{"hotkey":"k","ema":[0.25,0.25],"weight":[1,1],)"
                      R"("mean_loss":[null,null],"composite":[null,null]}},"failures":{},)"
                      R"("current_weights":[0,1],"skipped_lines":0,"total_steps_in_window":2})");
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
        metrics_.set_healthy(i % 2 == 0);
      }
    });
  }
  std::thread reader([&] {
    for (int round = 0; writing || round < 20; ++round) {
      for (const char* path : {"/metrics", "/weights"}) {
        HttpResponse response = http_get(server.port(), std::string("GET ") + path + " HTTP/1.1");
        EXPECT_EQ(response.status_line, "HTTP/1.1 200 OK") << path;
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
