// HttpHub against tests/python/misbehaving_hub.py, a local HTTP server that
// serves fixture repositories and misbehaves according to the repository name
// (404, 401, 500, flaky, slow, truncated, oversize, wrong content, redirects).
#include "crucible/validator/http_hub.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "crucible/common/files.h"
#include "test_files.h"

namespace crucible {
namespace {

namespace fs = std::filesystem;

// The token the server's "private" repositories accept (TOKEN in misbehaving_hub.py).
const char kServerToken[] = "hf_test_token_4f9c2a";

class HttpHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = folder_.path();
    fs::create_directories(dir_ + "/hub");
    start_server();
  }

  void TearDown() override {
    if (server_ > 0) {
      ::kill(server_, SIGTERM);
      ::waitpid(server_, nullptr, 0);
    }
  }

  // Runs the server with stdout on a pipe (the port line) and stderr, one
  // line per request, in dir_/requests.log.
  void start_server() {
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const std::string log_path = dir_ + "/requests.log";
    const std::string root = dir_ + "/hub";
    server_ = ::fork();
    ASSERT_GE(server_, 0);
    if (server_ == 0) {
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
      if (!::freopen(log_path.c_str(), "w", stderr)) ::_exit(126);
      ::execl("/usr/bin/python3", "python3", CRUCIBLE_MISBEHAVING_HUB, root.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    std::string port;
    char c = 0;
    while (::read(pipe_fds[0], &c, 1) == 1 && c != '\n') port += c;
    ::close(pipe_fds[0]);
    ASSERT_FALSE(port.empty()) << "the hub server did not start";
    endpoint_ = "http://127.0.0.1:" + port;
  }

  // Writes `files` (relative path -> bytes) as repository `repo_id` at `commit`.
  void add_repo(const std::string& repo_id, const std::string& commit,
                const std::map<std::string, std::string>& files) {
    for (const auto& [name, bytes] : files) {
      testing_files::write_file(fs::path(dir_) / "hub" / repo_id / commit / name, bytes);
    }
  }

  HttpHubOptions options() {
    HttpHubOptions o;
    o.endpoint = endpoint_;
    o.connect_timeout_seconds = 2;
    o.total_timeout_seconds = 10;
    o.low_speed_bytes_per_second = 1024;
    o.low_speed_seconds = 2;
    o.max_attempts = 3;
    o.initial_backoff_seconds = 0.05;
    o.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(logs_mutex_);
      logs_.push_back(line);
    };
    return o;
  }

  // A new empty folder to download into.
  std::string destination() {
    const std::string path = dir_ + "/dest" + std::to_string(destinations_++);
    fs::create_directories(path);
    return path;
  }

  // The requests the server has received, in order ("GET <path>").
  std::vector<std::string> requests() const {
    std::vector<std::string> lines;
    std::ifstream in(dir_ + "/requests.log");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("GET ", 0) == 0) lines.push_back(line);
    }
    return lines;
  }

  // The error download() throws; a test failure when it does not throw.
  ModelFetchError error_of(HttpHub& hub, const std::string& repo_id, const std::string& commit,
                           int64_t cap = 1 << 20) {
    try {
      hub.download(repo_id, commit, cap, destination());
    } catch (const ModelFetchError& e) {
      return e;
    }
    ADD_FAILURE() << "download of " << repo_id << "@" << commit << " did not throw";
    return ModelFetchError("none", "");
  }

  // Downloads `repo_id` at `commit` (cap 1 MiB) into a new folder and returns
  // the files written there: relative path -> bytes.
  std::map<std::string, std::string> downloaded_files(HttpHub& hub, const std::string& repo_id,
                                                      const std::string& commit) {
    const std::string dest = destination();
    hub.download(repo_id, commit, 1 << 20, dest);
    return testing_files::files_under(dest);
  }

  // Serves `repo_id` at c1 with a one-byte model.pt and returns the error its
  // download with options() throws.
  ModelFetchError error_of_small_model(const std::string& repo_id) {
    add_repo(repo_id, "c1", {{"model.pt", "x"}});
    HttpHub hub(options());
    return error_of(hub, repo_id, "c1");
  }

  // Bytes 0..255 repeated, so NUL and high bytes are in every file.
  static std::string binary_bytes(size_t n, int seed) {
    std::string bytes(n, '\0');
    for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>((i * 7 + seed) & 0xff);
    return bytes;
  }

  TemporaryFolder folder_{"http_hub_test"};
  std::string dir_;
  std::string endpoint_;
  pid_t server_ = -1;
  int destinations_ = 0;
  std::mutex logs_mutex_;
  std::vector<std::string> logs_;
};

