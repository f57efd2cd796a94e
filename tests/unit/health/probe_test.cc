#include "health/probe.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace fiberlb::health {
namespace {

net::SocketAddress loopback(int port) {
  net::SocketAddress addr;
  EXPECT_TRUE(net::parseIpLiteral("127.0.0.1", port, &addr));
  return addr;
}

int boundPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// A socket bound and listening on an ephemeral loopback port, owned by the kernel alone.
int rawListener(int backlog) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  net::SocketAddress addr = loopback(0);
  EXPECT_EQ(bind(fd, addr.get(), addr.length), 0);
  EXPECT_EQ(listen(fd, backlog), 0);
  return fd;
}

// A port nobody listens on: bound once to learn a free number, then released.
int closedPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  net::SocketAddress addr = loopback(0);
  EXPECT_EQ(bind(fd, addr.get(), addr.length), 0);
  int port = boundPort(fd);
  close(fd);
  return port;
}

// A backend on the test's own loop. It reads each request head, then acts per Mode, except
// ReplyOnAccept, which answers and closes without reading anything.
class TestServer {
 public:
  enum class Mode { Reply, ReplyOnAccept, CloseWithoutReply, Reset, Silent };

  TestServer(uv_loop_t* loop, Mode mode, std::string reply = "")
      : loop_(loop), mode_(mode), reply_(std::move(reply)) {
    uv_tcp_init(loop_, &listener_);
    listener_.data = this;
    net::SocketAddress addr = loopback(0);
    EXPECT_EQ(uv_tcp_bind(&listener_, addr.get(), 0), 0);
    EXPECT_EQ(uv_listen(stream(&listener_), 512, &TestServer::onConnection), 0);
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }

  net::SocketAddress address() const { return loopback(port_); }
  int port() const { return port_; }
  const std::string& lastRequest() const { return last_request_; }
  int accepted() const { return accepted_; }
  // Runs on each accepted connection: the moment a probe is known to be mid-check.
  std::function<void()> on_accept;

  // Closes the listener and every open connection, so that the loop can end.
  void close() {
    if (uv_is_closing(handle(&listener_))) return;
    uv_close(handle(&listener_), nullptr);
    for (Conn* conn : conns_)
      closeConn(conn);
  }

 private:
  struct Conn {
    TestServer* server;
    uv_tcp_t tcp;
    uv_write_t write;
    std::string received;
  };

  static uv_stream_t* stream(uv_tcp_t* tcp) { return reinterpret_cast<uv_stream_t*>(tcp); }
  static uv_handle_t* handle(uv_tcp_t* tcp) { return reinterpret_cast<uv_handle_t*>(tcp); }

  static void onConnection(uv_stream_t* listener, int status) {
    auto* self = static_cast<TestServer*>(listener->data);
    ASSERT_EQ(status, 0);
    auto* conn = new Conn{self, {}, {}, {}};
    uv_tcp_init(self->loop_, &conn->tcp);
    conn->tcp.data = conn;
    conn->write.data = conn;
    self->conns_.insert(conn);
    ASSERT_EQ(uv_accept(listener, stream(&conn->tcp)), 0);
    ++self->accepted_;
    if (self->on_accept) self->on_accept();
    if (self->mode_ == Mode::ReplyOnAccept) {
      self->reply(conn);
    } else {
      uv_read_start(stream(&conn->tcp), &TestServer::onAlloc, &TestServer::onRead);
    }
  }

  void reply(Conn* conn) {
    uv_buf_t out = uv_buf_init(reply_.data(), static_cast<unsigned>(reply_.size()));
    uv_write(&conn->write, stream(&conn->tcp), &out, 1, &TestServer::onWritten);
  }

