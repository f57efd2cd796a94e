// UDP load balancing through the real binary (SPEC §6, `protocol = "udp"`): datagrams relayed
// both ways, one client address sticking to one backend for udp_session_idle_sec, then
// re-balanced; a DNS-like request/response load; a backend that refuses (nothing listening)
// skipped and blamed; max_connections bounding sessions; reloads and shutdown; the
// fiberlb_udp_* counters.
//
// Backends are UDP sockets served by a thread of this process (UdpBackends below): every
// datagram is answered with "<backend name> <datagram>" to its sender, so a client knows
// which backend it reached.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/admin_json.h"
#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

// Large socket buffers for the test's own sockets (the kernel caps them at rmem_max), so that
// only fiberlb's sockets could ever overflow under load.
constexpr int kSocketBuffer = 4 << 20;

// `ip` (an IPv4 or IPv6 literal) and `port` as a socket address; returns its length.
socklen_t socketAddress(const char* ip, uint16_t port, sockaddr_storage* ss) {
  *ss = {};
  if (std::strchr(ip, ':') != nullptr) {
    auto* a = reinterpret_cast<sockaddr_in6*>(ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ::inet_pton(AF_INET6, ip, &a->sin6_addr);
    return sizeof *a;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &a->sin_addr);
  return sizeof *a;
}

// A UDP socket bound to `ip`:`port` (0 = ephemeral); -1 on failure. `*bound` gets the port.
int udpSocket(const char* ip, uint16_t port, uint16_t* bound) {
  sockaddr_storage ss;
  socklen_t len = socketAddress(ip, port, &ss);
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof kSocketBuffer);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketBuffer, sizeof kSocketBuffer);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ::close(fd);
    return -1;
  }
  len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  const uint16_t p = ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&ss)->sin_port;
  if (bound != nullptr) *bound = ntohs(p);
  return fd;
}

// A UDP port on loopback with nothing listening: datagrams to it are refused (ICMP).
uint16_t refusingUdpPort() {
  uint16_t port = 0;
  const int fd = udpSocket("127.0.0.1", 0, &port);
  ::close(fd);
  return port;
}

// Named UDP backends answered by one thread: "<name> <datagram>" back to the sender.
class UdpBackends {
 public:
  explicit UdpBackends(const std::vector<std::string>& names, const char* ip = "127.0.0.1") {
    for (const std::string& name : names) {
      auto b = std::make_unique<Backend>();
      b->name = name;
      b->fd = udpSocket(ip, 0, &b->port);
      ok_ = ok_ && b->fd >= 0;
      backends_.push_back(std::move(b));
    }
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    thread_ = std::thread([this] { run(); });
  }
  ~UdpBackends() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof one);
    thread_.join();
    for (auto& b : backends_)
      ::close(b->fd);
    ::close(stop_fd_);
  }
  UdpBackends(const UdpBackends&) = delete;
  UdpBackends& operator=(const UdpBackends&) = delete;

  bool ok() const { return ok_; }
  uint16_t port(const std::string& name) const { return find(name).port; }
  // Datagrams answered so far.
  uint64_t answered(const std::string& name) const { return find(name).answered.load(); }

 private:
  struct Backend {
    std::string name;
    int fd = -1;
    uint16_t port = 0;
    std::atomic<uint64_t> answered{0};
  };

  const Backend& find(const std::string& name) const {
    for (const auto& b : backends_)
      if (b->name == name) return *b;
    static const Backend kNone;
    return kNone;
  }

  void run() {
    std::vector<pollfd> fds;
    for (const auto& b : backends_)
      fds.push_back({b->fd, POLLIN, 0});
    fds.push_back({stop_fd_, POLLIN, 0});
    char in[65536];
    std::string out;
    while (true) {
      if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
      if (fds.back().revents != 0) return;
      for (size_t i = 0; i < backends_.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Backend& b = *backends_[i];
        while (true) {
          sockaddr_storage from{};
          socklen_t len = sizeof from;
          const ssize_t n =
              ::recvfrom(b.fd, in, sizeof in, 0, reinterpret_cast<sockaddr*>(&from), &len);
          if (n < 0) break;  // EAGAIN (or an error): back to poll
          out.assign(b.name).append(" ").append(in, static_cast<size_t>(n));
          ::sendto(b.fd, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
          b.answered.fetch_add(1);
        }
      }
    }
  }

  bool ok_ = true;
  std::vector<std::unique_ptr<Backend>> backends_;
  int stop_fd_ = -1;
  std::thread thread_;
};