TEST_F(HttpHubTest, GoodRepositoryDownloadsByteIdenticalFilesWithNestedPaths) {
  const std::map<std::string, std::string> files = {{"model.pt", binary_bytes(3000, 1)},
                                                    {"config.json", "{\"a\": 1}\n"},
                                                    {"sub/dir/weights.bin", binary_bytes(77, 5)},
                                                    {"docs/read me.txt", "spaces and a%sign"}};
  add_repo("ns/good", "abc123", files);
  HttpHub hub(options());
  EXPECT_EQ(downloaded_files(hub, "ns/good", "abc123"), files);
  EXPECT_TRUE(logs_.empty());
  const std::vector<std::string> sent = requests();
  ASSERT_EQ(sent.size(), 5u);
  EXPECT_EQ(sent[0], "GET /api/models/ns/good/revision/abc123?blobs=true");
  EXPECT_NE(std::find(sent.begin(), sent.end(), "GET /ns/good/resolve/abc123/docs/read%20me.txt"),
            sent.end());
}

TEST_F(HttpHubTest, AnnouncedTotalAtTheCapDownloadsAndOneByteOverIsRefusedBeforeAnyFile) {
  add_repo("ns/good", "c1", {{"model.pt", binary_bytes(1000, 2)}, {"extra.bin", "12345"}});
  HttpHub hub(options());
  hub.download("ns/good", "c1", 1005, destination());
  const size_t before = requests().size();
  const ModelFetchError e = error_of(hub, "ns/good", "c1", 1004);
  EXPECT_EQ(e.reason(), "too-large");
  EXPECT_STREQ(e.what(),
               "hub: ns/good@c1: file list: the repository's files total 1005 bytes (0.0 MiB), "
               "over the limit of 1004 bytes (0.0 MiB)");
  EXPECT_EQ(requests().size(), before + 1);  // the file list only
}

TEST_F(HttpHubTest, RedirectsAreFollowed) {
  const std::map<std::string, std::string> files = {{"model.pt", binary_bytes(500, 3)},
                                                    {"a/b.bin", "xyz"}};
  add_repo("ns/redirect-model", "c1", files);
  HttpHub hub(options());
  EXPECT_EQ(downloaded_files(hub, "ns/redirect-model", "c1"), files);
}

TEST_F(HttpHubTest, RedirectLoopFailsWithoutRetrying) {
  const ModelFetchError e = error_of_small_model("ns/redirectloop");
  EXPECT_EQ(e.reason(), "download-failed");
  EXPECT_NE(std::string(e.what()).find("hub: ns/redirectloop@c1: \"model.pt\": "),
            std::string::npos)
      << e.what();
  EXPECT_EQ(requests().size(), 1u + 6u);  // the list, the file and 5 redirects
}

TEST_F(HttpHubTest, MissingRepositoryIsNotFound) {
  const ModelFetchError e = error_of_small_model("ns/notfound");
  EXPECT_EQ(e.reason(), "not-found");
  EXPECT_STREQ(e.what(), "hub: ns/notfound@c1: file list: HTTP 404");
  EXPECT_EQ(requests().size(), 1u);
}

TEST_F(HttpHubTest, MissingCommitIsNotFound) {
  add_repo("ns/good", "c1", {{"model.pt", "x"}});
  HttpHub hub(options());
  EXPECT_EQ(error_of(hub, "ns/good", "c2").reason(), "not-found");
}

TEST_F(HttpHubTest, MissingFileIsNotFound) {
  const ModelFetchError e = error_of_small_model("ns/missingfiles");
  EXPECT_EQ(e.reason(), "not-found");
  EXPECT_STREQ(e.what(), "hub: ns/missingfiles@c1: \"model.pt\": HTTP 404");
}

