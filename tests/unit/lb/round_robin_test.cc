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
#include "lb/policies/edf_round_robin.h"
#include "tests/unit/lb/endpoint_pool.h"

namespace fiberlb::lb {
namespace {

using test_support::countOf;
using test_support::kWeightSets;
using test_support::Pool;

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

// Equal weights take the O(1) rotation path; a retry passes the tried one over.
TEST(RoundRobinPickerTest, EqualWeightsRetryPassesTriedOver) {
  Pool pool({2, 2, 2, 2});
  RoundRobinPicker picker(pool.endpoints());
  EXPECT_EQ(pool.indexOf(picker.pick(PickContext{})), 0);
  const BackendState* tried[] = {pool.at(1), pool.at(2)};
  EXPECT_EQ(picker.pick(test_support::triedCtx(tried, 2)), pool.at(3));
  EXPECT_EQ(pool.pickMany(picker, 4), (std::vector<int>{0, 1, 2, 3}));
  const BackendState* all[] = {pool.at(0), pool.at(1), pool.at(2), pool.at(3)};
  EXPECT_EQ(picker.pick(test_support::triedCtx(all, 4)), nullptr);
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

// Many unequally weighted endpoints go to the O(log N) schedule; equal weights and short
// lists keep the smooth algorithm (rotation when equal).
TEST(RoundRobinPolicyTest, ChoosesTheScheduleBySizeAndWeights) {
  RoundRobinPolicy policy;
  std::vector<int> mixed(RoundRobinPolicy::kSmoothScanLimit + 1, 1);
  mixed.back() = 2;
  Pool many_mixed(mixed);
  EXPECT_NE(dynamic_cast<EdfRoundRobinPicker*>(policy.makePicker(many_mixed.endpoints()).get()),
            nullptr);
  Pool many_equal(std::vector<int>(1000, 3));
  EXPECT_NE(dynamic_cast<RoundRobinPicker*>(policy.makePicker(many_equal.endpoints()).get()),
            nullptr);
  mixed.pop_back();
  mixed.back() = 2;
  Pool few_mixed(mixed);
  EXPECT_NE(dynamic_cast<RoundRobinPicker*>(policy.makePicker(few_mixed.endpoints()).get()),
            nullptr);
}

}  // namespace
}  // namespace fiberlb::lb