// A client socket connected to the LB: it receives only what comes from the LB's address.
class UdpClient {
 public:
  explicit UdpClient(uint16_t lb_port, const char* ip = "127.0.0.1") {
    uint16_t ignored = 0;
    fd_ = udpSocket(ip, 0, &ignored);
    sockaddr_storage ss;
    const socklen_t len = socketAddress(ip, lb_port, &ss);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~UdpClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool send(std::string_view payload) {
    return ::send(fd_, payload.data(), payload.size(), 0) == static_cast<ssize_t>(payload.size());
  }

  // The next datagram, or nullopt at the deadline.
  std::optional<std::string> receive(Deadline deadline) {
    char buf[65536];
    while (true) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n >= 0) return std::string(buf, static_cast<size_t>(n));
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNREFUSED)
        return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, remainingMs(deadline)) == 0) return std::nullopt;
    }
  }

  // Sends `payload` and waits up to `per_try_ms` for its answer (a reply ending in it), up to
  // `tries` times. Returns the name of the backend that answered; `*used` = sends made.
  std::optional<std::string> ask(const std::string& payload, int per_try_ms = 2000, int tries = 1,
                                 int* used = nullptr) {
    for (int i = 1; i <= tries; ++i) {
      if (used != nullptr) *used = i;
      if (!send(payload)) return std::nullopt;
      const Deadline deadline = deadlineIn(per_try_ms);
      while (std::optional<std::string> reply = receive(deadline)) {
        const size_t space = reply->find(' ');
        if (space != std::string::npos && reply->substr(space + 1) == payload)
          return reply->substr(0, space);
      }
    }
    return std::nullopt;
  }

 private:
  int fd_ = -1;
};

// One udp LB "udp" over `backends`.
FiberlbConfig udpConfig(const std::vector<BackendConfig>& backends, int workers = 1,
                        const std::string& extra = "") {
  FiberlbConfig config = singleLb(backends);
  config.workers = workers;
  LbConfig& lb = config.loadbalancers[0];
  lb.name = "udp";
  lb.protocol = "udp";
  lb.extra = extra;
  return config;
}

// The value of the sample `name{labels}` in /metrics; -1 when absent.
double metric(uint16_t admin, const std::string& name, const std::string& labels = "lb=\"udp\"") {
  Response r = fetch(admin, getRequest("/metrics"), deadlineIn(5000));
  const std::string sample = "\n" + name + "{" + labels + "} ";
  const size_t at = r.body.find(sample);
  return at == std::string::npos ? -1 : std::stod(r.body.substr(at + sample.size()));
}

double dropped(uint16_t admin, const std::string& reason) {
  return metric(admin, "fiberlb_udp_dropped_datagrams_total",
                "lb=\"udp\",reason=\"" + reason + "\"");
}

// Backend `name` of LB "udp" in /api/loadbalancers; null when absent.
nlohmann::json backendJson(uint16_t admin, const std::string& name) {
  const nlohmann::json lbs = adminJson(admin, "/api/loadbalancers");
  if (!lbs.is_array()) return nullptr;
  for (const auto& lb : lbs) {
    if (lb.value("name", "") != "udp") continue;
    for (const auto& b : lb["backends"])
      if (b.value("name", "") == name) return b;
  }
  return nullptr;
}

int64_t backendField(uint16_t admin, const std::string& name, const std::string& field) {
  const nlohmann::json b = backendJson(admin, name);
  return b.is_object() ? b.value(field, int64_t{-1}) : -1;
}

TEST(UdpProxy, RelaysDatagramsBothWays) {
  UdpBackends backends({"b1"});
  ASSERT_TRUE(backends.ok());
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(udpConfig({{"b1", backends.port("b1")}})));

  UdpClient client(lb.port("udp"));
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client.ask("hello"), "b1");
  // Sizes up to the largest reply an IPv4 datagram can carry (65,507 bytes with "b1 ").
  for (size_t size : {size_t{1}, size_t{1400}, size_t{9000}, size_t{65504}}) {
    const std::string payload = patternBody(size);
    ASSERT_TRUE(client.send(payload));
    const std::optional<std::string> reply = client.receive(deadlineIn(5000));
    ASSERT_TRUE(reply.has_value()) << "no reply to " << size << " bytes";
    EXPECT_EQ(*reply, "b1 " + payload) << size << " bytes";
  }
  // An empty datagram is a datagram too.
  ASSERT_TRUE(client.send(""));
  EXPECT_EQ(client.receive(deadlineIn(5000)), "b1 ");
}

