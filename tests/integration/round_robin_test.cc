// Smooth weighted round-robin through the real binary (SPEC §4): with one worker the counts
// are exact, and because the pick sequence has a period of sum(weights), every window of
// that many consecutive requests holds each backend exactly `weight` times.

#include <gtest/gtest.h>

#include <map>

#include "tests/support/fiberlb_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/traffic.h"

namespace fiberlb::testing {
namespace {

// Checks that every `period` consecutive entries of `sequence` hold `expected` exactly.
void expectEveryWindow(const std::vector<std::string>& sequence, size_t period,
                       const std::map<std::string, int>& expected) {
  for (size_t start = 0; start + period <= sequence.size(); ++start) {
    std::map<std::string, int> window;
    for (size_t i = start; i < start + period; ++i)
      ++window[sequence[i]];
    ASSERT_EQ(window, expected) << "window starting at request " << start;
  }
}

TEST(RoundRobin, WeightsGiveExactCountsOnOneWorker) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbProcess lb;
  ASSERT_TRUE(
      lb.start(singleLb({{"a", a.port(), 100}, {"b", b.port(), 200}, {"c", c.port(), 300}})));

  TrafficResult r = sendRequests(lb.port(), 300, deadlineIn(30000));
  ASSERT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(r.by_backend, (std::map<std::string, int>{{"a", 50}, {"b", 100}, {"c", 150}}));
  expectEveryWindow(r.sequence, 6, {{"a", 1}, {"b", 2}, {"c", 3}});
  // Smooth: the heaviest backend never gets more than its share in a row.
  int run = 0;
  for (const auto& s : r.sequence) {
    run = s == "c" ? run + 1 : 0;
    EXPECT_LE(run, 2);
  }
  EXPECT_EQ(a.requestCount() + b.requestCount() + c.requestCount(), 300);
}

TEST(RoundRobin, EqualWeightsRotateAcrossNewConnections) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}})));

  TrafficResult r = sendRequests(lb.port(), 90, deadlineIn(30000), /*keep_alive=*/false);
  ASSERT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(r.by_backend, (std::map<std::string, int>{{"a", 30}, {"b", 30}, {"c", 30}}));
  expectEveryWindow(r.sequence, 3, {{"a", 1}, {"b", 1}, {"c", 1}});
}

TEST(RoundRobin, ZeroWeightBackendReceivesNothing) {
  TestBackend a("a"), idle("idle");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"a", a.port(), 100}, {"idle", idle.port(), 0}})));

  TrafficResult r = sendRequests(lb.port(), 40, deadlineIn(20000));
  ASSERT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(r.by_backend, (std::map<std::string, int>{{"a", 40}}));
  EXPECT_EQ(idle.requestCount(), 0);
}

}  // namespace
}  // namespace fiberlb::testing
