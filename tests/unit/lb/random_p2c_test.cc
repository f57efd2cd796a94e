#include "lb/policies/random_p2c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "lb/backend_state.h"
#include "lb/picker.h"
#include "tests/unit/lb/endpoint_pool.h"

namespace fiberlb::lb {
namespace {

using test_support::Pool;
using test_support::shares;
using test_support::triedCtx;

constexpr uint64_t kSeed = 12345;
constexpr size_t kPicks = 60000;

TEST(RandomP2CPickerTest, EmptyReturnsNull) {
  RandomP2CPicker picker({}, kSeed);
  EXPECT_EQ(picker.pick(PickContext{}), nullptr);
}

TEST(RandomP2CPickerTest, SingleEndpointWorks) {
  Pool pool({3});
  RandomP2CPicker picker(pool.endpoints(), kSeed);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(picker.pick(PickContext{}), pool.at(0));
  const BackendState* tried[] = {pool.at(0)};
  EXPECT_EQ(picker.pick(triedCtx(tried, 1)), nullptr);
}

TEST(RandomP2CPickerTest, NeverPicksTriedOnes) {
  Pool pool({1, 5, 1, 5, 1});
  RandomP2CPicker picker(pool.endpoints(), kSeed);
  const BackendState* tried[] = {pool.at(1), pool.at(2), pool.at(3)};
  int seen[5] = {};
  for (int i = 0; i < 10000; ++i) {
    const int idx = pool.indexOf(picker.pick(triedCtx(tried, 3)));
    ASSERT_TRUE(idx == 0 || idx == 4) << idx;
    ++seen[idx];
  }
  EXPECT_GT(seen[0], 4000);  // equal weights and loads: about half each
  EXPECT_GT(seen[4], 4000);
}

TEST(RandomP2CPickerTest, AllTriedReturnsNull) {
  Pool pool({1, 2, 3});
  RandomP2CPicker picker(pool.endpoints(), kSeed);
  const BackendState* tried[] = {pool.at(2), pool.at(0), pool.at(1)};
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(picker.pick(triedCtx(tried, 3)), nullptr);
}

TEST(RandomP2CPickerTest, TheHeavyOneTriedLeavesTheLightOne) {
  // Nearly all the weight is excluded: draws keep hitting it, the scan must find the other.
  Pool pool({1000, 1});
  RandomP2CPicker picker(pool.endpoints(), kSeed);
  const BackendState* tried[] = {pool.at(0)};
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(picker.pick(triedCtx(tried, 1)), pool.at(1));
}

TEST(RandomP2CPickerTest, OfTwoAlwaysTheLessLoaded) {
  // Two endpoints are always both drawn (different ones when possible).
  Pool pool({1, 1});
  RandomP2CPicker picker(pool.endpoints(), kSeed);
  pool.setActive({10, 3});
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(picker.pick(PickContext{}), pool.at(1));
  pool.setActive({2, 3});
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(picker.pick(PickContext{}), pool.at(0));
}

TEST(RandomP2CPickerTest, ComparesLoadRelativeToWeight) {
  Pool pool({3, 1});
  RandomP2CPicker picker(pool.endpoints(), kSeed);
  pool.setActive({2, 1});  // 2/3 < 1/1
  for (int i = 0; i < 200; ++i)
    ASSERT_EQ(picker.pick(PickContext{}), pool.at(0));
  pool.setActive({4, 1});  // 4/3 > 1/1
  for (int i = 0; i < 200; ++i)
    ASSERT_EQ(picker.pick(PickContext{}), pool.at(1));
}

TEST(RandomP2CPickerTest, AvoidsTheBusyOnes) {
  // Backend 2 is idle, 0 and 1 busy: it wins whenever it is one of the two draws, which two
  // different draws from three equal weights make 2/3 of the time (and never less).
  Pool pool({1, 1, 1});
  pool.setActive({10, 10, 0});
  RandomP2CPicker picker(pool.endpoints(), kSeed);
  const auto s = shares(pool.pickMany(picker, kPicks), pool.size());
  EXPECT_NEAR(s[2], 2.0 / 3, 0.01);
  // The busiest of all is never picked while a less loaded one is drawn with it.
  pool.setActive({10, 20, 0});
  const auto t = shares(pool.pickMany(picker, kPicks), pool.size());
  EXPECT_EQ(t[1], 0.0);
}

TEST(RandomP2CPickerTest, EqualLoadFollowsWeights) {
  Pool pool({1, 2, 3});
  RandomP2CPicker picker(pool.endpoints(), kSeed);
  const auto s = shares(pool.pickMany(picker, kPicks), pool.size());
  // Binomial sd over 60,000 picks is at most 0.002; 0.01 is five of them.
  EXPECT_NEAR(s[0], 1.0 / 6, 0.01);
  EXPECT_NEAR(s[1], 2.0 / 6, 0.01);
  EXPECT_NEAR(s[2], 3.0 / 6, 0.01);
}

TEST(RandomP2CPickerTest, SkewedWeightsAreExact) {
  // The alias table has no rounding: 1000:999:1:500:2 shares hold to sampling noise.
  const std::vector<int> weights = {1000, 999, 1, 500, 2};
  Pool pool(weights);
  RandomP2CPicker picker(pool.endpoints(), kSeed);
  const auto s = shares(pool.pickMany(picker, 200000), pool.size());
  for (size_t i = 0; i < weights.size(); ++i)
    EXPECT_NEAR(s[i], weights[i] / 2502.0, 0.005) << i;
}

TEST(RandomP2CPickerTest, SeedFixesTheSequence) {
  Pool pool({1, 1, 1, 1, 1, 1, 1, 1});
  RandomP2CPicker a(pool.endpoints(), kSeed);
  RandomP2CPicker b(pool.endpoints(), kSeed);
  RandomP2CPicker c(pool.endpoints(), kSeed + 1);
  const auto seq_a = pool.pickMany(a, 64);
  EXPECT_EQ(seq_a, pool.pickMany(b, 64));
  EXPECT_NE(seq_a, pool.pickMany(c, 64));
}

TEST(RandomP2CPickerTest, PolicySeedsEachPickerDifferently) {
  const Policy& policy = policyFor(config::Method::Random);
  ASSERT_NE(dynamic_cast<const RandomP2CPolicy*>(&policy), nullptr);
  Pool pool({1, 1, 1, 1, 1, 1, 1, 1});
  auto first = policy.makePicker(pool.endpoints());
  auto second = policy.makePicker(pool.endpoints());
  EXPECT_NE(pool.pickMany(*first, 64), pool.pickMany(*second, 64));
}

}  // namespace
}  // namespace fiberlb::lb