TEST_F(HttpHubTest, ServerErrorIsRetriedThenFails) {
  const ModelFetchError e = error_of_small_model("ns/error500");
  EXPECT_EQ(e.reason(), "download-failed");
  EXPECT_STREQ(e.what(), "hub: ns/error500@c1: \"model.pt\": HTTP 500 after 3 attempts");
  EXPECT_EQ(requests().size(), 1u + 3u);
  ASSERT_EQ(logs_.size(), 2u);
  EXPECT_EQ(logs_[0],
            "hub: ns/error500@c1: \"model.pt\": HTTP 500, retrying in 0.05 s (attempt 2 of 3)");
  EXPECT_EQ(logs_[1],
            "hub: ns/error500@c1: \"model.pt\": HTTP 500, retrying in 0.1 s (attempt 3 of 3)");
}

TEST_F(HttpHubTest, FlakyServerSucceedsAfterOneRetryPerRequest) {
  const std::map<std::string, std::string> files = {{"model.pt", binary_bytes(2000, 4)}};
  add_repo("ns/flaky", "c1", files);
  HttpHub hub(options());
  // The 500 page was not left in the file.
  EXPECT_EQ(downloaded_files(hub, "ns/flaky", "c1"), files);
  EXPECT_EQ(requests().size(), 4u);  // the list twice, the file twice
  EXPECT_EQ(logs_.size(), 2u);
}

TEST_F(HttpHubTest, SlowServerTimesOut) {
  add_repo("ns/slow", "c1", {{"model.pt", binary_bytes(100, 6)}});
  HttpHubOptions o = options();
  o.max_attempts = 2;
  HttpHub hub(o);
  const ModelFetchError e = error_of(hub, "ns/slow", "c1");
  EXPECT_EQ(e.reason(), "download-failed");
  const std::string message = e.what();
  EXPECT_EQ(message.rfind("hub: ns/slow@c1: \"model.pt\": ", 0), 0u) << message;
  EXPECT_NE(message.find("too slow"), std::string::npos) << message;
  EXPECT_NE(message.find("after 2 attempts"), std::string::npos) << message;
}

TEST_F(HttpHubTest, TruncatedBodyIsRetriedThenFails) {
  add_repo("ns/truncated", "c1", {{"model.pt", binary_bytes(400, 7)}});
  HttpHub hub(options());
  const ModelFetchError e = error_of(hub, "ns/truncated", "c1");
  EXPECT_EQ(e.reason(), "download-failed");
  const std::string message = e.what();
  EXPECT_EQ(message.rfind("hub: ns/truncated@c1: \"model.pt\": ", 0), 0u) << message;
  EXPECT_NE(message.find("after 3 attempts"), std::string::npos) << message;
  EXPECT_EQ(requests().size(), 1u + 3u);
}

TEST_F(HttpHubTest, BodyLargerThanAnnouncedTripsTheCapWhileDownloading) {
  add_repo("ns/oversize", "c1", {{"model.pt", binary_bytes(5000, 8)}});
  HttpHub hub(options());
  const std::string dest = destination();
  try {
    hub.download("ns/oversize", "c1", 1000, dest);
    FAIL() << "no error";
  } catch (const ModelFetchError& e) {
    EXPECT_EQ(e.reason(), "too-large");
    EXPECT_STREQ(e.what(),
                 "hub: ns/oversize@c1: \"model.pt\": over the cap of 1000 bytes while downloading");
  }
  EXPECT_LE(fs::file_size(dest + "/model.pt"), 1000u);
  EXPECT_EQ(requests().size(), 2u);  // not retried
}

TEST_F(HttpHubTest, BodyLargerThanAnnouncedWithinTheCapIsASizeMismatch) {
  add_repo("ns/oversize", "c1", {{"model.pt", binary_bytes(5000, 8)}});
  HttpHub hub(options());
  const ModelFetchError e = error_of(hub, "ns/oversize", "c1", 1 << 20);
  EXPECT_EQ(e.reason(), "download-failed");
  EXPECT_STREQ(
      e.what(),
      "hub: ns/oversize@c1: \"model.pt\": got 5000 bytes, the file list announced 1 after 3 "
      "attempts");
}

TEST_F(HttpHubTest, WrongContentDownloadsTheServedBytes) {
  const std::string original = binary_bytes(300, 9);
  add_repo("ns/wrongcontent", "c1", {{"model.pt", original}});
  HttpHub hub(options());
  const std::string dest = destination();
  hub.download("ns/wrongcontent", "c1", 1 << 20, dest);
  const std::string served = read_file(dest + "/model.pt");
  ASSERT_EQ(served.size(), original.size());
  EXPECT_NE(served, original);
  EXPECT_EQ(static_cast<unsigned char>(served[0]), static_cast<unsigned char>(original[0]) ^ 0xff);
}

