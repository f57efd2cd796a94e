#pragma once
// A stand-in for the control loop in admin handler tests: a real config, registry, snapshot,
// failover manager and latency matrix, with actions that apply simple changes to the config
// and republish, so that handlers can be checked end to end without sockets or threads.

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "lb/backend_registry.h"
#include "lb/failover_manager.h"
#include "lb/geo_math.h"
#include "lb/snapshot_builder.h"
#include "src/admin/admin_source.h"
#include "src/admin/handlers.h"
#include "src/admin/http_types.h"
#include "src/admin/router.h"

namespace fiberlb::admin::testing {

inline config::Region region(std::string id, int priority, double lat, double lon) {
  config::Region r;
  r.id = std::move(id);
  r.display_name = r.id + " display";
  r.provider = "aws";
  r.priority = priority;
  r.latitude = lat;
  r.longitude = lon;
  return r;
}

inline config::Backend backend(std::string name, int port, std::string region, int weight = 100) {
  config::Backend b;
  b.name = std::move(name);
  b.address = "127.0.0.1";
  b.port = port;
  b.region = std::move(region);
  b.weight = weight;
  return b;
}

// Tokyo (p1, 2 backends), Virginia (p2, 2 backends), Ireland (p3, 1 backend); one LB "web"
// without active checks, so every backend is eligible until a test says otherwise.
inline std::shared_ptr<config::Config> threeRegionConfig() {
  auto cfg = std::make_shared<config::Config>();
  cfg->photon.component_id = "unit-admin";
  cfg->geo.regions = {region("ap-northeast-1", 1, 35.68, 139.69),
                      region("us-east-1", 2, 39.04, -77.49), region("eu-west-1", 3, 53.33, -6.25)};
  config::LoadBalancer lb;
  lb.name = "web";
  lb.healthcheck.type = config::HealthCheckType::None;
  lb.backends = {backend("t1", 8001, "ap-northeast-1"), backend("t2", 8002, "ap-northeast-1"),
                 backend("v1", 8003, "us-east-1"), backend("v2", 8004, "us-east-1"),
                 backend("e1", 8005, "eu-west-1")};
  cfg->loadbalancers.push_back(lb);
  return cfg;
}

class FakeAdmin : public AdminSource, public AdminActions {
 public:
  explicit FakeAdmin(std::shared_ptr<config::Config> cfg = threeRegionConfig())
      : config_(std::move(cfg)) {
    addRoutes(router_, *this, *this);
    publish();
  }

  // Rebuilds the snapshot of the current config (after a test changed it or some health).
  void publish() {
    auto snap = lb::buildSnapshot(config_, registry_, ++generation_,
                                  lb::RoutingInputs{failover_.active(), true, 0});
    if (failover_.active().empty() && !snap->lbs.empty() && !snap->lbs[0].routing_region.empty()) {
      failover_.setInitial(snap->lbs[0].routing_region);
      snap = lb::buildSnapshot(config_, registry_, generation_,
                               lb::RoutingInputs{failover_.active(), true, 0});
    }
    auto update = std::make_shared<proxy::WorkerUpdate>();
    update->snapshot = snap;
    update_ = update;
    std::vector<lb::GeoPoint> points;
    for (const config::Region& r : config_->geo.regions)
      points.push_back({r.id, r.latitude, r.longitude});
    latency_ = lb::LatencyMatrix(points);
  }

  config::Config& mutableConfig() {
    // Copy on write: snapshots already published keep pointing at the old one.
    config_ = std::make_shared<config::Config>(*config_);
    return *config_;
  }
  lb::BackendState& state(const std::string& lb, const std::string& name) {
    for (const auto& l : update_->snapshot->lbs)
      for (const auto& b : l.backends)
        if (l.config->name == lb && b->name() == name) return *b;
    throw std::runtime_error("no backend " + lb + "/" + name);
  }

  // Opens the circuit of `name` (LB "web") the way workers do: failure_threshold consecutive
  // 502s. The control loop is then said to have seen it open at `seen_unix_ms` (0: not yet),
  // and the snapshot is rebuilt.
  void openCircuit(const std::string& name, int64_t seen_unix_ms) {
    lb::BackendState& s = state("web", name);
    const config::CircuitBreaker& cfg = config_->loadbalancers[0].circuit_breaker;
    for (int i = 0; i < cfg.failure_threshold; ++i)
      s.circuit.recordFailure(lb::Admission::Normal, {lb::FailureCause::Status5xx, 502}, cfg,
                              kCircuitNowMs);
    ASSERT_EQ(s.circuit.state(), lb::CircuitState::Open);
    if (seen_unix_ms > 0) s.circuit_record = {lb::CircuitState::Open, seen_unix_ms};
    publish();
  }
  // Moves the open circuit of `name` to half-open, as the control loop does once
  // recovery_timeout_sec has passed, seen at `seen_unix_ms`.
  void halfOpenCircuit(const std::string& name, int64_t seen_unix_ms) {
    lb::BackendState& s = state("web", name);
    ASSERT_TRUE(s.circuit.enterHalfOpen(config_->loadbalancers[0].circuit_breaker,
                                        s.circuit.view().half_open_at_ms));
    s.circuit_record = {lb::CircuitState::HalfOpen, seen_unix_ms};
    publish();
  }

