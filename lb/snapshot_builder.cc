#include "lb/snapshot_builder.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fiberlb::lb {

bool isEligible(const config::LoadBalancer& /*lb*/, const config::Backend& backend,
                const BackendState& /*state*/) {
  return backend.weight > 0;
}

int effectiveWeight(const config::LoadBalancer& /*lb*/, const config::Backend& backend,
                    const BackendState& /*state*/) {
  return backend.weight;
}

namespace {

// The validator turns an empty region into "default"; hand-built configs may not.
std::string_view regionOf(const config::Backend& b) {
  return b.region.empty() ? std::string_view("default") : std::string_view(b.region);
}

// Does `lb` have an eligible backend in `region`?
bool hasEligible(const config::LoadBalancer& lb, const std::vector<BackendState::Ptr>& states,
                 std::string_view region) {
  for (size_t i = 0; i < lb.backends.size(); ++i)
    if (regionOf(lb.backends[i]) == region && isEligible(lb, lb.backends[i], *states[i]))
      return true;
  return false;
}

std::string chooseRegion(const config::Geo& geo, const config::LoadBalancer& lb,
                         const std::vector<BackendState::Ptr>& states) {
  if (!geo.active_region.empty() && hasEligible(lb, states, geo.active_region))
    return geo.active_region;

  // Lowest priority number wins; ties go to the lowest id. A handful of regions: linear.
  const config::Region* best = nullptr;
  for (const config::Region& r : geo.regions) {
    if (best != nullptr && std::pair(r.priority, std::string_view(r.id)) >=
                               std::pair(best->priority, std::string_view(best->id)))
      continue;
    if (hasEligible(lb, states, r.id)) best = &r;
  }
  if (best != nullptr) return best->id;

  // Undeclared regions (only in configs that skipped the loader): lowest id with an eligible
  // backend, so routing still works and stays deterministic.
  std::string_view fallback;
  bool found = false;
  for (size_t i = 0; i < lb.backends.size(); ++i) {
    const std::string_view region = regionOf(lb.backends[i]);
    if (!isEligible(lb, lb.backends[i], *states[i])) continue;
    if (!found || region < fallback) {
      fallback = region;
      found = true;
    }
  }
  return std::string(fallback);
}

}  // namespace

std::shared_ptr<const ClusterSnapshot> buildSnapshot(std::shared_ptr<const config::Config> cfg,
                                                     BackendRegistry& reg, uint64_t generation) {
  auto snap = std::make_shared<ClusterSnapshot>();
  snap->generation = generation;
  snap->config = cfg;
  if (!cfg) return snap;

  snap->lbs.reserve(cfg->loadbalancers.size());
  for (const config::LoadBalancer& lb : cfg->loadbalancers) {
    LbSnapshot& ls = snap->lbs.emplace_back();
    ls.config = &lb;  // `lb` lives in *cfg, which the snapshot owns
    ls.backends.reserve(lb.backends.size());
    for (const config::Backend& b : lb.backends)
      ls.backends.push_back(reg.acquire(lb.name, b.name, b.address, b.port));

    ls.routing_region = chooseRegion(cfg->geo, lb, ls.backends);
    if (ls.routing_region.empty()) continue;
    for (size_t i = 0; i < lb.backends.size(); ++i) {
      const config::Backend& b = lb.backends[i];
      BackendState& state = *ls.backends[i];
      if (regionOf(b) != ls.routing_region || !isEligible(lb, b, state)) continue;
      ls.endpoints.push_back(Endpoint{&state, effectiveWeight(lb, b, state)});
    }
  }
  return snap;
}

}  // namespace fiberlb::lb