TEST_F(HttpHubTest, PrivateRepositoryWithoutTokenIsAccessDenied) {
  const ModelFetchError e = error_of_small_model("ns/private");
  EXPECT_EQ(e.reason(), "not-found");
  EXPECT_STREQ(e.what(), "hub: ns/private@c1: file list: access denied (HTTP 401)");
}

TEST_F(HttpHubTest, PrivateRepositoryWithTokenDownloads) {
  const std::map<std::string, std::string> files = {{"model.pt", binary_bytes(64, 10)}};
  add_repo("ns/private", "c1", files);
  HttpHubOptions o = options();
  o.token = kServerToken;
  HttpHub hub(o);
  EXPECT_EQ(downloaded_files(hub, "ns/private", "c1"), files);
}

TEST_F(HttpHubTest, TokenNeverAppearsInMessagesOrLogs) {
  const std::string token = "hf_secret_never_shown_8d1e";
  add_repo("ns/private", "c1", {{"model.pt", "x"}});
  add_repo("ns/error500", "c1", {{"model.pt", "x"}});
  HttpHubOptions o = options();
  o.token = token;
  HttpHub hub(o);
  std::vector<std::string> messages;
  messages.push_back(error_of(hub, "ns/private", "c1").what());   // 401: a wrong token
  messages.push_back(error_of(hub, "ns/error500", "c1").what());  // retries logged
  messages.push_back(error_of(hub, "ns/" + token, "c1").what());  // the token in the id
  messages.push_back(error_of(hub, "ns/bad", "c1/" + token).what());
  ASSERT_EQ(logs_.size(), 2u);
  for (const std::string& line : messages) {
    EXPECT_EQ(line.find(token), std::string::npos) << line;
  }
  for (const std::string& line : logs_) EXPECT_EQ(line.find(token), std::string::npos) << line;
}

TEST_F(HttpHubTest, BadRepositoryIdsAndCommitsAreRefusedWithoutARequest) {
  HttpHub hub(options());
  for (const std::string id : {"noslash", "a/b/c", "/name", "ns/", "ns/..", "./name", "ns/na me",
                               "ns/name\n", "ns/name?x=1", "ns/n%41me", ""}) {
    const ModelFetchError e = error_of(hub, id, "c1");
    EXPECT_EQ(e.reason(), "bad-files") << id;
    EXPECT_EQ(std::string(e.what()).rfind("hub: invalid repository id \"", 0), 0u) << e.what();
  }
  for (const std::string commit : {"", "..", "abc/def", "abc?x", "a b", "main#1"}) {
    const ModelFetchError e = error_of(hub, "ns/good", commit);
    EXPECT_EQ(e.reason(), "bad-files") << commit;
    EXPECT_EQ(std::string(e.what()).rfind("hub: ns/good: invalid commit \"", 0), 0u) << e.what();
  }
  EXPECT_STREQ(error_of(hub, "ns/name\n", "c1").what(),
               "hub: invalid repository id \"ns/name\\x0a\": expected \"namespace/name\" of "
               "letters, digits, '.', '_', '-'");
  EXPECT_TRUE(requests().empty());
}

TEST_F(HttpHubTest, UnsafeOrConflictingListedNamesAreRefusedBeforeAnyFile) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"([{"rfilename": "../evil", "size": 1}])", "\"..\" path component"},
      {R"([{"rfilename": "/etc/passwd"}])", "absolute path"},
      {R"([{"rfilename": "a//b"}])", "empty path component"},
      {R"([{"rfilename": "a/./b"}])", "\".\" path component"},
      {R"([{"rfilename": "a/"}])", "empty path component"},
      {R"([{"rfilename": ""}])", "empty file name"},
      {R"([{"rfilename": "x\u0001y"}])", "control character in file name"},
      {R"([{"rfilename": "m.pt"}, {"rfilename": "m.pt"}])", "listed twice"},
      {R"([{"rfilename": "a"}, {"rfilename": "a/b"}])", "which is also a listed file"}};
  HttpHub hub(options());
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string commit = "c" + std::to_string(i);
    add_repo("ns/evil", commit, {{"_siblings.json", cases[i].first}});
    const std::string dest = destination();
    try {
      hub.download("ns/evil", commit, 1 << 20, dest);
      ADD_FAILURE() << cases[i].first << " was accepted";
    } catch (const ModelFetchError& e) {
      EXPECT_EQ(e.reason(), "bad-files") << cases[i].first;
      EXPECT_NE(std::string(e.what()).find(cases[i].second), std::string::npos) << e.what();
    }
    EXPECT_TRUE(fs::is_empty(dest));
  }
  EXPECT_EQ(requests().size(), cases.size());  // file lists only
  EXPECT_FALSE(fs::exists(dir_ + "/evil"));
}

