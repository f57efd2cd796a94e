#include "lb/snapshot_builder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "lb/backend_registry.h"
#include "lb/circuit_breaker.h"
#include "lb/cluster_snapshot.h"
#include "lb/picker.h"

namespace fiberlb::lb {
namespace {

config::Region region(std::string id, int priority) {
  config::Region r;
  r.id = std::move(id);
  r.priority = priority;
  return r;
}

config::Backend backend(std::string name, int port, std::string region, int weight = 100) {
  config::Backend b;
  b.name = std::move(name);
  b.address = "127.0.0.1";
  b.port = port;
  b.region = std::move(region);
  b.weight = weight;
  return b;
}

config::LoadBalancer lb(std::string name, std::vector<config::Backend> backends,
                        config::Method method = config::Method::RoundRobin) {
  config::LoadBalancer l;
  l.name = std::move(name);
  l.method = method;
  l.backends = std::move(backends);
  return l;
}

// Tokyo (p1) and Virginia (p2), plus one LB with two backends in each.
std::shared_ptr<config::Config> twoRegionConfig() {
  auto cfg = std::make_shared<config::Config>();
  cfg->geo.regions = {region("us-east-1", 2), region("ap-northeast-1", 1)};
  cfg->loadbalancers.push_back(
      lb("web", {backend("t1", 8001, "ap-northeast-1", 3), backend("v1", 8002, "us-east-1"),
                 backend("t2", 8003, "ap-northeast-1", 1), backend("v2", 8004, "us-east-1", 5)}));
  return cfg;
}

std::vector<std::string> endpointNames(const LbSnapshot& s) {
  std::vector<std::string> out;
  for (const Endpoint& e : s.endpoints)
    out.push_back(e.backend->name());
  return out;
}

// Opens `state`'s circuit the way workers do: failure_threshold consecutive failures.
void openCircuit(BackendState& state, const config::CircuitBreaker& cfg, int64_t now_ms = 1000) {
  for (int i = 0; i < cfg.failure_threshold; ++i)
    state.circuit.recordFailure(Admission::Normal, FailureInfo{FailureCause::Refused, 0}, cfg,
                                now_ms);
  ASSERT_EQ(state.circuit.state(), CircuitState::Open);
}

TEST(SnapshotBuilderTest, RoutesToHighestPriorityRegion) {
  auto cfg = twoRegionConfig();
  BackendRegistry reg;
  auto snap = buildSnapshot(cfg, reg, 7);
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->generation, 7u);
  EXPECT_EQ(snap->config, cfg);
  ASSERT_EQ(snap->lbs.size(), 1u);
  const LbSnapshot& web = snap->lbs[0];
  EXPECT_EQ(web.config, &snap->config->loadbalancers[0]);
  EXPECT_EQ(web.routing_region, "ap-northeast-1");
  EXPECT_EQ(endpointNames(web), (std::vector<std::string>{"t1", "t2"}));
  EXPECT_EQ(web.endpoints[0].weight, 3);
  EXPECT_EQ(web.endpoints[1].weight, 1);
  // All backends, config order, registry objects.
  ASSERT_EQ(web.backends.size(), 4u);
  const std::vector<std::string> names = {"t1", "v1", "t2", "v2"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(web.backends[i]->name(), names[i]);
    EXPECT_EQ(web.backends[i], reg.find("web", names[i], "127.0.0.1", web.backends[i]->port()));
  }
  EXPECT_EQ(web.endpoints[0].backend, web.backends[0].get());
  EXPECT_EQ(reg.slotCount(), 4u);
}

TEST(SnapshotBuilderTest, ZeroWeightBackendsAreNotEndpoints) {
  auto cfg = twoRegionConfig();
  cfg->loadbalancers[0].backends[2].weight = 0;  // t2
  BackendRegistry reg;
  auto snap = buildSnapshot(cfg, reg, 1);
  EXPECT_EQ(snap->lbs[0].routing_region, "ap-northeast-1");
  EXPECT_EQ(endpointNames(snap->lbs[0]), (std::vector<std::string>{"t1"}));
  EXPECT_EQ(snap->lbs[0].backends.size(), 4u);  // still listed, just not routed to
}

TEST(SnapshotBuilderTest, SkipsRegionWithoutEligibleBackend) {
  auto cfg = twoRegionConfig();
  cfg->loadbalancers[0].backends[0].weight = 0;
  cfg->loadbalancers[0].backends[2].weight = 0;
  BackendRegistry reg;
  auto snap = buildSnapshot(cfg, reg, 1);
  EXPECT_EQ(snap->lbs[0].routing_region, "us-east-1");
  EXPECT_EQ(endpointNames(snap->lbs[0]), (std::vector<std::string>{"v1", "v2"}));
}

TEST(SnapshotBuilderTest, ActiveRegionWinsWhenItHasEligibleBackends) {
  auto cfg = twoRegionConfig();
  cfg->geo.active_region = "us-east-1";
  BackendRegistry reg;
  auto snap = buildSnapshot(cfg, reg, 1);
  EXPECT_EQ(snap->lbs[0].routing_region, "us-east-1");
  EXPECT_EQ(endpointNames(snap->lbs[0]), (std::vector<std::string>{"v1", "v2"}));
}

TEST(SnapshotBuilderTest, ActiveRegionWithoutEligibleBackendFallsBackToPriority) {
  auto cfg = twoRegionConfig();
  cfg->geo.active_region = "us-east-1";
  cfg->loadbalancers[0].backends[1].weight = 0;
  cfg->loadbalancers[0].backends[3].weight = 0;
  BackendRegistry reg;
  auto snap = buildSnapshot(cfg, reg, 1);
  EXPECT_EQ(snap->lbs[0].routing_region, "ap-northeast-1");
}

TEST(SnapshotBuilderTest, PriorityTiesGoToLowestRegionId) {
  auto cfg = std::make_shared<config::Config>();
  cfg->geo.regions = {region("zz", 1), region("mm", 1), region("aa", 3)};
  cfg->loadbalancers.push_back(
      lb("x", {backend("a", 1, "aa"), backend("z", 2, "zz"), backend("m", 3, "mm")}));
  BackendRegistry reg;
  EXPECT_EQ(buildSnapshot(cfg, reg, 1)->lbs[0].routing_region, "mm");
}

TEST(SnapshotBuilderTest, EachLbChoosesItsOwnRegion) {
  auto cfg = twoRegionConfig();
  // api has backends only in Virginia.
  cfg->loadbalancers.push_back(
      lb("api", {backend("a1", 9001, "us-east-1", 2)}, config::Method::LeastConn));
  BackendRegistry reg;
  auto snap = buildSnapshot(cfg, reg, 1);
  ASSERT_EQ(snap->lbs.size(), 2u);
  EXPECT_EQ(snap->lbs[0].routing_region, "ap-northeast-1");
  EXPECT_EQ(snap->lbs[1].routing_region, "us-east-1");
  EXPECT_EQ(snap->lbs[1].config, &cfg->loadbalancers[1]);
  EXPECT_EQ(endpointNames(snap->lbs[1]), (std::vector<std::string>{"a1"}));
}

TEST(SnapshotBuilderTest, NoEligibleBackendMeansNoEndpoints) {
  auto cfg = twoRegionConfig();
  for (auto& b : cfg->loadbalancers[0].backends)
    b.weight = 0;
  cfg->loadbalancers.push_back(lb("empty", {}));
  BackendRegistry reg;
  auto snap = buildSnapshot(cfg, reg, 1);
  for (const LbSnapshot& s : snap->lbs) {
    EXPECT_EQ(s.routing_region, "");
    EXPECT_TRUE(s.endpoints.empty());
    auto picker = policyFor(s.config->method).makePicker(s.endpoints);
    EXPECT_EQ(picker->pick(PickContext{}), nullptr);
  }
}

TEST(SnapshotBuilderTest, UndeclaredRegionsStillRoute) {
  // A hand-built config without geo.regions (the loader would have declared them).
  auto cfg = std::make_shared<config::Config>();
  cfg->loadbalancers.push_back(lb("x", {backend("b", 1, ""), backend("c", 2, "zone-b")}));
  BackendRegistry reg;
  auto snap = buildSnapshot(cfg, reg, 1);
  EXPECT_EQ(snap->lbs[0].routing_region, "default");
  EXPECT_EQ(endpointNames(snap->lbs[0]), (std::vector<std::string>{"b"}));
}

TEST(SnapshotBuilderTest, RebuildKeepsBackendObjectsAcrossReload) {
  auto cfg1 = twoRegionConfig();
  BackendRegistry reg;
  auto snap1 = buildSnapshot(cfg1, reg, 1);
  reg.retainOnly(*cfg1);
  snap1->lbs[0].backends[0]->active_requests.fetch_add(2);

  // Reload: t1's weight changes (same identity), t2 moves port (new identity), v2 leaves.
  auto cfg2 = twoRegionConfig();
  cfg2->loadbalancers[0].backends[0].weight = 10;
  cfg2->loadbalancers[0].backends[2].port = 8103;
  cfg2->loadbalancers[0].backends.pop_back();
  auto snap2 = buildSnapshot(cfg2, reg, 2);
  reg.retainOnly(*cfg2);

  EXPECT_EQ(snap2->generation, 2u);
  const LbSnapshot& web = snap2->lbs[0];
  EXPECT_EQ(web.backends[0], snap1->lbs[0].backends[0]);
  EXPECT_EQ(web.backends[0]->active_requests.load(), 2);
  EXPECT_EQ(web.backends[1], snap1->lbs[0].backends[1]);
  EXPECT_NE(web.backends[2], snap1->lbs[0].backends[2]);
  EXPECT_EQ(web.backends[2]->slot(), 4u);
  EXPECT_EQ(web.endpoints[0].weight, 10);
  EXPECT_EQ(reg.size(), 3u);
  // The old snapshot still owns its objects and config: in-flight work is unaffected.
  EXPECT_EQ(snap1->lbs[0].backends[3]->name(), "v2");
  EXPECT_EQ(snap1->lbs[0].config->backends.size(), 4u);
}

TEST(SnapshotBuilderTest, EndpointsDriveThePolicyPicker) {
  auto cfg = twoRegionConfig();
  BackendRegistry reg;
  auto snap = buildSnapshot(cfg, reg, 1);
  const LbSnapshot& web = snap->lbs[0];
  auto picker = policyFor(web.config->method).makePicker(web.endpoints);
  int t1 = 0, t2 = 0;
  for (int i = 0; i < 400; ++i) {
    BackendState* b = picker->pick(PickContext{});
    ASSERT_NE(b, nullptr);
    (b->name() == "t1" ? t1 : t2)++;
    EXPECT_TRUE(b->name() == "t1" || b->name() == "t2");
  }
  EXPECT_EQ(t1, 300);
  EXPECT_EQ(t2, 100);
}

TEST(SnapshotBuilderTest, EligibilityFollowsWeightAdminStateAndHealth) {
  config::LoadBalancer l;
  BackendState s("lb", "b", "127.0.0.1", 1, 0);
  // No active checks: Unknown health is eligible, Unhealthy is not.
  EXPECT_TRUE(isEligible(l, backend("b", 1, "r", 1), s));
  EXPECT_FALSE(isEligible(l, backend("b", 1, "r", 0), s));
  s.health.health = Health::Unhealthy;
  EXPECT_FALSE(isEligible(l, backend("b", 1, "r", 1), s));

  // With active checks only Healthy is eligible.
  l.healthcheck.configured = true;
  s.health.health = Health::Unknown;
  EXPECT_FALSE(isEligible(l, backend("b", 1, "r", 1), s));
  s.health.health = Health::Healthy;
  EXPECT_TRUE(isEligible(l, backend("b", 1, "r", 1), s));
  l.healthcheck.type = config::HealthCheckType::None;  // "none" = no active checks
  s.health.health = Health::Unknown;
  EXPECT_TRUE(isEligible(l, backend("b", 1, "r", 1), s));

  config::Backend drained = backend("b", 1, "r", 1);
  drained.state = config::AdminState::Drain;
  EXPECT_FALSE(isEligible(l, drained, s));
  drained.state = config::AdminState::Disabled;
  EXPECT_FALSE(isEligible(l, drained, s));
  EXPECT_EQ(effectiveWeight(l, backend("b", 1, "r", 250), s), 250);
}

TEST(SnapshotBuilderTest, SlowStartRampsOnlyAfterComingBack) {
  auto cfg = twoRegionConfig();
  cfg->loadbalancers[0].healthcheck.slow_start_sec = 10;
  BackendRegistry reg;
  RoutingInputs in;
  in.now_ms = 1000;
  auto snap = buildSnapshot(cfg, reg, 1, in);
  EXPECT_EQ(snap->lbs[0].endpoints[0].weight, 3);  // first eligibility: no ramp
  EXPECT_FALSE(snap->ramping);

  BackendState& t1 = *snap->lbs[0].backends[0];
  t1.health.health = Health::Unhealthy;
  in.now_ms = 2000;
  EXPECT_EQ(endpointNames(buildSnapshot(cfg, reg, 2, in)->lbs[0]),
            (std::vector<std::string>{"t2"}));
  t1.health.health = Health::Unknown;  // back (no active checks: unknown is eligible)
  in.now_ms = 3000;
  auto ramp = buildSnapshot(cfg, reg, 3, in);
  EXPECT_TRUE(ramp->ramping);
  EXPECT_EQ(ramp->lbs[0].endpoints[0].weight, 1);  // 10% of 3, at least 1
  cfg->loadbalancers[0].backends[0].weight = 100;
  in.now_ms = 8000;  // half way
  EXPECT_EQ(buildSnapshot(cfg, reg, 4, in)->lbs[0].endpoints[0].weight, 50);
  in.now_ms = 13000;
  auto done = buildSnapshot(cfg, reg, 5, in);
  EXPECT_EQ(done->lbs[0].endpoints[0].weight, 100);
  EXPECT_FALSE(done->ramping);
}

TEST(SnapshotBuilderTest, RegionStatusesCoverEveryRegion) {
  auto cfg = twoRegionConfig();
  cfg->geo.failover_threshold = 0.6;
  cfg->loadbalancers[0].backends[0].weight = 0;  // t1: Tokyo has 1 of 2 eligible
  BackendRegistry reg;
  auto snap = buildSnapshot(cfg, reg, 1);
  ASSERT_EQ(snap->regions.size(), 2u);
  const RegionState* tokyo = findRegion(snap->regions, "ap-northeast-1");
  const RegionState* virginia = findRegion(snap->regions, "us-east-1");
  ASSERT_NE(tokyo, nullptr);
  ASSERT_NE(virginia, nullptr);
  EXPECT_EQ(tokyo->counts.nodes, 2u);
  EXPECT_EQ(tokyo->counts.eligible, 1u);
  EXPECT_EQ(tokyo->status, RegionStatus::Offline);  // 0.5 < 0.6
  EXPECT_EQ(virginia->status, RegionStatus::Online);
}

TEST(SnapshotBuilderTest, AwaitingFirstCheckIsUnknownNotOffline) {
  auto cfg = twoRegionConfig();
  cfg->loadbalancers[0].healthcheck.configured = true;
  BackendRegistry reg;
  auto snap = buildSnapshot(cfg, reg, 1);
  for (const RegionState& r : snap->regions)
    EXPECT_EQ(r.status, RegionStatus::Unknown) << r.id;
  EXPECT_TRUE(snap->lbs[0].endpoints.empty());
}

TEST(SnapshotBuilderTest, GivenActiveRegionIsStrictWithoutFallback) {
  auto cfg = twoRegionConfig();
  cfg->loadbalancers[0].backends[1].weight = 0;  // v1
  cfg->loadbalancers[0].backends[3].weight = 0;  // v2: Virginia has nothing eligible
  BackendRegistry reg;
  RoutingInputs in;
  in.active_region = "us-east-1";
  in.allow_fallback = false;
  auto strict = buildSnapshot(cfg, reg, 1, in);
  EXPECT_EQ(strict->active_region, "us-east-1");
  EXPECT_EQ(strict->lbs[0].routing_region, "us-east-1");
  EXPECT_TRUE(strict->lbs[0].endpoints.empty());

  in.allow_fallback = true;
  EXPECT_EQ(buildSnapshot(cfg, reg, 2, in)->lbs[0].routing_region, "ap-northeast-1");
}

TEST(SnapshotBuilderTest, LbWithoutBackendsInActiveRegionServesFromItsOwn) {
  auto cfg = twoRegionConfig();
  cfg->loadbalancers.push_back(lb("api", {backend("a1", 9001, "us-east-1")}));
  BackendRegistry reg;
  RoutingInputs in;
  in.active_region = "ap-northeast-1";
  in.allow_fallback = false;
  auto snap = buildSnapshot(cfg, reg, 1, in);
  EXPECT_EQ(snap->lbs[0].routing_region, "ap-northeast-1");
  EXPECT_EQ(snap->lbs[1].routing_region, "us-east-1");
  EXPECT_EQ(endpointNames(snap->lbs[1]), (std::vector<std::string>{"a1"}));
}

TEST(SnapshotBuilderTest, StandbyIsTheNextServingRegionForRetries) {
  auto cfg = twoRegionConfig();
  BackendRegistry reg;
  RoutingInputs in;
  in.active_region = "ap-northeast-1";
  auto snap = buildSnapshot(cfg, reg, 1, in);
  EXPECT_EQ(snap->lbs[0].standby_region, "us-east-1");
  std::vector<std::string> standby;
  for (const Endpoint& e : snap->lbs[0].standby)
    standby.push_back(e.backend->name());
  EXPECT_EQ(standby, (std::vector<std::string>{"v1", "v2"}));

  in.allow_fallback = false;  // no auto failover: no cross-region retries either
  auto strict = buildSnapshot(cfg, reg, 2, in);
  EXPECT_TRUE(strict->lbs[0].standby.empty());
  EXPECT_EQ(strict->lbs[0].standby_region, "");
}

TEST(SnapshotBuilderTest, OpenCircuitIsNotEligibleButHalfOpenIs) {
  config::LoadBalancer l;
  BackendState s("lb", "b", "127.0.0.1", 1, 0);
  EXPECT_TRUE(isEligible(l, backend("b", 1, "r"), s));
  openCircuit(s, l.circuit_breaker, 1000);
  EXPECT_FALSE(isEligible(l, backend("b", 1, "r"), s));
  ASSERT_TRUE(s.circuit.enterHalfOpen(l.circuit_breaker, s.circuit.view().half_open_at_ms));
  EXPECT_TRUE(isEligible(l, backend("b", 1, "r"), s));
}

TEST(SnapshotBuilderTest, BackendWithOpenCircuitIsNotAnEndpoint) {
  auto cfg = twoRegionConfig();
  const config::CircuitBreaker& breaker = cfg->loadbalancers[0].circuit_breaker;
  BackendRegistry reg;
  BackendState& t1 = *buildSnapshot(cfg, reg, 1)->lbs[0].backends[0];
  openCircuit(t1, breaker);
  auto open = buildSnapshot(cfg, reg, 2);
  EXPECT_EQ(open->lbs[0].routing_region, "ap-northeast-1");
  EXPECT_EQ(endpointNames(open->lbs[0]), (std::vector<std::string>{"t2"}));
  EXPECT_EQ(open->lbs[0].backends.size(), 4u);  // still listed
  const RegionState* tokyo = findRegion(open->regions, "ap-northeast-1");
  ASSERT_NE(tokyo, nullptr);
  EXPECT_EQ(tokyo->counts.eligible, 1u);

  ASSERT_TRUE(t1.circuit.enterHalfOpen(breaker, t1.circuit.view().half_open_at_ms));
  EXPECT_EQ(endpointNames(buildSnapshot(cfg, reg, 3)->lbs[0]),
            (std::vector<std::string>{"t1", "t2"}));
}

TEST(SnapshotBuilderTest, RegionWithEveryCircuitOpenIsOffline) {
  auto cfg = twoRegionConfig();
  const config::CircuitBreaker& breaker = cfg->loadbalancers[0].circuit_breaker;
  BackendRegistry reg;
  auto first = buildSnapshot(cfg, reg, 1);
  openCircuit(*first->lbs[0].backends[0], breaker);  // t1
  openCircuit(*first->lbs[0].backends[2], breaker);  // t2
  auto snap = buildSnapshot(cfg, reg, 2);
  const RegionState* tokyo = findRegion(snap->regions, "ap-northeast-1");
  const RegionState* virginia = findRegion(snap->regions, "us-east-1");
  ASSERT_NE(tokyo, nullptr);
  ASSERT_NE(virginia, nullptr);
  EXPECT_EQ(tokyo->counts.nodes, 2u);
  EXPECT_EQ(tokyo->counts.eligible, 0u);
  EXPECT_EQ(tokyo->status, RegionStatus::Offline);
  EXPECT_EQ(virginia->status, RegionStatus::Online);
  EXPECT_EQ(snap->lbs[0].routing_region, "us-east-1");
  EXPECT_EQ(endpointNames(snap->lbs[0]), (std::vector<std::string>{"v1", "v2"}));
}

}  // namespace
}  // namespace fiberlb::lb
