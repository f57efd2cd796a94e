// Least-connections (SPEC §4): requests go to the backend with the fewest active requests,
// exactly, even when the connections land on different worker threads.

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"
#include "tests/support/traffic.h"

namespace fiberlb::testing {
namespace {

TEST(LeastConn, BusyBackendGetsNoNewRequestWhileAnIdleOneExists) {
  // "busy" holds every request for 3 s, "idle" answers at once. Once one request is stuck on
  // busy, every following request must go to idle (round-robin would send half to busy, and
  // those would miss the 1 s read deadline below).
  TestBackend busy("busy", Behaviour{.delay = milliseconds(3000)});
  TestBackend idle("idle");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"busy", busy.port()}, {"idle", idle.port()}}, "leastconn")));

  // Ties are broken round-robin: within a few requests one lands on busy and stays there.
  std::vector<std::unique_ptr<HttpClient>> pending;
  for (int i = 0; i < 4 && busy.activeRequests() == 0; ++i) {
    pending.push_back(std::make_unique<HttpClient>());
    ASSERT_TRUE(pending.back()->connect(lb.port(), deadlineIn(5000)));
    ASSERT_TRUE(pending.back()->send(getRequest("/probe"), deadlineIn(5000)));
    pollUntil([&] { return busy.activeRequests() == 1 || idle.requestCount() > i; },
              deadlineIn(5000));
  }
  ASSERT_EQ(busy.activeRequests(), 1) << "no request ever reached the busy backend";

  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(client.send(getRequest("/lc"), deadlineIn(5000)));
    Response r =
        client.readResponse(Clock::now() + milliseconds(static_cast<int>(1000 * timeoutScale())));
    ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.error;
    ASSERT_EQ(r.header("X-Backend"), "idle") << "request " << i;
  }
  EXPECT_EQ(busy.requestCount(), 1);
  busy.stop();
}

TEST(LeastConn, PrefersTheFastBackendUnderConcurrentLoad) {
  TestBackend fast("fast");
  TestBackend slow("slow", Behaviour{.delay = milliseconds(150)});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"fast", fast.port()}, {"slow", slow.port()}}, "leastconn")));

  // 3 clients x 30 requests. Round-robin would send exactly half of them to the slow backend;
  // least-connections sends a new request there only while it has no more active requests
  // than the fast one, which the slow one's long requests rarely allow.
  constexpr int kClients = 3;
  constexpr int kPerClient = 30;
  std::vector<TrafficResult> results(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back(
        [&, i] { results[i] = sendRequests(lb.port(), kPerClient, deadlineIn(60000)); });
  }
  for (auto& t : clients)
    t.join();
  int failures = 0;
  for (const auto& r : results)
    failures += r.failures;
  ASSERT_EQ(failures, 0) << ::testing::PrintToString(results[0].errors);
  EXPECT_EQ(fast.requestCount() + slow.requestCount(), kClients * kPerClient);
  EXPECT_LT(slow.requestCount() * 3, kClients * kPerClient)
      << "fast=" << fast.requestCount() << " slow=" << slow.requestCount();
}

TEST(LeastConn, ActiveRequestsStayBalancedAcrossWorkers) {
  // Both backends hold every request until the test ends, so the number of active requests
  // per backend is observable. With exact shared counters, each new request goes to the
  // backend with fewer active requests, whichever worker accepted its connection.
  TestBackend a("a", Behaviour{.delay = milliseconds(30000)});
  TestBackend b("b", Behaviour{.delay = milliseconds(30000)});
  FiberlbConfig config = singleLb({{"a", a.port()}, {"b", b.port()}}, "leastconn");
  config.workers = 2;
  config.loadbalancers[0].timeouts["upstream_response_ms"] = 60000;
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));

  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 1; i <= 8; ++i) {
    clients.push_back(std::make_unique<HttpClient>());
    ASSERT_TRUE(clients.back()->connect(lb.port(), deadlineIn(5000)));
    ASSERT_TRUE(clients.back()->send(getRequest("/hold"), deadlineIn(5000)));
    ASSERT_TRUE(
        pollUntil([&] { return a.activeRequests() + b.activeRequests() == i; }, deadlineIn(10000)))
        << "request " << i << " did not reach a backend";
    EXPECT_LE(std::abs(a.activeRequests() - b.activeRequests()), 1)
        << "after " << i << " requests: a=" << a.activeRequests() << " b=" << b.activeRequests();
  }
  clients.clear();  // the client side goes away; fiberlb must cope
  a.stop();
  b.stop();
}

}  // namespace
}  // namespace fiberlb::testing