  static void onAlloc(uv_handle_t*, size_t suggested, uv_buf_t* buf) {
    *buf = uv_buf_init(new char[suggested], static_cast<unsigned>(suggested));
  }

  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* conn = static_cast<Conn*>(s->data);
    if (nread > 0) conn->received.append(buf->base, static_cast<size_t>(nread));
    delete[] buf->base;
    if (nread < 0) {
      conn->server->closeConn(conn);
    } else if (conn->received.find("\r\n\r\n") != std::string::npos) {
      uv_read_stop(s);
      conn->server->onRequest(conn);
    }
  }

  void onRequest(Conn* conn) {
    last_request_ = conn->received;
    if (mode_ == Mode::Reply) {
      reply(conn);
    } else if (mode_ == Mode::CloseWithoutReply) {
      closeConn(conn);
    } else if (mode_ == Mode::Reset) {
      uv_tcp_close_reset(&conn->tcp, &TestServer::onConnClosed);
    }
  }

  static void onWritten(uv_write_t* req, int) {
    auto* conn = static_cast<Conn*>(req->data);
    conn->server->closeConn(conn);
  }

  void closeConn(Conn* conn) {
    if (!uv_is_closing(handle(&conn->tcp))) uv_close(handle(&conn->tcp), &onConnClosed);
  }

  static void onConnClosed(uv_handle_t* h) {
    auto* conn = static_cast<Conn*>(h->data);
    conn->server->conns_.erase(conn);
    delete conn;
  }

  uv_loop_t* loop_;
  Mode mode_;
  std::string reply_;
  uv_tcp_t listener_;
  int port_ = 0;
  int accepted_ = 0;
  std::string last_request_;
  std::set<Conn*> conns_;
};

class ProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    // A hung check must fail the test, not the CI job. Unreferenced: it never keeps the
    // loop alive by itself.
    uv_timer_init(&loop_, &watchdog_);
    uv_timer_start(
        &watchdog_,
        [](uv_timer_t* t) {
          ADD_FAILURE() << "loop still busy after 10 s";
          uv_stop(t->loop);
        },
        10000, 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&watchdog_));
  }

  void TearDown() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  void runLoop() { uv_run(&loop_, UV_RUN_DEFAULT); }

  ProbeSpec spec(const TestServer& server, config::HealthCheckType type) {
    ProbeSpec spec;
    spec.type = type;
    spec.address = server.address();
    return spec;
  }

  // One check against `server`; the server closes when the verdict is in.
  ProbeResult check(TestServer& server, const ProbeSpec& spec) {
    Probe probe(&loop_);
    ProbeResult result;
    int calls = 0;
    probe.start(spec, [&](const ProbeResult& r) {
      result = r;
      ++calls;
      server.close();
    });
    EXPECT_TRUE(probe.running());
    runLoop();
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(probe.running());
    return result;
  }

  ProbeResult httpCheck(const std::string& reply) {
    TestServer server(&loop_, TestServer::Mode::Reply, reply);
    return check(server, spec(server, config::HealthCheckType::Http));
  }

  ProbeResult checkWithoutServer(const ProbeSpec& spec) {
    Probe probe(&loop_);
    ProbeResult result;
    int calls = 0;
    probe.start(spec, [&](const ProbeResult& r) {
      result = r;
      ++calls;
    });
    EXPECT_EQ(calls, 0);
    runLoop();
    EXPECT_EQ(calls, 1);
    return result;
  }

  uv_loop_t loop_;
  uv_timer_t watchdog_;
};

TEST_F(ProbeTest, HttpPassesOn200AndSendsTheRequest) {
  TestServer server(&loop_, TestServer::Mode::Reply,
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ProbeResult r = check(server, spec(server, config::HealthCheckType::Http));
  EXPECT_TRUE(r.passed()) << r.detail;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.detail, "");
  EXPECT_LT(r.elapsed_ms, 5000u);
  EXPECT_EQ(server.lastRequest(),
            "GET /health HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) +
                "\r\nUser-Agent: fiberlb-health-check\r\nAccept: "
                "*/*\r\nConnection: close\r\n\r\n");
}

TEST_F(ProbeTest, HttpSendsConfiguredHostAndPath) {
  TestServer server(&loop_, TestServer::Mode::Reply, "HTTP/1.0 204 No Content\r\n\r\n");
  ProbeSpec s = spec(server, config::HealthCheckType::Http);
  s.host = "api.example.com";
  s.path = "/ready?deep=1";
  ProbeResult r = check(server, s);
  EXPECT_TRUE(r.passed()) << r.detail;
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(
      server.lastRequest().rfind("GET /ready?deep=1 HTTP/1.1\r\nHost: api.example.com\r\n", 0), 0u)
      << server.lastRequest();
}

