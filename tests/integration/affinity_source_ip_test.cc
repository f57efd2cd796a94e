// Source-IP persistence through the real binary (SPEC §3 `session_persistence =
// "source_ip"`; §6 for TCP): each client address stays on one backend, over HTTP whatever the
// method and connection, also for keep-alive connections opened before the reload that turned
// it on, and over TCP. Clients come from different loopback source addresses; helpers in
// affinity_support.h.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/affinity_support.h"
#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/tcp_backends.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

const std::string kSourceIpPersistence = "session_persistence = \"source_ip\"\n";

TEST(Persistence, SourceIpPinsHttpClientsWhateverTheMethod) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}}, "roundrobin",
                                  kSourceIpPersistence)));
  const uint16_t port = lb.port();

  // 20 requests from 127.0.0.2: 10 on new connections, 10 on one keep-alive connection.
  std::map<std::string, int> from2;
  Conn keep(loopback(2));
  for (int i = 0; i < 10; ++i) {
    Response r = fetchFrom(loopback(2), port, getRequest("/"));
    ++from2[servedBy(r)];
    EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << describe(r);
    ++from2[servedBy(keep.exchange(port, getRequest("/"), deadlineIn(5000)))];
  }
  EXPECT_EQ(from2.size(), 1u) << ::testing::PrintToString(from2);
  EXPECT_EQ(from2.begin()->second, 20);
  EXPECT_EQ(keep.connects(), 1);

  // Each of 127.0.0.2..20 stays on one backend; together they use more than one.
  std::map<std::string, std::string> backend_of;
  std::map<std::string, int> spread;
  for (int host = 2; host <= 20; ++host) {
    std::set<std::string> seen;
    for (int i = 0; i < 3; ++i)
      seen.insert(servedBy(fetchFrom(loopback(host), port, getRequest("/"))));
    EXPECT_EQ(seen.size(), 1u) << loopback(host) << ": " << ::testing::PrintToString(seen);
    backend_of[loopback(host)] = *seen.begin();
    ++spread[*seen.begin()];
  }
  EXPECT_EQ(backend_of[loopback(2)], from2.begin()->first);
  EXPECT_GE(spread.size(), 2u) << ::testing::PrintToString(spread);
  for (const auto& [backend, n] : spread)
    EXPECT_TRUE(backend == "a" || backend == "b" || backend == "c") << backend;
}

// A reload that turns source_ip persistence on applies to keep-alive connections opened
// before it: their next requests follow their address like those of new connections.
TEST(Persistence, SourceIpAppliesToKeepAliveConnectionsOpenedBeforeTheReload) {
  TestBackend a("a"), b("b"), c("c");
  const std::vector<BackendConfig> backends{{"a", a.port()}, {"b", b.port()}, {"c", c.port()}};
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(affinityLb(backends, "roundrobin", "")));
  const uint16_t port = lb.port();
  std::vector<std::unique_ptr<Conn>> old;
  for (int host = 2; host <= 13; ++host) {
    old.push_back(std::make_unique<Conn>(loopback(host)));
    const std::string backend =
        servedBy(old.back()->exchange(port, getRequest("/"), deadlineIn(5000)));
    ASSERT_FALSE(backend.starts_with("<")) << loopback(host) << ": " << backend;
  }

  ASSERT_TRUE(lb.reload(affinityLb(backends, "roundrobin", kSourceIpPersistence)));
  // Applied once new connections from one address stop rotating.
  ASSERT_TRUE(pollUntil(
      [&] {
        std::set<std::string> seen;
        for (int i = 0; i < 6; ++i)
          seen.insert(servedBy(fetchFrom(loopback(2), port, getRequest("/"))));
        return seen.size() == 1;
      },
      deadlineIn(5000), milliseconds(20)));

  std::map<std::string, int> old_spread;
  for (int host = 2; host <= 13; ++host) {
    Conn& conn = *old[static_cast<size_t>(host - 2)];
    const std::string home = servedBy(fetchFrom(loopback(host), port, getRequest("/")));
    std::set<std::string> seen;
    for (int i = 0; i < 4; ++i)
      seen.insert(servedBy(conn.exchange(port, getRequest("/"), deadlineIn(5000))));
    EXPECT_EQ(conn.connects(), 1) << loopback(host) << ": the reload closed the connection";
    EXPECT_EQ(seen, std::set<std::string>{home})
        << loopback(host) << ": its connection from before the reload goes to "
        << ::testing::PrintToString(seen) << ", its new connections to " << home;
    ++old_spread[*seen.begin()];
  }
  EXPECT_GE(old_spread.size(), 2u) << ::testing::PrintToString(old_spread);
}

TEST(Persistence, SourceIpPinsTcpConnections) {
  TcpBackends backends({"t1:hello", "t2:hello", "t3:hello"});
  ASSERT_TRUE(backends.ok()) << backends.output();
  FiberlbConfig config = affinityLb(
      {{"t1", backends.port("t1")}, {"t2", backends.port("t2")}, {"t3", backends.port("t3")}},
      "roundrobin", kSourceIpPersistence);
  config.loadbalancers[0].name = "tcp";
  config.loadbalancers[0].protocol = "tcp";
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = lb.port("tcp");

  std::map<std::string, int> from2;
  for (int i = 0; i < 20; ++i)
    ++from2[tcpBackendFrom(loopback(2), port)];
  EXPECT_EQ(from2.size(), 1u) << ::testing::PrintToString(from2);
  EXPECT_TRUE(from2.begin()->first.starts_with("t")) << from2.begin()->first;

  std::map<std::string, int> spread;
  for (int host = 2; host <= 20; ++host) {
    std::set<std::string> seen;
    for (int i = 0; i < 3; ++i)
      seen.insert(tcpBackendFrom(loopback(host), port));
    EXPECT_EQ(seen.size(), 1u) << loopback(host) << ": " << ::testing::PrintToString(seen);
    ++spread[*seen.begin()];
  }
  EXPECT_GE(spread.size(), 2u) << ::testing::PrintToString(spread);
}

}  // namespace
}  // namespace fiberlb::testing
