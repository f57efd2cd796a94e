// Plain L4 TCP load balancing through the real binary (SPEC §6, `protocol = "tcp"`): bytes
// relayed unchanged both ways with back-pressure and half-close, connections spread by
// round-robin and least-connections, a dead backend skipped by retrying the connect, a
// backend that closes first, the fiberlb_l4_* counters and client_idle_ms.
//
// Backends are TcpBackends (tests/support/tcp_backends.h): named listeners of one Python
// process that echo, say hello then echo, or say bye and close.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/admin_json.h"
#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/tcp_backends.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

// A raw client socket: non-blocking, every call bounded by a deadline.
class RawConn {
 public:
  RawConn() = default;
  ~RawConn() { close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool connect(uint16_t port, Deadline deadline) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
    if (errno != EINPROGRESS) return false;
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, remainingMs(deadline)) != 1) return false;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    return err == 0;
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  // Sends all of `bytes`; safe to call from another thread than the reads.
  bool sendAll(std::string_view bytes, Deadline deadline) {
    std::string error;
    return sendWithin(fd_, bytes, deadline, error);
  }

  // Appends what arrives to `out` until `want` bytes are there, EOF (eof() then tells) or
  // the deadline; true when `out` holds at least `want` bytes.
  bool readUntil(std::string& out, size_t want, Deadline deadline) {
    char buf[65536];
    while (out.size() < want && !eof_) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        eof_ = true;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, remainingMs(deadline)) != 1) return false;
      } else {
        eof_ = true;
        reset_ = errno == ECONNRESET;
      }
    }
    return out.size() >= want;
  }

  // Reads one "\n"-terminated line (without the newline); nullopt on EOF or deadline.
  std::optional<std::string> readLine(Deadline deadline) {
    while (true) {
      const size_t nl = buffered_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffered_.substr(0, nl);
        buffered_.erase(0, nl + 1);
        return line;
      }
      if (!readUntil(buffered_, buffered_.size() + 1, deadline)) return std::nullopt;
    }
  }

  // Reads until EOF, appending to `out`; false at the deadline.
  bool readToEof(std::string& out, Deadline deadline) {
    out += buffered_;
    buffered_.clear();
    while (!eof_) {
      if (!readUntil(out, out.size() + 1, deadline) && !eof_) return false;
    }
    return true;
  }

  bool eof() const { return eof_; }
  bool reset() const { return reset_; }

 private:
  int fd_ = -1;
  bool eof_ = false;
  bool reset_ = false;
  std::string buffered_;
};

// One tcp LB "tcp" over `backends`, one worker (so that round-robin is exact per process).
FiberlbConfig tcpConfig(const std::vector<BackendConfig>& backends,
                        const std::string& method = "roundrobin") {
  FiberlbConfig config = singleLb(backends, method);
  config.workers = 1;
  LbConfig& lb = config.loadbalancers[0];
  lb.name = "tcp";
  lb.protocol = "tcp";
  return config;
}

// Connects through the LB and reads the hello line of the backend it reached.
std::string helloOf(RawConn& conn, uint16_t port) {
  if (!conn.connect(port, deadlineIn(5000))) return "<connect failed>";
  return conn.readLine(deadlineIn(5000)).value_or("<no hello line>");
}

// The value of the first sample `name{lb="tcp"}` in /metrics; -1 when absent.
double metric(uint16_t admin, const std::string& name) {
  Response r = fetch(admin, getRequest("/metrics"), deadlineIn(5000));
  const std::string sample = "\n" + name + "{lb=\"tcp\"} ";
  const size_t at = r.body.find(sample);
  return at == std::string::npos ? -1 : std::stod(r.body.substr(at + sample.size()));
}

// The integer `field` of backend `name` in /api/geo/nodes; -1 when unknown.
int64_t nodeField(uint16_t admin, const std::string& name, const std::string& field) {
  const nlohmann::json nodes = adminJson(admin, "/api/geo/nodes");
  if (!nodes.is_array()) return -1;
  for (const auto& n : nodes) {
    if (n.value("node_id", "") == name) return n.value(field, int64_t{-1});
  }
  return -1;
}

