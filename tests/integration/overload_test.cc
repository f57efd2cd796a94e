// Connection limits in the Envoy sense (SPEC §3 circuit_breaker.max_connections per backend,
// max_pending_requests per LB): beyond them a request goes to another backend with room, and
// when there is none the client gets a fast 503 {"error":"overloaded"} instead of waiting in
// a queue without bound.

#include <gtest/gtest.h>

#include <string>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

constexpr milliseconds kSlow{1000};
// "Fast": well before the slow backend would have answered.
constexpr int64_t kFastMs = 500;

FiberlbConfig limited(const std::vector<BackendConfig>& backends, const std::string& key,
                      double value) {
  FiberlbConfig config = singleLb(backends);
  config.loadbalancers[0].circuit_breaker = {{key, value}};
  return config;
}

// Sends a GET for `path` on `client` (connected first) without reading the answer.
void startRequest(HttpClient& client, uint16_t port, const std::string& path) {
  ASSERT_TRUE(client.connect(port, deadlineIn(5000))) << client.error();
  ASSERT_TRUE(client.send(getRequest(path), deadlineIn(5000))) << client.error();
}

// One GET on a fresh connection and how long it took.
Response timedGet(uint16_t port, const std::string& path, int64_t& elapsed_ms) {
  const auto start = Clock::now();
  Response r = fetch(port, getRequest(path), deadlineIn(10000));
  elapsed_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  return r;
}

void expectOverloaded(const Response& r, int64_t elapsed_ms) {
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("\"error\":\"overloaded\""), std::string::npos) << r.body;
  EXPECT_NE(r.header("Content-Type").value_or("").find("application/json"), std::string::npos);
  EXPECT_LT(elapsed_ms, kFastMs) << "the 503 was not fast";
}

TEST(Overload, MaxConnectionsReachedOnTheOnlyBackendGivesAFast503) {
  TestBackend slow("slow", Behaviour{.delay = kSlow});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(limited({{"slow", slow.port()}}, "max_connections", 1)));

  HttpClient first;
  ASSERT_NO_FATAL_FAILURE(startRequest(first, lb.port(), "/first"));
  ASSERT_TRUE(pollUntil([&] { return slow.activeRequests() == 1; }, deadlineIn(5000)));
  int64_t elapsed_ms = 0;
  Response second = timedGet(lb.port(), "/second", elapsed_ms);
  expectOverloaded(second, elapsed_ms);

  Response r = first.readResponse(deadlineIn(10000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "slow\n");
  EXPECT_EQ(slow.requestCount(), 1) << "the refused request reached the backend";

  // The connection is free again once the first request is done.
  slow.setBehaviour(Behaviour{});
  Response third = fetch(lb.port(), getRequest("/third"), deadlineIn(10000));
  ASSERT_TRUE(third.ok()) << third.error;
  EXPECT_EQ(third.status, 200) << third.body;
}

TEST(Overload, MaxConnectionsSpillsOverToAnotherBackend) {
  TestBackend s1("s1", Behaviour{.delay = kSlow});
  TestBackend s2("s2", Behaviour{.delay = kSlow});
  // The weights make round-robin pick s1 for the second request too: it can only reach s2
  // because s1 has no connection left.
  FiberlbProcess lb;
  ASSERT_TRUE(
      lb.start(limited({{"s1", s1.port(), 1000}, {"s2", s2.port(), 1}}, "max_connections", 1)));

  HttpClient first, second;
  ASSERT_NO_FATAL_FAILURE(startRequest(first, lb.port(), "/first"));
  ASSERT_TRUE(
      pollUntil([&] { return s1.activeRequests() + s2.activeRequests() == 1; }, deadlineIn(5000)));
  ASSERT_NO_FATAL_FAILURE(startRequest(second, lb.port(), "/second"));
  Response a = first.readResponse(deadlineIn(10000));
  Response b = second.readResponse(deadlineIn(10000));
  ASSERT_TRUE(a.ok()) << a.error;
  ASSERT_TRUE(b.ok()) << b.error;
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(b.status, 200) << b.body;
  EXPECT_NE(a.header("X-Backend"), b.header("X-Backend")) << "both went to one backend";
  EXPECT_EQ(s1.requestCount(), 1);
  EXPECT_EQ(s2.requestCount(), 1);
}

TEST(Overload, MaxPendingRequestsReachedGivesAFast503) {
  PendingConnectPort pending;
  FiberlbConfig config = limited({{"pending", pending.port()}}, "max_pending_requests", 1);
  config.loadbalancers[0].timeouts["connect_ms"] = 5000;
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));

  HttpClient first;
  ASSERT_NO_FATAL_FAILURE(startRequest(first, lb.port(), "/first"));
  ASSERT_TRUE(pollUntil([&] { return pending.connectsWaiting() >= 1; }, deadlineIn(5000)))
      << "fiberlb never started connecting";
  int64_t elapsed_ms = 0;
  Response second = timedGet(lb.port(), "/second", elapsed_ms);
  expectOverloaded(second, elapsed_ms);
  EXPECT_EQ(pending.connectsWaiting(), 1) << "the second request connected too";
}

}  // namespace
}  // namespace fiberlb::testing