  // Dispatches one request through the routes (and the token guard).
  Response call(const std::string& method, const std::string& target, const std::string& body = "",
                std::vector<std::pair<std::string, std::string>> headers = {}) {
    Request r;
    r.method = method;
    r.target = target;
    const size_t q = target.find('?');
    r.path = target.substr(0, q);
    r.query = q == std::string::npos ? "" : target.substr(q + 1);
    r.headers = std::move(headers);
    r.body = body;
    return router_.dispatch(r);
  }

  // AdminSource
  std::shared_ptr<const proxy::WorkerUpdate> currentUpdate() const override { return update_; }
  std::shared_ptr<const config::Config> currentConfig() const override { return config_; }
  WorkerTotals workerTotals() const override { return totals; }
  const lb::FailoverManager& failover() const override { return failover_; }
  const lb::LatencyMatrix& latency() const override { return latency_; }
  ControlCounters controlCounters() const override { return counters; }

  // AdminActions: `next` (when set) answers instead of applying; every call is recorded.
  ActionResult failover(const std::string& from, const std::string& to, const std::string& reason,
                        const std::string& by) override {
    calls.push_back("failover " + from + ">" + to + " " + reason + " " + by);
    if (auto r = takeNext()) return *r;
    return manualSwitch(from, to, reason, by);
  }
  ActionResult setActiveRegion(const std::string& id) override {
    calls.push_back("active " + id);
    if (auto r = takeNext()) return *r;
    return manualSwitch("", id, "", "api");
  }
  ActionResult addRegion(const config::Region& r) override {
    calls.push_back("addRegion " + r.id);
    if (auto n = takeNext()) return *n;
    mutableConfig().geo.regions.push_back(r);
    publish();
    return created();
  }
  ActionResult deleteRegion(const std::string& id) override {
    calls.push_back("deleteRegion " + id);
    if (auto n = takeNext()) return *n;
    auto& regions = mutableConfig().geo.regions;
    std::erase_if(regions, [&](const config::Region& r) { return r.id == id; });
    publish();
    return {};
  }
  ActionResult addNode(const std::string& lb, const config::Backend& node) override {
    calls.push_back("addNode " + lb + "/" + node.name + " " + node.address + ":" +
                    std::to_string(node.port) + " w" + std::to_string(node.weight) + " " +
                    node.region + " " + node.node_type);
    if (auto n = takeNext()) return *n;
    mutableConfig().loadbalancers[0].backends.push_back(node);
    publish();
    return created();
  }
  ActionResult deleteNode(const std::string& lb, const std::string& id) override {
    calls.push_back("deleteNode " + lb + "/" + id);
    if (auto n = takeNext()) return *n;
    std::erase_if(mutableConfig().loadbalancers[0].backends,
                  [&](const config::Backend& b) { return b.name == id; });
    publish();
    return {};
  }
  ActionResult patchBackend(const std::string& lb, const std::string& name, std::optional<int> w,
                            std::optional<config::AdminState> s) override {
    calls.push_back("patch " + lb + "/" + name + " w" + (w ? std::to_string(*w) : "-") + " " +
                    (s ? config::toString(*s) : "-"));
    if (auto n = takeNext()) return *n;
    for (config::Backend& b : mutableConfig().loadbalancers[0].backends) {
      if (b.name != name) continue;
      if (w) b.weight = *w;
      if (s) b.state = *s;
    }
    publish();
    return {};
  }
  ActionResult reload() override {
    calls.push_back("reload");
    if (auto n = takeNext()) return *n;
    ActionResult r;
    r.changes.added = {"web/new"};
    r.changes.modified = {"web/t1"};
    return r;
  }

  std::optional<ActionResult> next;
  std::vector<std::string> calls;
  WorkerTotals totals;
  ControlCounters counters;

 private:
  static constexpr int64_t kCircuitNowMs = 1000;  // monotonic ms of the failures

  std::optional<ActionResult> takeNext() {
    std::optional<ActionResult> r = std::move(next);
    next.reset();
    return r;
  }
  static ActionResult created() {
    ActionResult r;
    r.status = 201;
    return r;
  }
  ActionResult manualSwitch(const std::string& from, const std::string& to,
                            const std::string& reason, const std::string& by) {
    std::string error;
    bool conflict = false;
    auto event = failover_.manualSwitch(update_->snapshot->regions, from, to, reason, by,
                                        1795000000000, &error, &conflict);
    if (!event)
      return ActionResult::fail(conflict ? 409 : 404, conflict ? "conflict" : "not_found", error);
    publish();
    ActionResult r;
    r.event = event;
    return r;
  }

  std::shared_ptr<config::Config> config_;
  lb::BackendRegistry registry_;
  lb::FailoverManager failover_;
  lb::LatencyMatrix latency_;
  std::shared_ptr<const proxy::WorkerUpdate> update_;
  uint64_t generation_ = 0;
  Router router_;
};

// The body of `r` as JSON; a parse failure fails the test.
inline Json body(const Response& r) {
  Json j = Json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.body;
  return j;
}

}  // namespace fiberlb::admin::testing
