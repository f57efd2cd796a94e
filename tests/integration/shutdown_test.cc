// Graceful shutdown (SPEC §2): SIGTERM/SIGINT stop accepting, let in-flight requests finish
// within shutdown_grace_sec, then the process exits 0.

#include <gtest/gtest.h>

#include <signal.h>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

TEST(Shutdown, SigtermLetsAnInFlightSlowRequestFinishThenExitsZero) {
  TestBackend slow("slow", Behaviour{.delay = milliseconds(1000), .body_size = 200000});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"slow", slow.port()}})));

  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send(getRequest("/slow"), deadlineIn(5000)));
  ASSERT_TRUE(pollUntil([&] { return slow.activeRequests() == 1; }, deadlineIn(5000)));
  lb.process().signal(SIGTERM);

  Response r = client.readResponse(deadlineIn(15000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(firstPatternMismatch(r.body, 200000), -1);
  EXPECT_EQ(lb.process().waitExit(deadlineIn(15000)), 0);

  HttpClient late;
  EXPECT_FALSE(late.connect(lb.port(), deadlineIn(2000))) << "still accepting after exit";
}

TEST(Shutdown, NewConnectionsAreRefusedWhileDraining) {
  TestBackend slow("slow", Behaviour{.delay = milliseconds(3000)});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"slow", slow.port()}})));
  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send(getRequest("/slow"), deadlineIn(5000)));
  ASSERT_TRUE(pollUntil([&] { return slow.activeRequests() == 1; }, deadlineIn(5000)));
  lb.process().signal(SIGINT);

  // The listener closes while the slow request is still being served.
  EXPECT_TRUE(pollUntil(
      [&] {
        HttpClient probe;
        return !probe.connect(lb.port(), deadlineIn(1000));
      },
      Clock::now() + milliseconds(2000)))
      << "fiberlb kept accepting after SIGINT";
  EXPECT_EQ(slow.activeRequests(), 1) << "the in-flight request ended before the check";
  Response r = client.readResponse(deadlineIn(15000));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(lb.process().waitExit(deadlineIn(15000)), 0);
}

TEST(Shutdown, GracePeriodBoundsTheWaitForAHangingRequest) {
  TestBackend hang("hang", Behaviour{.mode = BackendMode::Hang});
  FiberlbConfig config = singleLb({{"hang", hang.port()}});
  config.shutdown_grace_sec = 1;
  config.loadbalancers[0].timeouts["upstream_response_ms"] = 60000;
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send(getRequest("/hang"), deadlineIn(5000)));
  ASSERT_TRUE(pollUntil([&] { return hang.connectionCount() == 1; }, deadlineIn(5000)));

  const auto start = Clock::now();
  lb.process().signal(SIGTERM);
  EXPECT_EQ(lb.process().waitExit(deadlineIn(10000)), 0);
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, milliseconds(900)) << "did not wait for the in-flight request";
  EXPECT_LT(elapsed, milliseconds(static_cast<int>(5000 * timeoutScale())));
  hang.stop();
}

TEST(Shutdown, IdleKeepAliveConnectionsDoNotDelayExit) {
  TestBackend backend("b");
  FiberlbConfig config = singleLb({{"b", backend.port()}});
  config.shutdown_grace_sec = 20;
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  HttpClient idle;
  ASSERT_TRUE(idle.connect(lb.port(), deadlineIn(5000)));
  ASSERT_TRUE(idle.send(getRequest("/"), deadlineIn(5000)));
  ASSERT_EQ(idle.readResponse(deadlineIn(5000)).status, 200);

  const auto start = Clock::now();
  lb.process().signal(SIGTERM);
  EXPECT_EQ(lb.process().waitExit(deadlineIn(15000)), 0);
  EXPECT_LT(Clock::now() - start, milliseconds(static_cast<int>(5000 * timeoutScale())))
      << "an idle keep-alive connection held the shutdown for the whole grace period";
  EXPECT_TRUE(idle.waitClosed(deadlineIn(5000)));
}

}  // namespace
}  // namespace fiberlb::testing