TEST(UdpProxy, RelaysOverIpv6) {
  UdpBackends backends({"b1"}, "::1");
  ASSERT_TRUE(backends.ok());
  FiberlbProcess lb;
  FiberlbConfig config = udpConfig({{"b1", backends.port("b1"), 100, "::1"}});
  config.loadbalancers[0].vip = "::1";
  ASSERT_TRUE(lb.start(config));

  UdpClient a(lb.port("udp"), "::1");
  UdpClient b(lb.port("udp"), "::1");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a.ask("from a"), "b1");
  EXPECT_EQ(b.ask("from b"), "b1");
  EXPECT_EQ(a.ask("again from a"), "b1");
}

TEST(UdpProxy, EachClientSticksToOneBackend) {
  UdpBackends backends({"b1", "b2", "b3"});
  ASSERT_TRUE(backends.ok());
  FiberlbProcess lb;
  // Two workers: the kernel spreads clients over both sockets, each worker keeps its own
  // sessions; a client must stick all the same.
  ASSERT_TRUE(lb.start(udpConfig(
      {{"b1", backends.port("b1")}, {"b2", backends.port("b2")}, {"b3", backends.port("b3")}}, 2)));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  constexpr int kClients = 9;
  constexpr int kRounds = 6;
  std::vector<std::unique_ptr<UdpClient>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::make_unique<UdpClient>(lb.port("udp")));
    ASSERT_TRUE(clients.back()->ok());
  }
  // Rounds across all clients, so that round-robin moves on between two datagrams of one
  // client: only the session keeps it where it was.
  std::vector<std::set<std::string>> reached(kClients);
  std::map<std::string, int> clients_per_backend;
  for (int round = 0; round < kRounds; ++round) {
    for (int c = 0; c < kClients; ++c) {
      const std::string payload = "client " + std::to_string(c) + " round " + std::to_string(round);
      const std::optional<std::string> name = clients[c]->ask(payload);
      ASSERT_TRUE(name.has_value()) << payload;
      if (round == 0) ++clients_per_backend[*name];
      reached[c].insert(*name);
    }
  }
  for (int c = 0; c < kClients; ++c)
    EXPECT_EQ(reached[c].size(), 1u)
        << "client " << c << " reached " << ::testing::PrintToString(reached[c]);
  // Nine clients over three backends, round-robin in each worker: every backend has some.
  EXPECT_EQ(clients_per_backend.size(), 3u) << ::testing::PrintToString(clients_per_backend);

  EXPECT_EQ(metric(admin, "fiberlb_udp_sessions_total"), kClients);
  EXPECT_EQ(metric(admin, "fiberlb_udp_sessions"), kClients);
  // Sessions hold active_requests on their backend while they live.
  int64_t active = 0;
  for (const char* name : {"b1", "b2", "b3"}) {
    EXPECT_EQ(backendField(admin, name, "active_requests"), clients_per_backend[name]) << name;
    // Each session's socket connected to the backend counts as an upstream connection.
    EXPECT_EQ(backendField(admin, name, "connections"), clients_per_backend[name]) << name;
    active += backendField(admin, name, "active_requests");
  }
  EXPECT_EQ(active, kClients);
}

// Two backends, one worker (so that round-robin is exact), udp_session_idle_sec = 0.3 (the
// key takes fractions of a second).
class UdpProxyIdle : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backends_.ok());
    ASSERT_TRUE(lb_.start(udpConfig({{"b1", backends_.port("b1")}, {"b2", backends_.port("b2")}}, 1,
                                    "udp_session_idle_sec = 0.3\n")));
    admin_ = adminPort(lb_);
    ASSERT_NE(admin_, 0);
  }

  UdpBackends backends_{{"b1", "b2"}};
  FiberlbProcess lb_;
  uint16_t admin_ = 0;
};