// Connections currently relayed to backend `name` (a tcp LB counts connections).
int64_t activeConnections(uint16_t admin, const std::string& name) {
  return nodeField(admin, name, "active_requests");
}

TEST(TcpProxy, EchoesTwoMegabytesWithHalfClose) {
  TcpBackends backends({"e1:echo"});
  ASSERT_TRUE(backends.ok()) << backends.process().output();
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(tcpConfig({{"e1", backends.port("e1")}})));

  constexpr size_t kBytes = 2 * 1024 * 1024;
  const std::string payload = patternBody(kBytes);
  RawConn conn;
  ASSERT_TRUE(conn.connect(lb.port("tcp"), deadlineIn(5000)));
  // Send and receive at the same time: the echo's back-pressure would otherwise stall a
  // client that writes everything before reading.
  bool sent = false;
  std::thread sender([&] {
    sent = conn.sendAll(payload, deadlineIn(20000));
    conn.shutdownWrite();
  });
  std::string received;
  const bool complete = conn.readToEof(received, deadlineIn(20000));
  sender.join();
  ASSERT_TRUE(sent) << "the client could not send its 2 MB";
  ASSERT_TRUE(complete) << "no EOF after the half-close; received " << received.size() << " bytes";
  EXPECT_FALSE(conn.reset());
  EXPECT_EQ(received.size(), kBytes);
  EXPECT_EQ(firstPatternMismatch(received, kBytes), -1) << "the echoed bytes differ";
  // The backend saw the client's FIN (it stopped echoing after exactly 2 MB).
  EXPECT_TRUE(backends.process().waitForLine("EOF e1 conn=1 bytes=" + std::to_string(kBytes),
                                             deadlineIn(5000)))
      << backends.process().output();
  EXPECT_EQ(backends.process().countLines("ACCEPT "), 1u);
  EXPECT_EQ(backends.process().countLines("ERROR "), 0u) << backends.process().output();
}

TEST(TcpProxy, RoundRobinSpreadsConnectionsEvenly) {
  TcpBackends backends({"b1:hello", "b2:hello", "b3:hello"});
  ASSERT_TRUE(backends.ok()) << backends.process().output();
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(tcpConfig(
      {{"b1", backends.port("b1")}, {"b2", backends.port("b2")}, {"b3", backends.port("b3")}})));

  std::map<std::string, int> count;
  std::vector<std::string> order;
  for (int i = 0; i < 9; ++i) {
    RawConn conn;
    const std::string name = helloOf(conn, lb.port("tcp"));
    ++count[name];
    order.push_back(name);
  }
  EXPECT_EQ(count["b1"], 3) << ::testing::PrintToString(order);
  EXPECT_EQ(count["b2"], 3) << ::testing::PrintToString(order);
  EXPECT_EQ(count["b3"], 3) << ::testing::PrintToString(order);
  // Equal weights: every window of three consecutive connections meets every backend.
  for (size_t i = 0; i + 2 < order.size(); ++i) {
    EXPECT_NE(order[i], order[i + 1]) << ::testing::PrintToString(order);
    EXPECT_NE(order[i], order[i + 2]) << ::testing::PrintToString(order);
  }
}

TEST(TcpProxy, LeastConnAvoidsTheBackendHoldingAConnection) {
  TcpBackends backends({"b1:hello", "b2:hello"});
  ASSERT_TRUE(backends.ok()) << backends.process().output();
  FiberlbProcess lb;
  ASSERT_TRUE(
      lb.start(tcpConfig({{"b1", backends.port("b1")}, {"b2", backends.port("b2")}}, "leastconn")));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  RawConn held;
  const std::string busy = helloOf(held, lb.port("tcp"));
  ASSERT_TRUE(busy == "b1" || busy == "b2") << busy;
  const std::string other = busy == "b1" ? "b2" : "b1";
  ASSERT_TRUE(pollUntil([&] { return activeConnections(admin, busy) == 1; }, deadlineIn(5000)));

  for (int i = 0; i < 5; ++i) {
    {
      RawConn conn;
      EXPECT_EQ(helloOf(conn, lb.port("tcp")), other) << "connection " << i;
    }
    // The next pick must see the closed connection gone, not a tie.
    ASSERT_TRUE(pollUntil([&] { return activeConnections(admin, other) == 0; }, deadlineIn(5000)))
        << "connection " << i << " still counted on " << other;
  }
  EXPECT_EQ(activeConnections(admin, busy), 1);

  // The held connection still works end to end.
  ASSERT_TRUE(held.sendAll("ping\n", deadlineIn(5000)));
  EXPECT_EQ(held.readLine(deadlineIn(5000)), "ping");
}

