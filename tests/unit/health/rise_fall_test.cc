#include "health/rise_fall.h"

#include <gtest/gtest.h>

namespace fiberlb::health {
namespace {

TEST(RiseFallTest, FirstPassFromUnknownIsHealthy) {
  RiseFall rf(2, 3);
  EXPECT_EQ(rf.state(), Health::Unknown);
  EXPECT_TRUE(rf.record(true));
  EXPECT_EQ(rf.state(), Health::Healthy);
}

TEST(RiseFallTest, UnknownNeedsFullFallToGoDown) {
  RiseFall rf(2, 3);
  EXPECT_FALSE(rf.record(false));
  EXPECT_FALSE(rf.record(false));
  EXPECT_EQ(rf.state(), Health::Unknown);
  EXPECT_TRUE(rf.record(false));
  EXPECT_EQ(rf.state(), Health::Unhealthy);
}

TEST(RiseFallTest, UnhealthyRisesOnlyAfterThreshold) {
  RiseFall rf(2, 1);
  rf.record(false);
  ASSERT_EQ(rf.state(), Health::Unhealthy);
  EXPECT_FALSE(rf.record(true));
  EXPECT_TRUE(rf.record(true));
  EXPECT_EQ(rf.state(), Health::Healthy);
}

TEST(RiseFallTest, FallsOnlyAfterConsecutiveFailures) {
  RiseFall rf(1, 3);
  rf.record(true);
  EXPECT_FALSE(rf.record(false));
  EXPECT_FALSE(rf.record(false));
  EXPECT_FALSE(rf.record(true));  // the streak is broken
  EXPECT_FALSE(rf.record(false));
  EXPECT_FALSE(rf.record(false));
  EXPECT_TRUE(rf.record(false));
  EXPECT_EQ(rf.state(), Health::Unhealthy);
  EXPECT_EQ(rf.consecutiveFailures(), 3);
}

TEST(RiseFallTest, NoFlapOnAlternatingResults) {
  RiseFall rf(2, 2);
  rf.record(true);
  rf.record(true);
  for (int i = 0; i < 10; ++i)
    EXPECT_FALSE(rf.record(i % 2 == 0));
  EXPECT_EQ(rf.state(), Health::Healthy);
}

TEST(RiseFallTest, ThresholdChangeKeepsStreak) {
  RiseFall rf(5, 5);
  rf.record(false);
  rf.record(false);
  rf.setThresholds(2, 3);
  EXPECT_TRUE(rf.record(false));
  EXPECT_EQ(rf.state(), Health::Unhealthy);
}

TEST(RiseFallTest, Names) {
  EXPECT_STREQ(toString(Health::Healthy), "healthy");
  EXPECT_STREQ(toString(Health::Unhealthy), "unhealthy");
  EXPECT_STREQ(toString(Health::Unknown), "unknown");
}

}  // namespace
}  // namespace fiberlb::health