TEST_F(ProbeTest, Http503IsBadStatus) {
  ProbeResult r = httpCheck("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.outcome, ProbeOutcome::BadStatus);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.detail, "status 503 not in 200-399");
}

TEST_F(ProbeTest, BadStatusDetailListsEveryRange) {
  TestServer server(&loop_, TestServer::Mode::Reply, "HTTP/1.1 302 Found\r\n\r\n");
  ProbeSpec s = spec(server, config::HealthCheckType::Http);
  s.expected_status = {{200, 299}, {404, 404}};
  ProbeResult r = check(server, s);
  EXPECT_EQ(r.outcome, ProbeOutcome::BadStatus);
  EXPECT_EQ(r.detail, "status 302 not in 200-299,404");
}

TEST_F(ProbeTest, StatusInASecondRangePasses) {
  TestServer server(&loop_, TestServer::Mode::Reply, "HTTP/1.1 404 Not Found\r\n\r\n");
  ProbeSpec s = spec(server, config::HealthCheckType::Http);
  s.expected_status = {{200, 299}, {404, 404}};
  ProbeResult r = check(server, s);
  EXPECT_TRUE(r.passed()) << r.detail;
  EXPECT_EQ(r.status, 404);
}

// The server may close before our request reaches it, so sending can fail; the status line
// it already sent still decides.
TEST_F(ProbeTest, ReplyBeforeTheRequestStillCounts) {
  TestServer server(&loop_, TestServer::Mode::ReplyOnAccept, "HTTP/1.1 503 Busy\r\n\r\n");
  ProbeResult r = check(server, spec(server, config::HealthCheckType::Http));
  EXPECT_EQ(r.outcome, ProbeOutcome::BadStatus) << r.detail;
  EXPECT_EQ(r.status, 503);
}

TEST_F(ProbeTest, GarbageIsBadResponse) {
  ProbeResult r = httpCheck("SSH-2.0-OpenSSH_9.2\r\n");
  EXPECT_EQ(r.outcome, ProbeOutcome::BadResponse);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.detail, "not an HTTP response");
}

TEST_F(ProbeTest, CloseWithoutReplyIsBadResponse) {
  TestServer server(&loop_, TestServer::Mode::CloseWithoutReply);
  ProbeResult r = check(server, spec(server, config::HealthCheckType::Http));
  EXPECT_EQ(r.outcome, ProbeOutcome::BadResponse);
  EXPECT_EQ(r.detail, "connection closed without a response");
}

TEST_F(ProbeTest, CloseMidStatusLineIsBadResponse) {
  ProbeResult r = httpCheck("HTTP/1.1 2");
  EXPECT_EQ(r.outcome, ProbeOutcome::BadResponse);
  EXPECT_EQ(r.detail, "connection closed before a complete status line");
}

TEST_F(ProbeTest, ResetBeforeReplyIsConnectError) {
  TestServer server(&loop_, TestServer::Mode::Reset);
  ProbeResult r = check(server, spec(server, config::HealthCheckType::Http));
  EXPECT_EQ(r.outcome, ProbeOutcome::ConnectError);
  EXPECT_EQ(r.detail, "connection reset before a response");
}

TEST_F(ProbeTest, SilentServerTimesOut) {
  TestServer server(&loop_, TestServer::Mode::Silent);
  ProbeSpec s = spec(server, config::HealthCheckType::Http);
  s.timeout_ms = 100;
  ProbeResult r = check(server, s);
  EXPECT_EQ(r.outcome, ProbeOutcome::Timeout);
  EXPECT_EQ(r.detail, "no response within 100 ms");
  EXPECT_GE(r.elapsed_ms, 100u);
  EXPECT_EQ(server.lastRequest().rfind("GET /health ", 0), 0u);
}

TEST_F(ProbeTest, TcpPassesAgainstAListeningPort) {
  TestServer server(&loop_, TestServer::Mode::Silent);
  ProbeResult r = check(server, spec(server, config::HealthCheckType::Tcp));
  EXPECT_TRUE(r.passed()) << r.detail;
  EXPECT_EQ(r.status, 0);
}

TEST_F(ProbeTest, TcpAgainstAClosedPortIsRefused) {
  ProbeSpec s;
  s.type = config::HealthCheckType::Tcp;
  s.address = loopback(closedPort());
  ProbeResult r = checkWithoutServer(s);
  EXPECT_EQ(r.outcome, ProbeOutcome::ConnectError);
  EXPECT_EQ(r.detail, "connection refused");
}

