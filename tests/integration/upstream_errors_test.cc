// Backend failures as the client sees them (SPEC §4, §5): connect failures and resets before
// any response byte are retried on another backend, so clients see no error while one
// backend is up; otherwise fiberlb answers 502/503/504 with a short JSON body.

#include <gtest/gtest.h>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"
#include "tests/support/traffic.h"

namespace fiberlb::testing {
namespace {

void expectJsonError(const Response& r, int status, const std::string& code) {
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_NE(r.body.find("\"error\":\"" + code + "\""), std::string::npos) << r.body;
  EXPECT_NE(r.header("Content-Type").value_or("").find("application/json"), std::string::npos);
}

TEST(Retries, RefusingBackendNeverProducesAClientError) {
  TestBackend good("good");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"dead", refusingPort()}, {"good", good.port()}})));

  // Fresh connections and a keep-alive connection, so both paths are covered.
  TrafficResult fresh = sendRequests(lb.port(), 60, deadlineIn(30000), /*keep_alive=*/false);
  TrafficResult reused = sendRequests(lb.port(), 60, deadlineIn(30000));
  EXPECT_EQ(fresh.failures, 0) << ::testing::PrintToString(fresh.errors);
  EXPECT_EQ(reused.failures, 0) << ::testing::PrintToString(reused.errors);
  EXPECT_EQ(fresh.by_backend["good"], 60);
  EXPECT_EQ(reused.by_backend["good"], 60);
  EXPECT_EQ(good.requestCount(), 120);
}

TEST(Retries, BackendResettingOnAcceptIsRetriedElsewhere) {
  TestBackend good("good");
  TestBackend reset("reset", Behaviour{.mode = BackendMode::ResetOnAccept});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"reset", reset.port()}, {"good", good.port()}})));

  TrafficResult r = sendRequests(lb.port(), 60, deadlineIn(30000), /*keep_alive=*/false);
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(r.by_backend["good"], 60);
  EXPECT_GT(reset.connectionCount(), 0) << "the resetting backend was never tried";
}

TEST(Retries, StalePooledUpstreamConnectionsAreNotClientErrors) {
  // Both backends close every connection right after answering, without saying so: each
  // pooled connection is dead by the time it would be reused.
  TestBackend a("a", Behaviour{.silent_close = true});
  TestBackend b("b", Behaviour{.silent_close = true});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"a", a.port()}, {"b", b.port()}})));

  TrafficResult r = sendRequests(lb.port(), 100, deadlineIn(30000));
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(r.by_backend["a"] + r.by_backend["b"], 100);
}

TEST(Retries, OnlyBackendRefusingGives503WithJson) {
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"dead", refusingPort()}})));
  for (int i = 0; i < 3; ++i) {
    Response r = fetch(lb.port(), getRequest("/"), deadlineIn(10000));
    expectJsonError(r, 503, "no_healthy_backend");
  }
}

TEST(UpstreamErrors, HangingBackendGives504AfterUpstreamResponseTimeout) {
  TestBackend hang("hang", Behaviour{.mode = BackendMode::Hang});
  FiberlbConfig config = singleLb({{"hang", hang.port()}});
  config.loadbalancers[0].timeouts["upstream_response_ms"] = 300;
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));

  const auto start = Clock::now();
  Response r = fetch(lb.port(), getRequest("/"), deadlineIn(10000));
  expectJsonError(r, 504, "gateway_timeout");
  EXPECT_GE(Clock::now() - start, milliseconds(250));
  hang.stop();
}

TEST(UpstreamErrors, SlowBackendGives504AndTheBackendIsUsableOnceItIsFastAgain) {
  TestBackend slow("slow", Behaviour{.delay = milliseconds(5000)});
  FiberlbConfig config = singleLb({{"slow", slow.port()}});
  config.loadbalancers[0].timeouts["upstream_response_ms"] = 300;
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));

  expectJsonError(fetch(lb.port(), getRequest("/"), deadlineIn(10000)), 504, "gateway_timeout");
  slow.setBehaviour(Behaviour{});
  Response ok = fetch(lb.port(), getRequest("/"), deadlineIn(10000));
  ASSERT_TRUE(ok.ok()) << ok.error;
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "slow\n");
  slow.stop();
}

TEST(UpstreamErrors, GarbageFromBackendGives502) {
  TestBackend garbage("garbage", Behaviour{.mode = BackendMode::Garbage});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"garbage", garbage.port()}})));
  expectJsonError(fetch(lb.port(), getRequest("/"), deadlineIn(10000)), 502, "bad_gateway");
}

TEST(UpstreamErrors, BackendStatusCodesPassThroughUnchanged) {
  TestBackend backend("b", Behaviour{.status = 500});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"b", backend.port()}})));
  Response r = fetch(lb.port(), getRequest("/"), deadlineIn(10000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "b\n") << "a backend's own 5xx is relayed, not replaced";
  backend.setBehaviour(Behaviour{.status = 404});
  r = fetch(lb.port(), getRequest("/"), deadlineIn(10000));
  EXPECT_EQ(r.status, 404);
}

}  // namespace
}  // namespace fiberlb::testing
