#include "lb/region_status.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fiberlb::lb {
namespace {

RegionCounts counts(size_t nodes, size_t eligible, size_t awaiting = 0, bool maintenance = false) {
  RegionCounts c;
  c.nodes = nodes;
  c.eligible = eligible;
  c.awaiting_first_check = awaiting;
  c.maintenance = maintenance;
  return c;
}

TEST(RegionStatus, OnlineWhenEveryBackendIsEligible) {
  EXPECT_EQ(statusOf(counts(3, 3), 0.5), RegionStatus::Online);
  EXPECT_EQ(statusOf(counts(1, 1), 1.0), RegionStatus::Online);
}

TEST(RegionStatus, DegradedWhenSomeAreOutButTheFractionHolds) {
  EXPECT_EQ(statusOf(counts(3, 2), 0.5), RegionStatus::Degraded);
  // Exactly at the threshold still holds (eligible fraction >= threshold).
  EXPECT_EQ(statusOf(counts(4, 2), 0.5), RegionStatus::Degraded);
  // Some backends still awaiting their first check, the rest eligible.
  EXPECT_EQ(statusOf(counts(4, 3, 1), 0.5), RegionStatus::Degraded);
}

TEST(RegionStatus, OfflineBelowThreshold) {
  EXPECT_EQ(statusOf(counts(4, 1), 0.5), RegionStatus::Offline);
  EXPECT_EQ(statusOf(counts(10, 8), 0.9), RegionStatus::Offline);
  // Threshold 1: any backend out takes the whole region offline.
  EXPECT_EQ(statusOf(counts(3, 2), 1.0), RegionStatus::Offline);
}

TEST(RegionStatus, OfflineWithNothingEligible) {
  EXPECT_EQ(statusOf(counts(3, 0), 0.5), RegionStatus::Offline);
  // Even a threshold of 0 does not make an empty region serving.
  EXPECT_EQ(statusOf(counts(3, 0), 0.0), RegionStatus::Offline);
  // Some verdicts are in and none is good: offline, not unknown.
  EXPECT_EQ(statusOf(counts(3, 0, 2), 0.5), RegionStatus::Offline);
}

TEST(RegionStatus, UnknownWhileAwaitingFirstCheckOrWithoutNodes) {
  EXPECT_EQ(statusOf(counts(3, 0, 3), 0.5), RegionStatus::Unknown);
  EXPECT_EQ(statusOf(counts(0, 0), 0.5), RegionStatus::Unknown);
}

TEST(RegionStatus, MaintenanceOverridesEverything) {
  EXPECT_EQ(statusOf(counts(3, 3, 0, true), 0.5), RegionStatus::Maintenance);
  EXPECT_EQ(statusOf(counts(3, 0, 0, true), 0.5), RegionStatus::Maintenance);
  EXPECT_EQ(statusOf(counts(0, 0, 0, true), 0.5), RegionStatus::Maintenance);
  EXPECT_EQ(statusOf(counts(3, 0, 3, true), 0.5), RegionStatus::Maintenance);
}

TEST(RegionStatus, ServingAndNames) {
  EXPECT_TRUE(isServing(RegionStatus::Online));
  EXPECT_TRUE(isServing(RegionStatus::Degraded));
  EXPECT_FALSE(isServing(RegionStatus::Offline));
  EXPECT_FALSE(isServing(RegionStatus::Maintenance));
  EXPECT_FALSE(isServing(RegionStatus::Unknown));
  EXPECT_STREQ(toString(RegionStatus::Online), "online");
  EXPECT_STREQ(toString(RegionStatus::Degraded), "degraded");
  EXPECT_STREQ(toString(RegionStatus::Offline), "offline");
  EXPECT_STREQ(toString(RegionStatus::Maintenance), "maintenance");
  EXPECT_STREQ(toString(RegionStatus::Unknown), "unknown");
}

TEST(RegionStatus, FindRegion) {
  const std::vector<RegionState> regions{RegionState{.id = "a"}, RegionState{.id = "b"}};
  EXPECT_EQ(findRegion(regions, "b"), &regions[1]);
  EXPECT_EQ(findRegion(regions, "c"), nullptr);
  EXPECT_EQ(findRegion({}, "a"), nullptr);
}

}  // namespace
}  // namespace fiberlb::lb
