#include "lb/snapshot_builder.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fiberlb::lb {
namespace {

// Slow start begins at this fraction of the weight (a zero weight would not be a ramp).
constexpr double kSlowStartFloor = 0.1;

// The validator turns an empty region into "default"; hand-built configs may not.
std::string_view regionOf(const config::Backend& b) {
  return b.region.empty() ? std::string_view("default") : std::string_view(b.region);
}

RegionState* findMutable(std::vector<RegionState>& regions, std::string_view id) {
  for (RegionState& r : regions)
    if (r.id == id) return &r;
  return nullptr;
}

// Region entries for the declared regions and any a backend names without declaring.
std::vector<RegionState> regionTable(const config::Config& cfg) {
  std::vector<RegionState> regions;
  regions.reserve(cfg.geo.regions.size());
  for (const config::Region& r : cfg.geo.regions)
    regions.push_back(RegionState{r.id, r.priority, r.latitude, r.longitude, {}, {}});
  for (const config::LoadBalancer& lb : cfg.loadbalancers) {
    for (const config::Backend& b : lb.backends) {
      if (findMutable(regions, regionOf(b)) != nullptr) continue;
      RegionState& r = regions.emplace_back();
      r.id = std::string(regionOf(b));
      r.priority = config::Region{}.priority;
    }
  }
  return regions;
}

// Marks when each backend became eligible, for slow start. The first eligibility of a
// backend's life starts already ramped (no slow start at boot or for a new backend).
void trackEligibility(BackendState& state, bool eligible, const config::LoadBalancer& lb,
                      int64_t now_ms) {
  HealthRecord& h = state.health;
  if (!eligible) {
    h.eligible_since_ms = -1;
    return;
  }
  if (h.eligible_since_ms >= 0) return;
  const bool first_time = !h.was_eligible;
  h.was_eligible = true;
  const auto ramp_ms = static_cast<int64_t>(lb.healthcheck.slow_start_sec * 1000);
  h.eligible_since_ms = first_time ? now_ms - ramp_ms : now_ms;
}

bool hasEligibleIn(const config::LoadBalancer& lb, const std::vector<char>& eligible,
                   std::string_view region) {
  for (size_t i = 0; i < lb.backends.size(); ++i)
    if (eligible[i] && regionOf(lb.backends[i]) == region) return true;
  return false;
}

// The best region (priority, then id) among `regions` with an eligible backend of this LB,
// other than `excluded`, considering only serving regions when `serving_only`.
std::string bestRegionFor(const config::LoadBalancer& lb, const std::vector<char>& eligible,
                          const std::vector<RegionState>& regions, bool serving_only,
                          std::string_view excluded = {}) {
  const RegionState* best = nullptr;
  for (const RegionState& r : regions) {
    if ((serving_only && !isServing(r.status)) || (!excluded.empty() && r.id == excluded)) continue;
    if (best != nullptr && std::pair(r.priority, std::string_view(r.id)) >=
                               std::pair(best->priority, std::string_view(best->id)))
      continue;
    if (hasEligibleIn(lb, eligible, r.id)) best = &r;
  }
  return best != nullptr ? best->id : std::string();
}

std::string chooseRegion(const config::LoadBalancer& lb, const std::vector<char>& eligible,
                         const std::vector<RegionState>& regions, std::string_view active,
                         bool allow_fallback) {
  if (active.empty()) return bestRegionFor(lb, eligible, regions, false);
  if (hasEligibleIn(lb, eligible, active)) return std::string(active);
  bool has_backend_there = false;
  for (const config::Backend& b : lb.backends)
    has_backend_there = has_backend_there || regionOf(b) == active;
  if (has_backend_there && !allow_fallback) return std::string(active);
  std::string fallback = bestRegionFor(lb, eligible, regions, true);
  return fallback.empty() ? std::string(active) : fallback;
}

}  // namespace

bool hasActiveChecks(const config::LoadBalancer& lb) {
  return lb.healthcheck.configured && lb.healthcheck.type != config::HealthCheckType::None;
}

