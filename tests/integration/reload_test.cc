// Configuration reload on SIGHUP (SPEC §3 Reload): a valid reload changes routing without
// failing a single request; an invalid one is rejected and the old config keeps serving.

#include <gtest/gtest.h>

#include <map>

#include "tests/support/fiberlb_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/traffic.h"

namespace fiberlb::testing {
namespace {

TEST(Reload, WeightChangeUnderLoadFailsNoRequestAndAppliesTheNewWeights) {
  TestBackend a("a"), b("b");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"a", a.port(), 100}, {"b", b.port(), 0}})));

  BackgroundLoad load(lb.port(), 2);
  ASSERT_TRUE(load.waitForMore(50, deadlineIn(20000)));
  ASSERT_TRUE(lb.reload(singleLb({{"a", a.port(), 0}, {"b", b.port(), 100}})));
  // The new weights reach the worker asynchronously: wait for b to receive traffic, then
  // keep the load running across the switch for a while longer.
  ASSERT_TRUE(pollUntil([&] { return b.requestCount() > 0; }, deadlineIn(10000)))
      << "no request reached b after the reload";
  ASSERT_TRUE(load.waitForMore(50, deadlineIn(20000)));
  TrafficResult during = load.stop();
  EXPECT_EQ(during.failures, 0) << ::testing::PrintToString(during.errors);
  EXPECT_GT(during.by_backend["a"], 0);
  EXPECT_GT(during.by_backend["b"], 0);
  // Once switched, a never receives new traffic. With one worker, the first response from
  // b proves the new snapshot is in use; after it only requests already in flight on a can
  // still complete there — at most one per client thread, however slow the machine is.
  size_t first_b = 0;
  while (first_b < during.sequence.size() && during.sequence[first_b] != "b")
    ++first_b;
  int late_a = 0;
  for (size_t i = first_b; i < during.sequence.size(); ++i)
    late_a += during.sequence[i] == "a" ? 1 : 0;
  EXPECT_LE(late_a, 2) << "requests went to weight-0 backend a after the switch";

  TrafficResult after = sendRequests(lb.port(), 40, deadlineIn(20000));
  EXPECT_EQ(after.failures, 0) << ::testing::PrintToString(after.errors);
  EXPECT_EQ(after.by_backend, (std::map<std::string, int>{{"b", 40}}));
}

TEST(Reload, NewWeightsGiveTheNewExactDistribution) {
  TestBackend a("a"), b("b");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"a", a.port(), 100}, {"b", b.port(), 100}})));
  TrafficResult before = sendRequests(lb.port(), 40, deadlineIn(20000));
  EXPECT_EQ(before.by_backend, (std::map<std::string, int>{{"a", 20}, {"b", 20}}));

  ASSERT_TRUE(lb.reload(singleLb({{"a", a.port(), 100}, {"b", b.port(), 300}})));
  // Let the new snapshot arrive: wait until one pick sequence shows b three times in a row,
  // which the old 1:1 weights never produce.
  ASSERT_TRUE(pollUntil(
      [&] {
        TrafficResult probe = sendRequests(lb.port(), 4, deadlineIn(5000));
        return probe.by_backend["b"] == 3;
      },
      deadlineIn(10000)));
  TrafficResult after = sendRequests(lb.port(), 400, deadlineIn(30000));
  ASSERT_EQ(after.failures, 0) << ::testing::PrintToString(after.errors);
  EXPECT_EQ(after.by_backend["a"], 100);
  EXPECT_EQ(after.by_backend["b"], 300);
}

TEST(Reload, AddedBackendReceivesTrafficAndRemovedOneStops) {
  TestBackend a("a"), b("b");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"a", a.port()}})));
  EXPECT_EQ(sendRequests(lb.port(), 10, deadlineIn(10000)).by_backend["a"], 10);

  ASSERT_TRUE(lb.reload(singleLb({{"b", b.port()}})));
  ASSERT_TRUE(
      pollUntil([&] { return sendRequests(lb.port(), 1, deadlineIn(5000)).by_backend["b"] == 1; },
                deadlineIn(10000)));
  a.resetCounters();
  TrafficResult r = sendRequests(lb.port(), 20, deadlineIn(10000));
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(r.by_backend["b"], 20);
  EXPECT_EQ(a.requestCount(), 0);
}

TEST(Reload, InvalidConfigIsRejectedAndTheOldOneKeepsServing) {
  TestBackend a("a"), b("b");
  FiberlbProcess lb;
  const FiberlbConfig original = singleLb({{"a", a.port()}});
  ASSERT_TRUE(lb.start(original));

  BackgroundLoad load(lb.port(), 1);
  ASSERT_TRUE(load.waitForMore(20, deadlineIn(20000)));
  // Syntax error, then a well-formed file with an impossible value.
  ASSERT_TRUE(lb.reloadRaw("[standalone.server\nworkers = = 1\n", /*expect_success=*/false));
  std::string bad_value = lb.renderConfig(singleLb({{"b", b.port()}}));
  bad_value.replace(bad_value.find("weight = 100"), 12, "weight = 5000");
  ASSERT_TRUE(lb.reloadRaw(bad_value, /*expect_success=*/false));
  ASSERT_TRUE(load.waitForMore(20, deadlineIn(20000)));
  TrafficResult r = load.stop();
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(b.requestCount(), 0) << "part of the invalid config was applied";
  EXPECT_EQ(r.by_backend["a"], static_cast<int>(r.sequence.size()));
  EXPECT_TRUE(lb.process().running());

  // A valid reload afterwards still works.
  ASSERT_TRUE(lb.reload(singleLb({{"b", b.port()}})));
  ASSERT_TRUE(
      pollUntil([&] { return sendRequests(lb.port(), 1, deadlineIn(5000)).by_backend["b"] == 1; },
                deadlineIn(10000)));
}

}  // namespace
}  // namespace fiberlb::testing