// method = "hash": L4 hashes the client's IP (whatever hash_key says), so every socket of one
// host reaches the same backend, in a new session as in the first.
TEST(UdpProxy, HashSendsEveryPortOfOneHostToOneBackend) {
  UdpBackends backends({"b1", "b2", "b3"});
  ASSERT_TRUE(backends.ok());
  FiberlbProcess lb;
  FiberlbConfig config = udpConfig(
      {{"b1", backends.port("b1")}, {"b2", backends.port("b2")}, {"b3", backends.port("b3")}}, 2,
      "udp_session_idle_sec = 0.3\n");
  config.loadbalancers[0].method = "hash";
  ASSERT_TRUE(lb.start(config));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  std::set<std::string> reached;
  for (int round = 0; round < 2; ++round) {
    for (int c = 0; c < 6; ++c) {
      UdpClient client(lb.port("udp"));
      const std::optional<std::string> name = client.ask("client " + std::to_string(c));
      ASSERT_TRUE(name.has_value());
      reached.insert(*name);
    }
    // The second round starts with fresh sessions.
    ASSERT_TRUE(
        pollUntil([&] { return metric(admin, "fiberlb_udp_sessions") == 0; }, deadlineIn(3000)));
  }
  EXPECT_EQ(reached.size(), 1u) << ::testing::PrintToString(reached);
}

TEST_F(UdpProxyIdle, AnIdleSessionExpiresAndTheClientIsRebalanced) {
  const uint16_t admin = admin_;
  UdpClient client(lb_.port("udp"));
  ASSERT_TRUE(client.ok());
  const std::optional<std::string> first = client.ask("one");
  ASSERT_TRUE(first.has_value());
  const std::string other = *first == "b1" ? "b2" : "b1";
  EXPECT_EQ(client.ask("two"), *first);

  // Silence: the session ends udp_session_idle_sec after the last datagram (the answer to
  // "two"), give or take the 50 ms sweep — not before.
  const auto silent_since = Clock::now();
  ASSERT_TRUE(pollUntil([&] { return metric(admin, "fiberlb_udp_sessions") == 0; },
                        deadlineIn(3000), milliseconds(20)))
      << "the session did not expire";
  const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - silent_since).count();
  EXPECT_GE(waited, 250) << "expired before udp_session_idle_sec";
  EXPECT_EQ(backendField(admin, *first, "active_requests"), 0);

  // A new session for the same address: round-robin's next backend.
  EXPECT_EQ(client.ask("three"), other);
  EXPECT_EQ(metric(admin, "fiberlb_udp_sessions_total"), 2);
}