TEST_F(HttpHubTest, MalformedFileListFailsTheDownload) {
  const std::vector<std::string> lists = {R"([{"rfilename": 5}])",
                                          R"(["model.pt"])",
                                          R"([{"rfilename": "m.pt", "size": -1}])",
                                          R"([{"rfilename": "m.pt", "size": 1.5}])",
                                          R"([{"rfilename": "m.pt", "size": "1"}])",
                                          R"({})"};
  HttpHub hub(options());
  for (size_t i = 0; i < lists.size(); ++i) {
    const std::string commit = "c" + std::to_string(i);
    add_repo("ns/malformed", commit, {{"_siblings.json", lists[i]}});
    const ModelFetchError e = error_of(hub, "ns/malformed", commit);
    EXPECT_EQ(e.reason(), "download-failed") << lists[i];
    EXPECT_EQ(std::string(e.what()).rfind("hub: ns/malformed@" + commit + ": file list: ", 0), 0u)
        << e.what();
  }
}

TEST_F(HttpHubTest, UnannouncedSizeIsAcceptedAndStillCapped) {
  const std::string bytes = binary_bytes(700, 11);
  add_repo("ns/nosize", "c1",
           {{"model.pt", bytes}, {"_siblings.json", R"([{"rfilename": "model.pt"}])"}});
  HttpHub hub(options());
  const std::string dest = destination();
  hub.download("ns/nosize", "c1", 700, dest);
  EXPECT_EQ(read_file(dest + "/model.pt"), bytes);
  EXPECT_EQ(error_of(hub, "ns/nosize", "c1", 699).reason(), "too-large");
}

TEST_F(HttpHubTest, UnreachableEndpointFailsAfterRetries) {
  HttpHubOptions o = options();
  o.endpoint = "http://127.0.0.1:1";
  HttpHub hub(o);
  const ModelFetchError e = error_of(hub, "ns/good", "c1");
  EXPECT_EQ(e.reason(), "download-failed");
  const std::string message = e.what();
  EXPECT_EQ(message.rfind("hub: ns/good@c1: file list: ", 0), 0u) << message;
  EXPECT_NE(message.find("after 3 attempts"), std::string::npos) << message;
}

TEST_F(HttpHubTest, ConcurrentDownloadsAreIndependent) {
  const std::map<std::string, std::string> good = {{"model.pt", binary_bytes(20000, 12)},
                                                   {"n/x.bin", "n"}};
  add_repo("ns/good", "c1", good);
  add_repo("ns/error500", "c1", {{"model.pt", "x"}});
  HttpHub hub(options());
  std::vector<std::string> dests;
  for (int i = 0; i < 6; ++i) dests.push_back(destination());
  std::vector<std::string> outcomes(dests.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < dests.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        hub.download(i % 3 == 2 ? "ns/error500" : "ns/good", "c1", 1 << 20, dests[i]);
        outcomes[i] = "ok";
      } catch (const ModelFetchError& e) {
        outcomes[i] = e.reason();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < dests.size(); ++i) {
    if (i % 3 == 2) {
      EXPECT_EQ(outcomes[i], "download-failed");
    } else {
      EXPECT_EQ(outcomes[i], "ok");
      EXPECT_EQ(testing_files::files_under(dests[i]), good);
    }
  }
}

TEST(HttpHubOptionsTest, OutOfRangeOptionsAreRefused) {
  HttpHubOptions o;
  o.max_attempts = 0;
  EXPECT_THROW(HttpHub{o}, std::invalid_argument);
  o = HttpHubOptions{};
  o.endpoint = "/";
  EXPECT_THROW(HttpHub{o}, std::invalid_argument);
  o = HttpHubOptions{};
  o.total_timeout_seconds = 0;
  EXPECT_THROW(HttpHub{o}, std::invalid_argument);
  EXPECT_NO_THROW(HttpHub{HttpHubOptions{}});
}

}  // namespace
}  // namespace crucible
