#include "lb/policies/round_robin.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "lb/backend_state.h"
#include "lb/picker.h"
#include "tests/unit/lb/endpoint_pool.h"

namespace fiberlb::lb {
namespace {

using test_support::Pool;

std::vector<int64_t> countOf(const std::vector<int>& seq, size_t n) {
  std::vector<int64_t> counts(n, 0);
  for (int i : seq) {
    EXPECT_GE(i, 0);
    if (i >= 0) ++counts[static_cast<size_t>(i)];
  }
  return counts;
}

const std::vector<std::vector<int>> kWeightSets = {
    {1},
    {1, 1, 1},
    {5, 1, 1},
    {3, 2},
    {1000, 1},
    {1, 1000},
    {100, 50, 25, 1},
    {7, 11, 13},
    {10, 1, 1, 1},
    {1000, 999, 1, 500, 2},
    {2, 4, 6, 8, 10, 12, 14, 16},
};

TEST(RoundRobinPickerTest, EmptyReturnsNull) {
  RoundRobinPicker picker({});
  EXPECT_EQ(picker.pick(PickContext{}), nullptr);
}

TEST(RoundRobinPickerTest, SingleEndpointAlwaysChosen) {
  Pool pool({7});
  RoundRobinPicker picker(pool.endpoints());
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(picker.pick(PickContext{}), pool.at(0));
}

TEST(RoundRobinPickerTest, FiveOneOneIsInterleavedLikeNginx) {
  Pool pool({5, 1, 1});
  RoundRobinPicker picker(pool.endpoints());
  const std::vector<int> cycle = {0, 0, 1, 0, 2, 0, 0};
  for (int round = 0; round < 10; ++round)
    EXPECT_EQ(pool.pickMany(picker, 7), cycle);
}

TEST(RoundRobinPickerTest, EqualWeightsRotateInOrder) {
  Pool pool({1, 1, 1});
  RoundRobinPicker picker(pool.endpoints());
  EXPECT_EQ(pool.pickMany(picker, 6), (std::vector<int>{0, 1, 2, 0, 1, 2}));
}

// Every window of sum(weights) picks, starting from a fresh picker, gives each endpoint
// exactly its weight: the state returns to all-zero after each cycle.
TEST(RoundRobinPickerTest, ExactDistributionPerCycle) {
  for (const auto& weights : kWeightSets) {
    SCOPED_TRACE(::testing::PrintToString(weights));
    Pool pool(weights);
    RoundRobinPicker picker(pool.endpoints());
    const int64_t total = std::accumulate(weights.begin(), weights.end(), int64_t{0});
    for (int cycle = 0; cycle < 5; ++cycle) {
      const auto counts =
          countOf(pool.pickMany(picker, static_cast<size_t>(total)), weights.size());
      for (size_t i = 0; i < weights.size(); ++i)
        EXPECT_EQ(counts[i], weights[i]) << i;
    }
  }
}

// Smoothness: after any prefix of t picks, endpoint i has been chosen within 2 of its ideal
// share t*w_i/T (compared cross-multiplied). A burst-y weighted round-robin (all of a, then
// all of b) misses by up to w_a*w_b/T, e.g. ~1000 for 1000:1 and 3.6 for 5:1:1.
TEST(RoundRobinPickerTest, NeverBurstsBeyondTheIdealShare) {
  for (const auto& weights : kWeightSets) {
    SCOPED_TRACE(::testing::PrintToString(weights));
    Pool pool(weights);
    RoundRobinPicker picker(pool.endpoints());
    const int64_t total = std::accumulate(weights.begin(), weights.end(), int64_t{0});
    const auto seq = pool.pickMany(picker, static_cast<size_t>(3 * total));
    std::vector<int64_t> counts(weights.size(), 0);
    for (size_t t = 1; t <= seq.size(); ++t) {
      ++counts[static_cast<size_t>(seq[t - 1])];
      for (size_t i = 0; i < weights.size(); ++i) {
        const int64_t deviation = counts[i] * total - static_cast<int64_t>(t) * weights[i];
        ASSERT_LT(std::llabs(deviation), 2 * total) << "endpoint " << i << " after " << t;
      }
    }
  }
}

TEST(RoundRobinPickerTest, HeavyToLightSpreadsTheLightOneEvenly) {
  // 1000:1: the light backend is picked exactly once per 1001 picks, always at the same
  // offset (mid-cycle), so the gap between its picks is exactly 1001.
  Pool pool({1000, 1});
  RoundRobinPicker picker(pool.endpoints());
  const auto seq = pool.pickMany(picker, 1001 * 20);
  std::vector<size_t> light;
  for (size_t i = 0; i < seq.size(); ++i)
    if (seq[i] == 1) light.push_back(i);
  ASSERT_EQ(light.size(), 20u);
  for (size_t k = 1; k < light.size(); ++k)
    EXPECT_EQ(light[k] - light[k - 1], 1001u);
  // And the heavy runs are at most the full cycle minus the light pick.
  EXPECT_GT(light[0], 0u);
  EXPECT_LT(light[0], 1000u);
}

TEST(RoundRobinPickerTest, ThreeToOneNeverRunsMoreThanThree) {
  Pool pool({3, 1});
  RoundRobinPicker picker(pool.endpoints());
  const auto seq = pool.pickMany(picker, 4000);
  int run = 0;
  for (int i : seq) {
    run = i == 0 ? run + 1 : 0;
    ASSERT_LE(run, 3);
  }
}

// Weight changes arrive as a new snapshot, i.e. a new picker over the new endpoints.
TEST(RoundRobinPickerTest, WeightChangeTakesEffectExactlyOnRebuild) {
  Pool before({5, 1, 1});
  RoundRobinPicker p1(before.endpoints());
  before.pickMany(p1, 3);  // mid-cycle
  Pool after({1, 1, 5});
  RoundRobinPicker p2(after.endpoints());
  for (int cycle = 0; cycle < 3; ++cycle) {
    const auto counts = countOf(after.pickMany(p2, 7), 3);
    EXPECT_EQ(counts, (std::vector<int64_t>{1, 1, 5}));
  }
  Pool heavy({1, 1000});
  RoundRobinPicker p3(heavy.endpoints());
  EXPECT_EQ(countOf(heavy.pickMany(p3, 1001 * 3), 2), (std::vector<int64_t>{3, 3000}));
}

TEST(RoundRobinPickerTest, ZeroWeightOrNullEndpointsAreIgnored) {
  Pool pool({0, 2, 0});
  std::vector<Endpoint> eps(pool.endpoints().begin(), pool.endpoints().end());
  eps.push_back(Endpoint{nullptr, 5});
  RoundRobinPicker picker(eps);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(picker.pick(PickContext{}), pool.at(1));
  RoundRobinPicker none(std::span<const Endpoint>(eps.data(), 1));
  EXPECT_EQ(none.pick(PickContext{}), nullptr);
}

TEST(RoundRobinPickerTest, SkipsTriedBackends) {
  Pool pool({3, 2, 1});
  RoundRobinPicker picker(pool.endpoints());
  const BackendState* tried[] = {pool.at(0)};
  PickContext ctx;
  ctx.tried = tried;
  ctx.tried_count = 1;
  std::vector<int64_t> counts(3, 0);
  for (int i = 0; i < 300; ++i) {
    BackendState* b = picker.pick(ctx);
    ASSERT_NE(b, pool.at(0));
    ++counts[static_cast<size_t>(pool.indexOf(b))];
  }
  // The rest keep their relative weights (2:1) while 0 is excluded.
  EXPECT_NEAR(static_cast<double>(counts[1]), 200, 2);
  EXPECT_NEAR(static_cast<double>(counts[2]), 100, 2);
}

TEST(RoundRobinPickerTest, AllTriedReturnsNull) {
  Pool pool({3, 2});
  RoundRobinPicker picker(pool.endpoints());
  const BackendState* tried[] = {pool.at(1), pool.at(0)};
  PickContext ctx;
  ctx.tried = tried;
  ctx.tried_count = 2;
  EXPECT_EQ(picker.pick(ctx), nullptr);
  // And the failed attempt did not disturb the sequence.
  EXPECT_EQ(countOf(pool.pickMany(picker, 5), 2), (std::vector<int64_t>{3, 2}));
}

// Retries skip tried backends without breaking the long-run distribution: after a burst of
// retry picks, normal picking stays within a bounded distance of the exact shares.
TEST(RoundRobinPickerTest, RetriesDoNotSkewTheLongRunDistribution) {
  Pool pool({5, 3, 2});
  RoundRobinPicker picker(pool.endpoints());
  PickContext retry;
  const BackendState* tried[1];
  retry.tried = tried;
  retry.tried_count = 1;
  for (int i = 0; i < 1000; ++i) {
    BackendState* first = picker.pick(PickContext{});
    tried[0] = first;
    BackendState* second = picker.pick(retry);
    ASSERT_NE(second, nullptr);
    ASSERT_NE(second, first);
  }
  const auto counts = countOf(pool.pickMany(picker, 10000), 3);
  EXPECT_NEAR(static_cast<double>(counts[0]), 5000, 10);
  EXPECT_NEAR(static_cast<double>(counts[1]), 3000, 10);
  EXPECT_NEAR(static_cast<double>(counts[2]), 2000, 10);
}

TEST(RoundRobinPickerTest, ManyEndpointsExact) {
  std::vector<int> weights;
  for (int i = 0; i < 1000; ++i)
    weights.push_back(1 + i % 7);
  Pool pool(weights);
  RoundRobinPicker picker(pool.endpoints());
  const int64_t total = std::accumulate(weights.begin(), weights.end(), int64_t{0});
  const auto counts = countOf(pool.pickMany(picker, static_cast<size_t>(total)), weights.size());
  for (size_t i = 0; i < weights.size(); ++i)
    ASSERT_EQ(counts[i], weights[i]) << i;
}

TEST(RoundRobinPolicyTest, MakesIndependentPickers) {
  Pool pool({1, 1});
  RoundRobinPolicy policy;
  auto a = policy.makePicker(pool.endpoints());
  auto b = policy.makePicker(pool.endpoints());
  EXPECT_EQ(a->pick(PickContext{}), pool.at(0));
  EXPECT_EQ(a->pick(PickContext{}), pool.at(1));
  EXPECT_EQ(b->pick(PickContext{}), pool.at(0));  // b's state is its own
}

}  // namespace
}  // namespace fiberlb::lb