TEST_F(ProbeTest, HttpAgainstAClosedPortIsRefused) {
  ProbeSpec s;
  s.type = config::HealthCheckType::Http;
  s.address = loopback(closedPort());
  ProbeResult r = checkWithoutServer(s);
  EXPECT_EQ(r.outcome, ProbeOutcome::ConnectError);
  EXPECT_EQ(r.detail, "connection refused");
}

// Linux drops SYNs to a listener whose accept queue is full, so once one unaccepted
// connection fills a backlog-0 queue the next connect hangs in SYN_SENT.
TEST_F(ProbeTest, ConnectThatNeverCompletesTimesOut) {
  int listener = rawListener(0);
  net::SocketAddress addr = loopback(boundPort(listener));
  int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(filler, addr.get(), addr.length), 0);
  ProbeSpec s;
  s.type = config::HealthCheckType::Tcp;
  s.address = addr;
  s.timeout_ms = 100;
  ProbeResult r = checkWithoutServer(s);
  EXPECT_EQ(r.outcome, ProbeOutcome::Timeout);
  EXPECT_EQ(r.detail, "connect timed out after 100 ms");
  EXPECT_GE(r.elapsed_ms, 100u);
  close(filler);
  close(listener);
}

TEST_F(ProbeTest, ImmediateFailureIsReportedFromTheLoopNotFromStart) {
  ProbeSpec s;  // no address: uv_tcp_connect fails inside start()
  ProbeResult r = checkWithoutServer(s);
  EXPECT_EQ(r.outcome, ProbeOutcome::ConnectError);
  EXPECT_EQ(r.detail, uv_strerror(UV_EINVAL));
}

TEST_F(ProbeTest, CancelMidCheckNeverCallsBack) {
  TestServer server(&loop_, TestServer::Mode::Silent);
  Probe probe(&loop_);
  bool called = false;
  server.on_accept = [&] {
    probe.cancel();
    EXPECT_FALSE(probe.running());
    server.close();
  };
  probe.start(spec(server, config::HealthCheckType::Http),
              [&](const ProbeResult&) { called = true; });
  runLoop();
  EXPECT_FALSE(called);
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(ProbeTest, DestroyingTheProbeMidCheckIsSafe) {
  TestServer server(&loop_, TestServer::Mode::Silent);
  auto probe = std::make_unique<Probe>(&loop_);
  bool called = false;
  server.on_accept = [&] {
    probe.reset();
    server.close();
  };
  probe->start(spec(server, config::HealthCheckType::Http),
               [&](const ProbeResult&) { called = true; });
  runLoop();
  EXPECT_FALSE(called);
}

TEST_F(ProbeTest, CancelRightAfterStartNeverCallsBack) {
  TestServer server(&loop_, TestServer::Mode::Silent);
  Probe probe(&loop_);
  bool called = false;
  probe.start(spec(server, config::HealthCheckType::Tcp),
              [&](const ProbeResult&) { called = true; });
  probe.cancel();
  server.close();
  runLoop();
  EXPECT_FALSE(called);
}

TEST_F(ProbeTest, CallbackMayStartTheNextCheck) {
  TestServer server(&loop_, TestServer::Mode::Reply, "HTTP/1.1 200 OK\r\n\r\n");
  Probe probe(&loop_);
  ProbeSpec s = spec(server, config::HealthCheckType::Http);
  int passes = 0;
  std::function<void(const ProbeResult&)> done = [&](const ProbeResult& r) {
    EXPECT_FALSE(probe.running());
    if (r.passed()) ++passes;
    if (passes < 3 && r.passed()) {
      probe.start(s, done);
    } else {
      server.close();
    }
  };
  probe.start(s, done);
  runLoop();
  EXPECT_EQ(passes, 3);
}

TEST_F(ProbeTest, ManyConcurrentProbesAllPass) {
  constexpr int kProbes = 200;
  TestServer server(&loop_, TestServer::Mode::Reply, "HTTP/1.1 200 OK\r\n\r\n");
  std::vector<std::unique_ptr<Probe>> probes;
  int finished = 0;
  int passed = 0;
  for (int i = 0; i < kProbes; ++i) {
    probes.push_back(std::make_unique<Probe>(&loop_));
    probes.back()->start(spec(server, config::HealthCheckType::Http), [&](const ProbeResult& r) {
      EXPECT_TRUE(r.passed()) << toString(r.outcome) << ": " << r.detail;
      passed += r.passed() ? 1 : 0;
      if (++finished == kProbes) server.close();
    });
  }
  runLoop();
  EXPECT_EQ(finished, kProbes);
  EXPECT_EQ(passed, kProbes);
  EXPECT_EQ(server.accepted(), kProbes);
}

TEST(ProbeOutcomeTest, Names) {
  EXPECT_STREQ(toString(ProbeOutcome::Passed), "passed");
  EXPECT_STREQ(toString(ProbeOutcome::Timeout), "timeout");
  EXPECT_STREQ(toString(ProbeOutcome::ConnectError), "connect_error");
  EXPECT_STREQ(toString(ProbeOutcome::BadStatus), "bad_status");
  EXPECT_STREQ(toString(ProbeOutcome::BadResponse), "bad_response");
}

struct StatusLineCase {
  std::string input;
  int expected;
};

TEST(ParseStatusLineTest, Table) {
  const std::vector<StatusLineCase> cases = {
      {"HTTP/1.1 200 OK\r\n", 200},
      {"HTTP/1.0 404 Not Found\r\n", 404},
      {"HTTP/1.1 204\r\n", 204},
      {"HTTP/1.1 599 Custom", 599},
      {"HTTP/1.1 100 Continue\r\n", 100},
      {"", 0},
      {"H", 0},
      {"HTTP/1.", 0},
      {"HTTP/1.1 20", 0},
      {"HTTP/1.1 200", 0},
      {"http/1.1 200 OK\r\n", -1},
      {"HTTP/2 200\r\n", -1},
      {"HTTP/1.1  200 OK\r\n", -1},
      {"HTTP/1.1 2x0 OK\r\n", -1},
      {"HTTP/1.1 200OK\r\n", -1},
      {"HTTP/1.1 2000 OK\r\n", -1},
      {"HTTP/1.1 099 Low\r\n", -1},
      {"HTTP/1.1 200\n", -1},
      {"SSH-2.0-OpenSSH\r\n", -1},
      {"GET / HTTP/1.1\r\n", -1},
      {"X", -1},
      {"HTTX", -1},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parseStatusLine(c.input.data(), c.input.size()), c.expected) << '"' << c.input << '"';
  }
}

