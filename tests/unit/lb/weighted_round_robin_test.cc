// The properties both weighted round-robin schedules promise (SPEC §4 `roundrobin`): the
// smooth algorithm (RoundRobinPicker, up to 32 endpoints) and earliest deadline first
// (EdfRoundRobinPicker, beyond). Each file of its own tests the picker's particulars.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "lb/backend_state.h"
#include "lb/picker.h"
#include "lb/policies/edf_round_robin.h"
#include "lb/policies/round_robin.h"
#include "tests/unit/lb/endpoint_pool.h"

namespace fiberlb::lb {
namespace {

using test_support::countOf;
using test_support::kWeightSets;
using test_support::Pool;
using test_support::triedCtx;

int64_t totalOf(const std::vector<int>& weights) {
  return std::accumulate(weights.begin(), weights.end(), int64_t{0});
}

template <typename PickerT>
class WeightedRoundRobinTest : public ::testing::Test {};

using Schedules = ::testing::Types<RoundRobinPicker, EdfRoundRobinPicker>;
TYPED_TEST_SUITE(WeightedRoundRobinTest, Schedules);

TYPED_TEST(WeightedRoundRobinTest, EmptyReturnsNull) {
  TypeParam picker({});
  EXPECT_EQ(picker.pick(PickContext{}), nullptr);
}

TYPED_TEST(WeightedRoundRobinTest, EqualWeightsRotateInListOrder) {
  Pool pool({4, 4, 4});
  TypeParam picker(pool.endpoints());
  EXPECT_EQ(pool.pickMany(picker, 9), (std::vector<int>{0, 1, 2, 0, 1, 2, 0, 1, 2}));
}

// Every window of sum(weights) picks, starting from a fresh picker, gives each endpoint
// exactly its weight.
TYPED_TEST(WeightedRoundRobinTest, ExactDistributionPerCycle) {
  for (const auto& weights : kWeightSets) {
    SCOPED_TRACE(::testing::PrintToString(weights));
    Pool pool(weights);
    TypeParam picker(pool.endpoints());
    for (int cycle = 0; cycle < 5; ++cycle) {
      const auto counts =
          countOf(pool.pickMany(picker, static_cast<size_t>(totalOf(weights))), weights.size());
      for (size_t i = 0; i < weights.size(); ++i)
        EXPECT_EQ(counts[i], weights[i]) << i;
    }
  }
}

// Smoothness: after any prefix of t picks, endpoint i has been chosen within 2 of its ideal
// share t*w_i/T (compared cross-multiplied). A burst-y weighted round-robin (all of a, then
// all of b) misses by up to w_a*w_b/T, e.g. ~1000 for 1000:1 and 3.6 for 5:1:1.
TYPED_TEST(WeightedRoundRobinTest, NeverBurstsBeyondTheIdealShare) {
  for (const auto& weights : kWeightSets) {
    SCOPED_TRACE(::testing::PrintToString(weights));
    Pool pool(weights);
    TypeParam picker(pool.endpoints());
    const int64_t total = totalOf(weights);
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

TYPED_TEST(WeightedRoundRobinTest, ThousandsOfEndpointsExact) {
  std::vector<int> weights;
  for (int i = 0; i < 3000; ++i)
    weights.push_back(1 + (i * 37) % 11);
  Pool pool(weights);
  TypeParam picker(pool.endpoints());
  for (int cycle = 0; cycle < 2; ++cycle) {
    const auto counts =
        countOf(pool.pickMany(picker, static_cast<size_t>(totalOf(weights))), weights.size());
    for (size_t i = 0; i < weights.size(); ++i)
      ASSERT_EQ(counts[i], weights[i]) << i;
  }
}

TYPED_TEST(WeightedRoundRobinTest, ZeroWeightOrNullEndpointsAreIgnored) {
  Pool pool({0, 2, 0});
  std::vector<Endpoint> eps(pool.endpoints().begin(), pool.endpoints().end());
  eps.push_back(Endpoint{nullptr, 5});
  TypeParam picker(eps);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(picker.pick(PickContext{}), pool.at(1));
  TypeParam none(std::span<const Endpoint>(eps.data(), 1));
  EXPECT_EQ(none.pick(PickContext{}), nullptr);
}

// Retries skip tried backends without breaking the long-run distribution: after a burst of
// retry picks, normal picking stays within a bounded distance of the exact shares.
TYPED_TEST(WeightedRoundRobinTest, RetriesDoNotSkewTheLongRunDistribution) {
  Pool pool({5, 3, 2});
  TypeParam picker(pool.endpoints());
  const BackendState* tried[1];
  for (int i = 0; i < 1000; ++i) {
    BackendState* first = picker.pick(PickContext{});
    tried[0] = first;
    BackendState* second = picker.pick(triedCtx(tried, 1));
    ASSERT_NE(second, nullptr);
    ASSERT_NE(second, first);
  }
  const auto counts = countOf(pool.pickMany(picker, 10000), 3);
  EXPECT_NEAR(static_cast<double>(counts[0]), 5000, 10);
  EXPECT_NEAR(static_cast<double>(counts[1]), 3000, 10);
  EXPECT_NEAR(static_cast<double>(counts[2]), 2000, 10);
}

}  // namespace
}  // namespace fiberlb::lb
