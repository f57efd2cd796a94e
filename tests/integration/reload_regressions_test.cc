// Regression tests for the reload defects of the review (commit "Fix review findings"):
// a backend removed while its request is in flight (its pooled connection, its reset), and
// an LB renamed on the same vip:port, which used to stop listening.

#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <vector>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"
#include "tests/support/traffic.h"

namespace fiberlb::testing {
namespace {

// A second loopback address, so that the "side" LB gets its own listener key.
constexpr const char* kSideVip = "127.0.0.2";

// LB "web" on 127.0.0.1 and LB "side" on kSideVip, both on an ephemeral port.
FiberlbConfig twoLbs(const std::vector<BackendConfig>& web,
                     const std::vector<BackendConfig>& side) {
  FiberlbConfig config = singleLb(web);
  LbConfig s;
  s.name = "side";
  s.vip = kSideVip;
  s.backends = side;
  config.loadbalancers.push_back(s);
  return config;
}

// Polls LB "side" until `backend` answers: the worker then runs the reloaded config (one
// update carries every LB). Probing "side" never touches web's slow or hanging backends.
bool waitApplied(const FiberlbProcess& lb, const std::string& backend) {
  return pollUntil(
      [&] {
        HttpClient c;
        if (!c.connect(lb.port("side"), deadlineIn(2000), kSideVip) ||
            !c.send(getRequest("/probe"), deadlineIn(2000)))
          return false;
        return c.readResponse(deadlineIn(2000)).header("X-Backend") == backend;
      },
      deadlineIn(10000));
}

// Starts fiberlb without `a`, then adds it by a reload: the startup configuration stays
// referenced for the whole run, so only a backend that arrived by a reload is freed once
// the last exchange routed with it ends.
::testing::AssertionResult startThenAdd(FiberlbProcess& lb, const TestBackend& a,
                                        const TestBackend& b, const TestBackend& c) {
  if (auto started = lb.start(twoLbs({{"b", b.port()}}, {{"b", b.port()}})); !started)
    return started;
  if (auto reloaded = lb.reload(twoLbs({{"a", a.port()}}, {{"c", c.port()}})); !reloaded)
    return reloaded;
  if (!waitApplied(lb, "c")) return ::testing::AssertionFailure() << "first reload not applied";
  return ::testing::AssertionSuccess();
}

TEST(ReviewReload, BackendRemovedDuringItsRequestThenClosingItsConnectionIsSafe) {
  TestBackend a("a", Behaviour{.delay = milliseconds(1000)});
  TestBackend b("b"), c("c");
  FiberlbProcess lb;
  ASSERT_TRUE(startThenAdd(lb, a, b, c));

  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port("web"), deadlineIn(5000)));
  ASSERT_TRUE(client.send(getRequest("/slow"), deadlineIn(5000)));
  ASSERT_TRUE(pollUntil([&] { return a.activeRequests() == 1; }, deadlineIn(5000)));
  ASSERT_TRUE(lb.reload(twoLbs({{"b", b.port()}}, {{"b", b.port()}})));  // a is gone
  ASSERT_TRUE(waitApplied(lb, "b"));
  EXPECT_EQ(a.activeRequests(), 1) << "the reload came after the response: scenario missed";

  Response r = client.readResponse(deadlineIn(5000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Backend"), "a");
  // a closes whatever keep-alive connection fiberlb kept to it (its BackendState is gone).
  a.stop();
  TrafficResult after = sendRequests(lb.port("web"), 5, deadlineIn(5000));
  EXPECT_EQ(after.by_backend["b"], 5) << ::testing::PrintToString(after.errors);
  EXPECT_TRUE(lb.process().running());
  // The harness fails the test if fiberlb printed a sanitizer report.
  EXPECT_EQ(lb.stop(SIGTERM, deadlineIn(10000)), 0);
}

TEST(ReviewReload, RemovedBackendResettingItsPendingRequestIsHandled) {
  TestBackend a("a", Behaviour{.mode = BackendMode::Hang});
  TestBackend b("b"), c("c");
  FiberlbProcess lb;
  ASSERT_TRUE(startThenAdd(lb, a, b, c));

  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port("web"), deadlineIn(5000)));
  ASSERT_TRUE(client.send(getRequest("/pending"), deadlineIn(5000)));
  ASSERT_TRUE(pollUntil([&] { return a.connectionCount() == 1; }, deadlineIn(5000)));
  ASSERT_TRUE(lb.reload(twoLbs({{"b", b.port()}}, {{"b", b.port()}})));  // a is gone
  ASSERT_TRUE(waitApplied(lb, "b"));
  // a closes the connection with the request unread in its socket: FIN, then RST.
  a.stop();

  Response r = client.readResponse(deadlineIn(5000));
  if (r.ok()) {
    const bool retried_on_b = r.status == 200 && r.header("X-Backend") == "b";
    EXPECT_TRUE(retried_on_b || r.status >= 500) << r.status << " " << r.body;
  } else {
    EXPECT_TRUE(client.peerClosed()) << "neither an answer nor a close: " << r.error;
  }
  EXPECT_TRUE(lb.process().running()) << "fiberlb died";
  TrafficResult after = sendRequests(lb.port("web"), 5, deadlineIn(5000));
  EXPECT_EQ(after.by_backend["b"], 5) << ::testing::PrintToString(after.errors);
  EXPECT_EQ(lb.stop(SIGTERM, deadlineIn(10000)), 0);
}

TEST(ReviewReload, RenamedLbKeepsListeningOnItsPort) {
  TestBackend a("a"), b("b");
  FiberlbConfig config = singleLb({{"a", a.port()}});
  config.loadbalancers[0].port = refusingPort();  // a fixed port, as a real config has
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = lb.port("web");
  ASSERT_EQ(port, config.loadbalancers[0].port);
  EXPECT_EQ(fetch(port, getRequest("/"), deadlineIn(5000)).header("X-Backend"), "a");

  // Same vip and port, new name; the backend changes too, to tell when the worker runs it.
  FiberlbConfig renamed = config;
  renamed.loadbalancers[0].name = "renamed";
  renamed.loadbalancers[0].backends = {{"b", b.port()}};
  ASSERT_TRUE(lb.reload(renamed));
  ASSERT_TRUE(pollUntil(
      [&] { return fetch(port, getRequest("/"), deadlineIn(2000)).header("X-Backend") == "b"; },
      deadlineIn(5000)))
      << "the renamed LB does not answer on port " << port;
  // Fresh connections keep being accepted (the old LB's retirement must not close them).
  TrafficResult r = sendRequests(port, 10, deadlineIn(5000), /*keep_alive=*/false);
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(r.by_backend["b"], 10);
}

}  // namespace
}  // namespace fiberlb::testing
