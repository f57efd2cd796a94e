// UDP load balancing through the real binary (SPEC §6, `protocol = "udp"`) across a reload
// and at shutdown: a backend removed by a reload loses its sessions to the one left, a
// removed LB closes its socket, and shutdown does not wait for idle sessions. Helpers in
// udp_support.h.

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/udp_support.h"
#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/fiberlb_process.h"

namespace fiberlb::testing {
namespace {

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
