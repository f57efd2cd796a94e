#include "src/admin/cluster_view.h"

#include <gtest/gtest.h>

#include "tests/unit/admin/fake_admin.h"

namespace fiberlb::admin::testing {
namespace {

TEST(ClusterView, TakesRegionStatusAndActiveRegionFromTheSnapshot) {
  FakeAdmin admin;
  admin.mutableConfig().loadbalancers[0].backends[2].weight = 0;  // v1: Virginia degraded
  admin.mutableConfig().loadbalancers[0].backends[4].weight = 0;  // e1: Ireland offline
  admin.publish();
  const ClusterView view = viewOf(admin.currentUpdate());
  EXPECT_EQ(view.active_region, "ap-northeast-1");
  EXPECT_EQ(view.backends, 5u);
  EXPECT_EQ(view.eligible, 3u);
  EXPECT_EQ(view.online_regions, 2u);
  ASSERT_EQ(view.regions.size(), 3u);
  EXPECT_EQ(view.regions[0].status, lb::RegionStatus::Online);
  EXPECT_TRUE(view.regions[0].active);
  EXPECT_EQ(view.regions[0].display_name, "ap-northeast-1 display");
  EXPECT_EQ(view.regions[1].status, lb::RegionStatus::Degraded);
  EXPECT_EQ(view.regions[1].eligible, 1u);
  EXPECT_EQ(view.regions[2].status, lb::RegionStatus::Offline);
  EXPECT_FALSE(view.regions[2].serving());

  const LbView* web = view.findLb("web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->routing_region, "ap-northeast-1");
  EXPECT_EQ(web->endpoints, 2u);
  const BackendView* t1 = web->findBackend("t1");
  ASSERT_NE(t1, nullptr);
  EXPECT_TRUE(t1->in_rotation);
  EXPECT_EQ(t1->effective_weight, 100);
  EXPECT_EQ(t1->region, "ap-northeast-1");
  const BackendView* v2 = web->findBackend("v2");
  EXPECT_TRUE(v2->eligible);
  EXPECT_FALSE(v2->in_rotation);
  EXPECT_EQ(v2->effective_weight, 0);
  EXPECT_EQ(view.findLb("nope"), nullptr);
  EXPECT_EQ(view.findRegion("nope"), nullptr);
}

TEST(ClusterView, ActiveRegionFollowsAFailover) {
  FakeAdmin admin;
  ASSERT_TRUE(admin.setActiveRegion("eu-west-1").ok());
  const ClusterView view = viewOf(admin.currentUpdate());
  EXPECT_EQ(view.active_region, "eu-west-1");
  EXPECT_TRUE(view.findRegion("eu-west-1")->active);
  EXPECT_FALSE(view.findRegion("ap-northeast-1")->active);
  EXPECT_EQ(view.lbs[0].routing_region, "eu-west-1");
}

}  // namespace
}  // namespace fiberlb::admin::testing