TEST(TcpProxy, ADeadBackendIsSkippedByRetryingTheConnect) {
  TcpBackends backends({"live:hello"});
  ASSERT_TRUE(backends.ok()) << backends.process().output();
  FiberlbProcess lb;
  // No healthcheck table: only the connect failure tells fiberlb that "dead" is dead.
  ASSERT_TRUE(lb.start(tcpConfig({{"dead", refusingPort()}, {"live", backends.port("live")}})));

  for (int i = 0; i < 8; ++i) {
    RawConn conn;
    ASSERT_EQ(helloOf(conn, lb.port("tcp")), "live") << "connection " << i;
    // The relay works after a retried connect: the bytes sent early reach the live backend.
    ASSERT_TRUE(conn.sendAll("after retry " + std::to_string(i) + "\n", deadlineIn(5000)));
    EXPECT_EQ(conn.readLine(deadlineIn(5000)), "after retry " + std::to_string(i));
  }
  EXPECT_EQ(backends.process().countLines("ACCEPT live"), 8u);
  // The dead backend was tried (round-robin) and failed: the retries above were real.
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);
  EXPECT_GE(nodeField(admin, "dead", "failures_total"), 1);
  EXPECT_EQ(nodeField(admin, "live", "failures_total"), 0);
}

TEST(TcpProxy, BytesSentBeforeTheConnectRetryAreNotLost) {
  TcpBackends backends({"live:echo"});
  ASSERT_TRUE(backends.ok()) << backends.process().output();
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(tcpConfig({{"dead", refusingPort()}, {"live", backends.port("live")}})));

  // The client speaks first, at once: fiberlb may hold these bytes while its first connect
  // (possibly to "dead") fails and the retry goes to "live".
  for (int i = 0; i < 4; ++i) {
    RawConn conn;
    ASSERT_TRUE(conn.connect(lb.port("tcp"), deadlineIn(5000)));
    const std::string message = "early bytes " + std::to_string(i);
    ASSERT_TRUE(conn.sendAll(message, deadlineIn(5000)));
    conn.shutdownWrite();
    std::string received;
    ASSERT_TRUE(conn.readToEof(received, deadlineIn(5000))) << "connection " << i;
    EXPECT_EQ(received, message) << "connection " << i;
  }
}

TEST(TcpProxy, ABackendThatClosesFirstEndsTheClientConnection) {
  TcpBackends backends({"b1:bye"});
  ASSERT_TRUE(backends.ok()) << backends.process().output();
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(tcpConfig({{"b1", backends.port("b1")}})));

  RawConn conn;
  ASSERT_TRUE(conn.connect(lb.port("tcp"), deadlineIn(5000)));
  std::string received;
  ASSERT_TRUE(conn.readToEof(received, deadlineIn(5000)))
      << "no EOF after the backend closed; got '" << received << "'";
  EXPECT_EQ(received, "bye");
  EXPECT_FALSE(conn.reset());
}