bool isEligible(const config::LoadBalancer& lb, const config::Backend& backend,
                const BackendState& state) {
  if (backend.weight <= 0 || backend.state != config::AdminState::Enabled) return false;
  // Half-open stays eligible: its trial requests are rationed by the breaker itself.
  if (state.circuit.state() == CircuitState::Open) return false;
  if (hasActiveChecks(lb)) return state.health.health == Health::Healthy;
  return state.health.health != Health::Unhealthy;
}

int effectiveWeight(const config::LoadBalancer& lb, const config::Backend& backend,
                    const BackendState& state, int64_t now_ms) {
  const double ramp_ms = lb.healthcheck.slow_start_sec * 1000;
  const int64_t since = state.health.eligible_since_ms;
  if (ramp_ms <= 0 || since < 0) return backend.weight;
  const double elapsed = static_cast<double>(now_ms - since);
  if (elapsed >= ramp_ms) return backend.weight;
  const double fraction = std::max(kSlowStartFloor, elapsed / ramp_ms);
  return std::max(1, static_cast<int>(backend.weight * fraction));
}

std::shared_ptr<const ClusterSnapshot> buildSnapshot(std::shared_ptr<const config::Config> cfg,
                                                     BackendRegistry& reg, uint64_t generation,
                                                     const RoutingInputs& inputs) {
  auto snap = std::make_shared<ClusterSnapshot>();
  snap->generation = generation;
  snap->config = cfg;
  if (!cfg) return snap;
  snap->regions = regionTable(*cfg);

  // Pass 1: backend objects, eligibility and region counts over every LB.
  std::vector<std::vector<char>> eligible(cfg->loadbalancers.size());
  snap->lbs.reserve(cfg->loadbalancers.size());
  for (size_t l = 0; l < cfg->loadbalancers.size(); ++l) {
    const config::LoadBalancer& lb = cfg->loadbalancers[l];
    LbSnapshot& ls = snap->lbs.emplace_back();
    ls.config = &lb;  // `lb` lives in *cfg, which the snapshot owns
    ls.stats = reg.acquireLbStats(lb.name);
    ls.backends.reserve(lb.backends.size());
    eligible[l].resize(lb.backends.size());
    for (size_t i = 0; i < lb.backends.size(); ++i) {
      const config::Backend& b = lb.backends[i];
      BackendState::Ptr state = reg.acquire(lb.name, b.name, b.address, b.port);
      const bool ok = isEligible(lb, b, *state);
      eligible[l][i] = ok ? 1 : 0;
      trackEligibility(*state, ok, lb, inputs.now_ms);
      RegionCounts& counts = findMutable(snap->regions, regionOf(b))->counts;
      counts.nodes++;
      counts.eligible += ok ? 1 : 0;
      if (hasActiveChecks(lb) && state->health.health == Health::Unknown)
        counts.awaiting_first_check++;
      ls.backends.push_back(std::move(state));
    }
  }
  for (RegionState& r : snap->regions)
    r.status = statusOf(r.counts, cfg->geo.failover_threshold);

  // Pass 2: routing region and endpoints per LB.
  std::string_view active = inputs.active_region;
  if (active.empty()) active = cfg->geo.active_region;
  snap->active_region = std::string(inputs.active_region);
  for (size_t l = 0; l < snap->lbs.size(); ++l) {
    LbSnapshot& ls = snap->lbs[l];
    const config::LoadBalancer& lb = *ls.config;
    ls.eligible = eligible[l];
    ls.routing_region = chooseRegion(lb, eligible[l], snap->regions, active, inputs.allow_fallback);
    if (inputs.allow_fallback)
      ls.standby_region = bestRegionFor(lb, eligible[l], snap->regions, true, ls.routing_region);
    for (size_t i = 0; i < lb.backends.size(); ++i) {
      if (!eligible[l][i]) continue;
      const std::string_view region = regionOf(lb.backends[i]);
      const bool routed = region == ls.routing_region;
      if (!routed && (ls.standby_region.empty() || region != ls.standby_region)) continue;
      BackendState& state = *ls.backends[i];
      const int weight = effectiveWeight(lb, lb.backends[i], state, inputs.now_ms);
      snap->ramping = snap->ramping || weight < lb.backends[i].weight;
      (routed ? ls.endpoints : ls.standby).push_back(Endpoint{&state, weight});
    }
  }
  return snap;
}

}  // namespace fiberlb::lb
