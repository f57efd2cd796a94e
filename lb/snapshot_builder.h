#pragma once
// Turns a validated Config plus the long-lived backend objects into the immutable routing
// state workers route by.

#include <cstdint>
#include <memory>

#include "config/config.h"
#include "lb/backend_registry.h"
#include "lb/backend_state.h"
#include "lb/cluster_snapshot.h"

namespace fiberlb::lb {

// Whether `backend` may receive new traffic (SPEC §4). For now: weight > 0. Health, admin
// state and the circuit (all to be read from `state`) join here, in this one place, so the
// snapshot builder and the region logic can never disagree about it.
bool isEligible(const config::LoadBalancer& lb, const config::Backend& backend,
                const BackendState& state);

// The weight an eligible backend routes with (slow start will scale it here).
int effectiveWeight(const config::LoadBalancer& lb, const config::Backend& backend,
                    const BackendState& state);

// Builds the snapshot of `cfg`: for every LB (config order) its backends as registry objects
// (acquired, so new identities are registered), the routing region and its endpoints.
//
// Routing region, until region failover lands: geo.active_region when it has an eligible
// backend of the LB, else the region of geo.regions with the lowest `priority` (ties: lowest
// id) that has one. Regions that backends name but geo.regions lacks (impossible for a loaded
// config, which declares them implicitly) rank after all declared ones. No eligible backend
// anywhere: routing_region = "" and no endpoints (requests get 503).
//
// Control loop only (mutates `reg`). Call reg.retainOnly(*cfg) after it to forget backends
// that left the config.
std::shared_ptr<const ClusterSnapshot> buildSnapshot(std::shared_ptr<const config::Config> cfg,
                                                     BackendRegistry& reg, uint64_t generation);

}  // namespace fiberlb::lb
