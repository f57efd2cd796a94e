// UDP sessions through the real binary (SPEC §6, `protocol = "udp"`) at their limits: an
// idle session expires after udp_session_idle_sec and its client is re-balanced, traffic
// keeps it alive; max_connections bounds the sessions per backend; a backend that refuses
// (nothing listening) is skipped and blamed; the fiberlb_udp_* counters. Helpers in
// udp_support.h.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/udp_support.h"
#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

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

}  // namespace
}  // namespace fiberlb::testing