TEST_F(UdpProxyIdle, TrafficKeepsASessionPastTheIdleTime) {
  UdpClient client(lb_.port("udp"));
  const std::optional<std::string> first = client.ask("start");
  ASSERT_TRUE(first.has_value());
  // A datagram every 100 ms for a second: never 300 ms of silence, so one session throughout.
  const auto start = Clock::now();
  for (int i = 0; Clock::now() - start < milliseconds(1000); ++i) {
    EXPECT_EQ(client.ask("ping " + std::to_string(i)), *first);
    // Waiting is the point here: the gap between datagrams, well below the idle time.
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(metric(admin_, "fiberlb_udp_sessions_total"), 1);
}

// A DNS-like load: 5,000 queries from 20 client sockets, a few in flight per socket, each
// answer matched to its query by id. Loopback loses a datagram only when a receive buffer
// overflows; with at most 20 x 4 queries in flight (~80 KB of small datagrams even if all
// sat in one socket, against 208 KB default buffers) none should, so the tolerance is 0.1%
// (5 datagrams) — room for a scheduler hiccup, not for a real loss bug. It prints the rate;
// $FIBERLB_UDP_LOAD_QUERIES makes the load longer for a steadier measurement.
TEST(UdpProxy, DnsLikeLoadIsAnsweredQueryByQuery) {
  UdpBackends backends({"b1", "b2"});
  ASSERT_TRUE(backends.ok());
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(udpConfig({{"b1", backends.port("b1")}, {"b2", backends.port("b2")}}, 2)));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  constexpr int kSockets = 20;
  const char* scale = std::getenv("FIBERLB_UDP_LOAD_QUERIES");
  const int queries =
      scale != nullptr ? std::max(kSockets, std::atoi(scale)) / kSockets * kSockets : 5000;
  const int per_socket = queries / kSockets;
  constexpr int kWindow = 4;
  constexpr int kLostAfterMs = 1000;
  struct Flight {
    std::unique_ptr<UdpClient> client;
    int next = 0;                            // next query id to send
    std::map<int, Clock::time_point> asked;  // in flight
    std::set<std::string> backends;          // who answered this socket
  };
  std::vector<Flight> flights(kSockets);
  std::vector<pollfd> fds;
  for (Flight& f : flights) {
    f.client = std::make_unique<UdpClient>(lb.port("udp"));
    ASSERT_TRUE(f.client->ok());
    fds.push_back({f.client->fd(), POLLIN, 0});
  }
  int answered = 0;
  int lost = 0;
  int mismatched = 0;
  const auto start = Clock::now();
  const Deadline deadline = deadlineIn(30000 + queries / 10);
  while (answered + lost < queries && Clock::now() < deadline) {
    for (int s = 0; s < kSockets; ++s) {
      Flight& f = flights[s];
      const auto now = Clock::now();
      for (auto it = f.asked.begin(); it != f.asked.end();) {
        if (now - it->second > milliseconds(kLostAfterMs)) {
          ++lost;
          it = f.asked.erase(it);
        } else {
          ++it;
        }
      }
      while (static_cast<int>(f.asked.size()) < kWindow && f.next < per_socket) {
        const int id = f.next++;
        char query[64];
        std::snprintf(query, sizeof query, "q s=%d id=%d", s, id);
        ASSERT_TRUE(f.client->send(query));
        f.asked.emplace(id, Clock::now());
      }
    }
    if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
    for (int s = 0; s < kSockets; ++s) {
      if (fds[s].revents == 0) continue;
      Flight& f = flights[s];
      while (std::optional<std::string> reply = f.client->receive(Clock::now())) {
        // "<backend> q s=<s> id=<id>"
        const size_t space = reply->find(' ');
        int rs = -1;
        int id = -1;
        if (space == std::string::npos ||
            std::sscanf(reply->c_str() + space + 1, "q s=%d id=%d", &rs, &id) != 2 || rs != s ||
            f.asked.erase(id) != 1) {
          ++mismatched;
          continue;
        }
        f.backends.insert(reply->substr(0, space));
        ++answered;
      }
    }
  }
  const double seconds =
      std::chrono::duration_cast<std::chrono::duration<double>>(Clock::now() - start).count();
  std::printf(
      "[ UDP load ] %d queries from %d sockets: %d answered, %d lost in %.3f s: "
      "%.0f queries/s, %.0f datagrams/s through fiberlb (both ways)\n",
      queries, kSockets, answered, lost, seconds, answered / seconds, 2 * answered / seconds);
  EXPECT_EQ(mismatched, 0) << "answers that matched no query in flight on their socket";
  EXPECT_EQ(answered + lost, queries) << "the load did not finish in time";
  EXPECT_LE(lost, queries / 1000);
  for (int s = 0; s < kSockets; ++s)
    EXPECT_EQ(flights[s].backends.size(), 1u)
        << "socket " << s << " was answered by " << ::testing::PrintToString(flights[s].backends);
  EXPECT_EQ(metric(admin, "fiberlb_udp_sessions_total"), kSockets);
  EXPECT_EQ(metric(admin, "fiberlb_udp_received_datagrams_total"), queries);
  EXPECT_TRUE(
      pollUntil([&] { return metric(admin, "fiberlb_udp_sent_datagrams_total") >= answered; },
                deadlineIn(3000)));
  EXPECT_GE(backends.answered("b1") + backends.answered("b2"), static_cast<uint64_t>(answered));
}

