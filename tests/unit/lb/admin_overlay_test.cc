#include "lb/admin_overlay.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"

namespace fiberlb::lb {
namespace {

config::Region region(std::string id, int priority) {
  config::Region r;
  r.id = std::move(id);
  r.display_name = r.id;
  r.priority = priority;
  return r;
}

config::Backend backend(std::string name, int port, std::string region, int weight = 100) {
  config::Backend b;
  b.name = std::move(name);
  b.port = port;
  b.region = std::move(region);
  b.weight = weight;
  return b;
}

// Two regions, LB "web" with a backend in each and LB "api" with one in Tokyo.
config::Config fileConfig() {
  config::Config cfg;
  cfg.geo.regions = {region("ap-northeast-1", 1), region("us-east-1", 2)};
  config::LoadBalancer web;
  web.name = "web";
  web.backends = {backend("t1", 8001, "ap-northeast-1"), backend("v1", 8002, "us-east-1")};
  config::LoadBalancer api;
  api.name = "api";
  api.backends = {backend("a1", 9001, "ap-northeast-1")};
  cfg.loadbalancers = {web, api};
  return cfg;
}

std::vector<std::string> regionIds(const config::Config& cfg) {
  std::vector<std::string> out;
  for (const config::Region& r : cfg.geo.regions)
    out.push_back(r.id);
  return out;
}

std::vector<std::string> backendNames(const config::Config& cfg, size_t lb) {
  std::vector<std::string> out;
  for (const config::Backend& b : cfg.loadbalancers.at(lb).backends)
    out.push_back(b.name);
  return out;
}

AddedNode added(std::string lb, std::string name, std::string region_id, int port = 7000) {
  return AddedNode{std::move(lb), backend(std::move(name), port, std::move(region_id))};
}

TEST(AdminOverlayTest, EmptyOverlayReturnsTheFileAndPrunesNothing) {
  const config::Config file = fileConfig();
  AdminOverlay pruned;
  pruned.regions_removed = {"stale"};  // overwritten: pruned is an output
  const config::Config cfg = applyOverlay(file, AdminOverlay{}, &pruned);
  EXPECT_EQ(regionIds(cfg), regionIds(file));
  EXPECT_EQ(backendNames(cfg, 0), backendNames(file, 0));
  EXPECT_TRUE(pruned.empty());
}

TEST(AdminOverlayTest, AddsRegionUnlessTheFileDeclaresIt) {
  AdminOverlay overlay;
  overlay.regions_added = {region("eu-west-1", 4), region("us-east-1", 9)};
  AdminOverlay pruned;
  const config::Config cfg = applyOverlay(fileConfig(), overlay, &pruned);
  EXPECT_EQ(regionIds(cfg), (std::vector<std::string>{"ap-northeast-1", "us-east-1", "eu-west-1"}));
  EXPECT_EQ(cfg.geo.regions[1].priority, 2);  // the file's us-east-1, not the overlay's
  ASSERT_EQ(pruned.regions_added.size(), 1u);
  EXPECT_EQ(pruned.regions_added[0].id, "eu-west-1");
}

TEST(AdminOverlayTest, RemovesUnusedRegion) {
  config::Config file = fileConfig();
  file.geo.regions.push_back(region("eu-west-1", 4));
  AdminOverlay overlay;
  overlay.regions_removed = {"eu-west-1"};
  AdminOverlay pruned;
  const config::Config cfg = applyOverlay(file, overlay, &pruned);
  EXPECT_EQ(regionIds(cfg), (std::vector<std::string>{"ap-northeast-1", "us-east-1"}));
  EXPECT_EQ(pruned.regions_removed, std::vector<std::string>{"eu-west-1"});
}

TEST(AdminOverlayTest, KeepsRegionABackendStillNamesAndPrunesTheRemoval) {
  AdminOverlay overlay;
  overlay.regions_removed = {"us-east-1", "gone-from-file"};
  AdminOverlay pruned;
  const config::Config cfg = applyOverlay(fileConfig(), overlay, &pruned);
  EXPECT_EQ(regionIds(cfg), (std::vector<std::string>{"ap-northeast-1", "us-east-1"}));
  EXPECT_TRUE(pruned.regions_removed.empty());
}

TEST(AdminOverlayTest, KeepsRegionTheFileMakesActive) {
  config::Config file = fileConfig();
  file.geo.regions.push_back(region("eu-west-1", 4));
  file.geo.active_region = "eu-west-1";
  AdminOverlay overlay;
  overlay.regions_removed = {"eu-west-1"};
  AdminOverlay pruned;
  const config::Config cfg = applyOverlay(file, overlay, &pruned);
  EXPECT_EQ(regionIds(cfg).size(), 3u);
  EXPECT_TRUE(pruned.regions_removed.empty());
}

TEST(AdminOverlayTest, RegionEmptiedThroughTheApiCanBeRemoved) {
  // The operator deleted v1, the only us-east-1 backend, then the region itself.
  AdminOverlay overlay;
  overlay.nodes_removed = {{"web", "v1"}};
  overlay.regions_removed = {"us-east-1"};
  AdminOverlay pruned;
  const config::Config cfg = applyOverlay(fileConfig(), overlay, &pruned);
  EXPECT_EQ(regionIds(cfg), std::vector<std::string>{"ap-northeast-1"});
  EXPECT_EQ(pruned.regions_removed, std::vector<std::string>{"us-east-1"});
}

TEST(AdminOverlayTest, RegionOfAnAddedNodeIsNotRemoved) {
  config::Config file = fileConfig();
  file.geo.regions.push_back(region("eu-west-1", 4));
  AdminOverlay overlay;
  overlay.nodes_added = {added("web", "e1", "eu-west-1")};
  overlay.regions_removed = {"eu-west-1"};
  AdminOverlay pruned;
  const config::Config cfg = applyOverlay(file, overlay, &pruned);
  EXPECT_EQ(regionIds(cfg).size(), 3u);
  EXPECT_TRUE(pruned.regions_removed.empty());
  EXPECT_EQ(pruned.nodes_added.size(), 1u);
}

TEST(AdminOverlayTest, RemovesNodeAndPrunesOnesTheFileNoLongerHas) {
  AdminOverlay overlay;
  overlay.nodes_removed = {{"web", "t1"}, {"web", "nope"}, {"gone-lb", "a1"}};
  AdminOverlay pruned;
  const config::Config cfg = applyOverlay(fileConfig(), overlay, &pruned);
  EXPECT_EQ(backendNames(cfg, 0), std::vector<std::string>{"v1"});
  EXPECT_EQ(backendNames(cfg, 1), std::vector<std::string>{"a1"});
  ASSERT_EQ(pruned.nodes_removed.size(), 1u);
  EXPECT_EQ(pruned.nodes_removed[0].name, "t1");
}

TEST(AdminOverlayTest, AppendsAddedNodeToItsLb) {
  AdminOverlay overlay;
  overlay.nodes_added = {added("api", "a2", "us-east-1", 9002)};
  overlay.nodes_added[0].backend.node_type = "edge";
  AdminOverlay pruned;
  const config::Config cfg = applyOverlay(fileConfig(), overlay, &pruned);
  EXPECT_EQ(backendNames(cfg, 1), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(cfg.loadbalancers[1].backends[1].port, 9002);
  EXPECT_EQ(cfg.loadbalancers[1].backends[1].node_type, "edge");
  EXPECT_EQ(pruned.nodes_added.size(), 1u);
}

TEST(AdminOverlayTest, SkipsAddedNodeWhoseLbIsGoneOrWhoseNameTheFileNowUses) {
  AdminOverlay overlay;
  overlay.nodes_added = {added("gone-lb", "x1", "us-east-1"), added("web", "v1", "us-east-1", 1),
                         added("web", "w2", "us-east-1"), added("web", "w2", "us-east-1", 2)};
  AdminOverlay pruned;
  const config::Config cfg = applyOverlay(fileConfig(), overlay, &pruned);
  EXPECT_EQ(backendNames(cfg, 0), (std::vector<std::string>{"t1", "v1", "w2"}));
  EXPECT_EQ(cfg.loadbalancers[0].backends[1].port, 8002);  // the file's v1
  EXPECT_EQ(cfg.loadbalancers[0].backends[2].port, 7000);  // the first w2
  ASSERT_EQ(pruned.nodes_added.size(), 1u);
  EXPECT_EQ(pruned.nodes_added[0].backend.name, "w2");
}

TEST(AdminOverlayTest, AddedNodeWithoutRegionGoesToDefault) {
  AdminOverlay overlay;
  overlay.nodes_added = {added("web", "d1", "")};
  const config::Config cfg = applyOverlay(fileConfig(), overlay);
  EXPECT_EQ(cfg.loadbalancers[0].backends.back().region, "default");
  ASSERT_EQ(cfg.geo.regions.back().id, "default");
  EXPECT_EQ(cfg.geo.regions.back().priority, 1000);
}

TEST(AdminOverlayTest, AddedNodeInUnknownRegionBringsAnImplicitRegion) {
  AdminOverlay overlay;
  overlay.nodes_added = {added("web", "m1", "mars-1"), added("api", "m2", "mars-1")};
  AdminOverlay pruned;
  const config::Config cfg = applyOverlay(fileConfig(), overlay, &pruned);
  EXPECT_EQ(regionIds(cfg), (std::vector<std::string>{"ap-northeast-1", "us-east-1", "mars-1"}));
  EXPECT_EQ(cfg.geo.regions[2].priority, 1000);
  EXPECT_EQ(cfg.geo.regions[2].display_name, "mars-1");
  EXPECT_EQ(pruned.nodes_added.size(), 2u);
}

TEST(AdminOverlayTest, AddedNodeUsesAnAddedRegion) {
  AdminOverlay overlay;
  overlay.regions_added = {region("eu-west-1", 4)};
  overlay.nodes_added = {added("web", "e1", "eu-west-1")};
  const config::Config cfg = applyOverlay(fileConfig(), overlay);
  EXPECT_EQ(regionIds(cfg), (std::vector<std::string>{"ap-northeast-1", "us-east-1", "eu-west-1"}));
  EXPECT_EQ(cfg.geo.regions[2].priority, 4);
}

TEST(AdminOverlayTest, PatchesWeightAndStateOfFileAndAddedBackends) {
  AdminOverlay overlay;
  overlay.nodes_added = {added("web", "w3", "us-east-1")};
  overlay.patches = {{"web", "t1", 7, std::nullopt},
                     {"web", "w3", std::nullopt, config::AdminState::Drain},
                     {"api", "a1", 0, config::AdminState::Disabled}};
  AdminOverlay pruned;
  const config::Config cfg = applyOverlay(fileConfig(), overlay, &pruned);
  const auto& web = cfg.loadbalancers[0].backends;
  EXPECT_EQ(web[0].weight, 7);
  EXPECT_EQ(web[0].state, config::AdminState::Enabled);
  EXPECT_EQ(web[2].weight, 100);
  EXPECT_EQ(web[2].state, config::AdminState::Drain);
  const config::Backend& a1 = cfg.loadbalancers[1].backends[0];
  EXPECT_EQ(a1.weight, 0);
  EXPECT_EQ(a1.state, config::AdminState::Disabled);
  EXPECT_EQ(pruned.patches.size(), 3u);
}

TEST(AdminOverlayTest, PrunesPatchesForMissingBackendsAndEmptyPatches) {
  AdminOverlay overlay;
  overlay.nodes_removed = {{"web", "v1"}};
  overlay.patches = {{"web", "gone", 5, std::nullopt},
                     {"gone-lb", "t1", 5, std::nullopt},
                     {"web", "v1", 5, std::nullopt},  // removed through the API
                     {"web", "t1", std::nullopt, std::nullopt}};
  AdminOverlay pruned;
  const config::Config cfg = applyOverlay(fileConfig(), overlay, &pruned);
  EXPECT_EQ(cfg.loadbalancers[0].backends[0].weight, 100);
  EXPECT_TRUE(pruned.patches.empty());
  EXPECT_EQ(pruned.nodes_removed.size(), 1u);
}

TEST(AdminOverlayTest, PrunedMayBeTheOverlayItself) {
  AdminOverlay overlay;
  overlay.regions_added = {region("eu-west-1", 4), region("us-east-1", 2)};
  overlay.nodes_added = {added("web", "w9", "eu-west-1")};
  overlay.patches = {{"web", "w9", 1, std::nullopt}, {"web", "zz", 1, std::nullopt}};
  const config::Config cfg = applyOverlay(fileConfig(), overlay, &overlay);
  EXPECT_EQ(cfg.loadbalancers[0].backends.back().weight, 1);
  EXPECT_EQ(overlay.regions_added.size(), 1u);
  EXPECT_EQ(overlay.nodes_added.size(), 1u);
  EXPECT_EQ(overlay.patches.size(), 1u);
}

TEST(AdminOverlayTest, DoesNotModifyTheFileConfig) {
  const config::Config file = fileConfig();
  AdminOverlay overlay;
  overlay.nodes_removed = {{"web", "t1"}};
  overlay.patches = {{"web", "v1", 3, std::nullopt}};
  applyOverlay(file, overlay);
  EXPECT_EQ(backendNames(file, 0), (std::vector<std::string>{"t1", "v1"}));
  EXPECT_EQ(file.loadbalancers[0].backends[1].weight, 100);
}

}  // namespace
}  // namespace fiberlb::lb