TEST(ParseStatusLineTest, EveryPrefixOfAStatusLineAsksForMore) {
  const std::string line = "HTTP/1.1 503 Service Unavailable\r\n";
  for (size_t len = 0; len < 13; ++len) {
    EXPECT_EQ(parseStatusLine(line.data(), len), 0) << len;
  }
  for (size_t len = 13; len <= line.size(); ++len) {
    EXPECT_EQ(parseStatusLine(line.data(), len), 503) << len;
  }
}

TEST(ParseStatusLineTest, GarbageIsRejectedWithoutWaitingForMore) {
  EXPECT_EQ(parseStatusLine("<html>", 6), -1);
  EXPECT_EQ(parseStatusLine("HTTP/3", 6), -1);
}

TEST(ProbeStatusExpectedTest, InclusiveRanges) {
  const std::vector<config::StatusRange> ranges = {{200, 299}, {404, 404}};
  EXPECT_TRUE(statusExpected(200, ranges));
  EXPECT_TRUE(statusExpected(299, ranges));
  EXPECT_TRUE(statusExpected(404, ranges));
  EXPECT_FALSE(statusExpected(199, ranges));
  EXPECT_FALSE(statusExpected(300, ranges));
  EXPECT_FALSE(statusExpected(403, ranges));
  EXPECT_FALSE(statusExpected(405, ranges));
  EXPECT_FALSE(statusExpected(200, {}));
}

TEST(ProbeStatusExpectedTest, DefaultSpecAccepts200To399) {
  ProbeSpec spec;
  EXPECT_TRUE(statusExpected(200, spec.expected_status));
  EXPECT_TRUE(statusExpected(399, spec.expected_status));
  EXPECT_FALSE(statusExpected(400, spec.expected_status));
  EXPECT_FALSE(statusExpected(199, spec.expected_status));
}

}  // namespace
}  // namespace fiberlb::health