TEST(UdpProxy, ARefusingBackendIsSkippedAndBlamed) {
  UdpBackends backends({"l1", "l2"});
  ASSERT_TRUE(backends.ok());
  FiberlbProcess lb;
  FiberlbConfig config = udpConfig(
      {{"dead", refusingUdpPort()}, {"l1", backends.port("l1")}, {"l2", backends.port("l2")}});
  // No health check: only the refusals tell fiberlb that "dead" is dead.
  config.loadbalancers[0].circuit_breaker = {{"failure_threshold", 3},
                                             {"recovery_timeout_sec", 60}};
  ASSERT_TRUE(lb.start(config));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  // Round-robin sends every third new client to "dead" until its circuit opens. A refused
  // datagram is replayed on another backend, so a retry by the client is rarely needed;
  // UDP allows one (a first datagram may be lost).
  constexpr int kClients = 12;
  int retried = 0;
  std::vector<std::unique_ptr<UdpClient>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::make_unique<UdpClient>(lb.port("udp")));
    int sends = 0;
    const std::optional<std::string> name =
        clients.back()->ask("query " + std::to_string(c), 500, 2, &sends);
    ASSERT_TRUE(name.has_value()) << "client " << c << " got no answer in 2 tries";
    EXPECT_TRUE(*name == "l1" || *name == "l2") << *name;
    retried += sends - 1;
  }
  EXPECT_LE(retried, 1) << "answers needed client retries";
  // The clients stay where they were moved: a second query goes to the same live backend.
  for (int c = 0; c < kClients; ++c) {
    const std::optional<std::string> name = clients[c]->ask("again " + std::to_string(c));
    EXPECT_TRUE(name == "l1" || name == "l2") << name.value_or("<none>");
  }

  EXPECT_TRUE(pollUntil(
      [&] {
        const nlohmann::json dead = backendJson(admin, "dead");
        return dead.is_object() && dead.value("circuit", "") == "open";
      },
      deadlineIn(3000)))
      << backendJson(admin, "dead").dump();
  EXPECT_GE(backendField(admin, "dead", "failures_total"), 3);
  EXPECT_EQ(backendField(admin, "l1", "failures_total"), 0);
  EXPECT_EQ(backendField(admin, "l2", "failures_total"), 0);
  EXPECT_EQ(backendField(admin, "dead", "active_requests"), 0);
  EXPECT_GE(metric(admin, "fiberlb_backend_failures_total", "lb=\"udp\",backend=\"dead\""), 3);
  EXPECT_GE(metric(admin, "fiberlb_retries_total"), 1) << "refused datagrams were not replayed";
}

TEST(UdpProxy, MaxConnectionsBoundsSessionsPerBackend) {
  UdpBackends backends({"b1"});
  ASSERT_TRUE(backends.ok());
  FiberlbProcess lb;
  FiberlbConfig config =
      udpConfig({{"b1", backends.port("b1")}}, 1, "udp_session_idle_sec = 0.3\n");
  config.loadbalancers[0].circuit_breaker = {{"max_connections", 2}};
  ASSERT_TRUE(lb.start(config));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  UdpClient a(lb.port("udp"));
  UdpClient b(lb.port("udp"));
  UdpClient c(lb.port("udp"));
  EXPECT_EQ(a.ask("a"), "b1");
  EXPECT_EQ(b.ask("b"), "b1");
  // A third session would exceed max_connections: its datagram is dropped and counted.
  ASSERT_TRUE(c.send("c"));
  ASSERT_TRUE(pollUntil([&] { return dropped(admin, "overloaded") == 1; }, deadlineIn(3000)));
  EXPECT_EQ(c.receive(Clock::now()), std::nullopt);
  EXPECT_EQ(metric(admin, "fiberlb_udp_sessions"), 2);

  // Once the two sessions have expired there is room again.
  ASSERT_TRUE(
      pollUntil([&] { return metric(admin, "fiberlb_udp_sessions") == 0; }, deadlineIn(3000)));
  EXPECT_EQ(c.ask("c again"), "b1");
  EXPECT_EQ(dropped(admin, "session_limit"), 0);
  EXPECT_EQ(dropped(admin, "no_backend"), 0);
  EXPECT_EQ(dropped(admin, "error"), 0);
}