TEST(TcpProxy, MetricsCountConnectionsAndBytes) {
  TcpBackends backends({"b1:hello"});
  ASSERT_TRUE(backends.ok()) << backends.process().output();
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(tcpConfig({{"b1", backends.port("b1")}})));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  constexpr int kConnections = 3;
  constexpr size_t kBytes = 10000;
  const std::string payload = patternBody(kBytes);
  size_t sent = 0;
  size_t received = 0;
  for (int i = 0; i < kConnections; ++i) {
    RawConn conn;
    ASSERT_TRUE(conn.connect(lb.port("tcp"), deadlineIn(5000)));
    ASSERT_TRUE(conn.sendAll(payload, deadlineIn(5000)));
    sent += payload.size();
    conn.shutdownWrite();
    std::string in;
    ASSERT_TRUE(conn.readToEof(in, deadlineIn(5000)));
    ASSERT_EQ(in, "b1\n" + payload);
    received += in.size();
  }
  // Counters may be added when a connection ends: wait for them to catch up.
  const bool caught_up = pollUntil(
      [&] {
        return metric(admin, "fiberlb_l4_connections_total") >= kConnections &&
               metric(admin, "fiberlb_l4_received_bytes_total") >= static_cast<double>(sent) &&
               metric(admin, "fiberlb_l4_sent_bytes_total") >= static_cast<double>(received);
      },
      deadlineIn(5000), milliseconds(50));
  EXPECT_TRUE(caught_up) << "connections " << metric(admin, "fiberlb_l4_connections_total")
                         << " (want >= " << kConnections << "), received bytes "
                         << metric(admin, "fiberlb_l4_received_bytes_total") << " (want >= " << sent
                         << "), sent bytes " << metric(admin, "fiberlb_l4_sent_bytes_total")
                         << " (want >= " << received << ")";
  // Nothing else went through this LB: the counters are exact.
  EXPECT_EQ(metric(admin, "fiberlb_l4_connections_total"), kConnections);
  EXPECT_EQ(metric(admin, "fiberlb_l4_received_bytes_total"), static_cast<double>(sent));
  EXPECT_EQ(metric(admin, "fiberlb_l4_sent_bytes_total"), static_cast<double>(received));
}

TEST(TcpProxy, ClientIdleTimeoutClosesASilentConnection) {
  TcpBackends backends({"e1:echo"});
  ASSERT_TRUE(backends.ok()) << backends.process().output();
  FiberlbProcess lb;
  FiberlbConfig config = tcpConfig({{"e1", backends.port("e1")}});
  config.loadbalancers[0].timeouts = {{"client_idle_ms", 300}};
  ASSERT_TRUE(lb.start(config));

  RawConn conn;
  ASSERT_TRUE(conn.connect(lb.port("tcp"), deadlineIn(5000)));
  ASSERT_TRUE(conn.sendAll("x", deadlineIn(5000)));
  std::string echoed;
  ASSERT_TRUE(conn.readUntil(echoed, 1, deadlineIn(5000)));
  EXPECT_EQ(echoed, "x");

  // Silence from here on: the connection ends after ~300 ms (a 50 ms sweep), not earlier.
  const auto silent_since = Clock::now();
  std::string rest;
  ASSERT_TRUE(conn.readToEof(rest, deadlineIn(3000))) << "still open after 3 s of silence";
  const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - silent_since).count();
  EXPECT_GE(waited, 250) << "closed before client_idle_ms";
  EXPECT_EQ(rest, "");
  // The backend's side is closed too.
  EXPECT_TRUE(backends.process().waitForLine("EOF e1 conn=1", deadlineIn(3000)))
      << backends.process().output();
}

TEST(TcpProxy, ActivityKeepsAConnectionPastClientIdle) {
  TcpBackends backends({"e1:echo"});
  ASSERT_TRUE(backends.ok()) << backends.process().output();
  FiberlbProcess lb;
  FiberlbConfig config = tcpConfig({{"e1", backends.port("e1")}});
  config.loadbalancers[0].timeouts = {{"client_idle_ms", 300}};
  ASSERT_TRUE(lb.start(config));

  RawConn conn;
  ASSERT_TRUE(conn.connect(lb.port("tcp"), deadlineIn(5000)));
  // A byte every 100 ms for a second: never 300 ms of silence, so the connection stays.
  const auto start = Clock::now();
  for (int i = 0; Clock::now() - start < milliseconds(1000); ++i) {
    const std::string b(1, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(conn.sendAll(b, deadlineIn(1000))) << "after " << i << " bytes";
    std::string got;
    ASSERT_TRUE(conn.readUntil(got, 1, deadlineIn(1000))) << "closed after " << i << " bytes";
    ASSERT_EQ(got, b);
    // Waiting is the point here: the gap between bytes, well below client_idle_ms.
    std::this_thread::sleep_for(milliseconds(100));
  }
}

}  // namespace
}  // namespace fiberlb::testing