TEST(UdpProxy, MetricsCountDatagramsBytesAndSessions) {
  UdpBackends backends({"b1"});
  ASSERT_TRUE(backends.ok());
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(udpConfig({{"b1", backends.port("b1")}})));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  constexpr int kClients = 3;
  constexpr int kEach = 4;
  size_t bytes_in = 0;
  size_t bytes_out = 0;
  for (int c = 0; c < kClients; ++c) {
    UdpClient client(lb.port("udp"));
    for (int i = 0; i < kEach; ++i) {
      const std::string payload = patternBody(100 * (i + 1));
      ASSERT_EQ(client.ask(payload), "b1");
      bytes_in += payload.size();
      bytes_out += payload.size() + 3;  // "b1 "
    }
  }
  // A reply is counted once the kernel took it: the client may have read it a moment before.
  EXPECT_TRUE(pollUntil(
      [&] { return metric(admin, "fiberlb_udp_sent_datagrams_total") == kClients * kEach; },
      deadlineIn(3000)));
  EXPECT_EQ(metric(admin, "fiberlb_udp_received_datagrams_total"), kClients * kEach);
  EXPECT_EQ(metric(admin, "fiberlb_udp_sent_datagrams_total"), kClients * kEach);
  EXPECT_EQ(metric(admin, "fiberlb_udp_received_bytes_total"), static_cast<double>(bytes_in));
  EXPECT_EQ(metric(admin, "fiberlb_udp_sent_bytes_total"), static_cast<double>(bytes_out));
  EXPECT_EQ(metric(admin, "fiberlb_udp_sessions_total"), kClients);
  EXPECT_EQ(metric(admin, "fiberlb_udp_sessions"), kClients);
  for (const char* reason : {"session_limit", "no_backend", "overloaded", "error"})
    EXPECT_EQ(dropped(admin, reason), 0) << reason;
  EXPECT_EQ(backendField(admin, "b1", "requests_total"), kClients);
  // Only udp LBs have fiberlb_udp_* samples (and no fiberlb_l4_* ones).
  EXPECT_EQ(metric(admin, "fiberlb_l4_connections_total"), -1);
}

TEST(UdpProxy, ABackendRemovedByAReloadLosesItsSessions) {
  UdpBackends backends({"b1", "b2"});
  ASSERT_TRUE(backends.ok());
  FiberlbProcess lb;
  FiberlbConfig config = udpConfig({{"b1", backends.port("b1")}, {"b2", backends.port("b2")}}, 1);
  ASSERT_TRUE(lb.start(config));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  UdpClient client(lb.port("udp"));
  const std::optional<std::string> first = client.ask("before");
  ASSERT_TRUE(first.has_value());
  const std::string other = *first == "b1" ? "b2" : "b1";

  FiberlbConfig without = config;
  std::erase_if(without.loadbalancers[0].backends,
                [&](const BackendConfig& b) { return b.name == *first; });
  ASSERT_TRUE(lb.reload(without));
  // The very next datagram of the session goes to the backend that is left.
  EXPECT_EQ(client.ask("after"), other);
  EXPECT_EQ(client.ask("after again"), other);
  EXPECT_EQ(metric(admin, "fiberlb_udp_sessions"), 1);
  EXPECT_EQ(backendField(admin, other, "active_requests"), 1);
}

TEST(UdpProxy, RemovingTheLbClosesItsSocket) {
  UdpBackends backends({"b1"});
  ASSERT_TRUE(backends.ok());
  FiberlbProcess lb;
  // One worker: its answer proves it adopted the socket. (With more, a worker that has not
  // yet applied the first update when the reload arrives skips it — the mailbox keeps only
  // the newest — and never adopts, nor closes, its socket of the removed LB.)
  FiberlbConfig config = udpConfig({{"b1", backends.port("b1")}}, 1);
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = lb.port("udp");
  UdpClient client(port);
  ASSERT_EQ(client.ask("hello"), "b1");

  // Another LB takes its place (a config needs one): the old port is no longer bound by any
  // worker, so a plain bind (no SO_REUSEPORT) succeeds.
  FiberlbConfig replaced = config;
  replaced.loadbalancers[0].name = "udp2";
  ASSERT_TRUE(lb.reload(replaced));
  EXPECT_TRUE(pollUntil(
      [&] {
        const int fd = udpSocket("127.0.0.1", port, nullptr);
        if (fd < 0) return false;
        ::close(fd);
        return true;
      },
      deadlineIn(3000)))
      << "port " << port << " is still bound after the LB was removed";
}

TEST(UdpProxy, ShutdownDoesNotWaitForSessions) {
  UdpBackends backends({"b1"});
  ASSERT_TRUE(backends.ok());
  FiberlbProcess lb;
  FiberlbConfig config = udpConfig({{"b1", backends.port("b1")}}, 2);
  config.shutdown_grace_sec = 10;
  ASSERT_TRUE(lb.start(config));
  UdpClient a(lb.port("udp"));
  UdpClient b(lb.port("udp"));
  ASSERT_EQ(a.ask("a"), "b1");
  ASSERT_EQ(b.ask("b"), "b1");
  // Two open sessions (30 s idle time) and nothing in flight: exit at once, not after the
  // grace period.
  const auto start = Clock::now();
  EXPECT_EQ(lb.stop(SIGTERM, deadlineIn(5000)), 0);
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
}

}  // namespace
}  // namespace fiberlb::testing
