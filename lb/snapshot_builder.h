#pragma once
// Turns a validated Config plus the long-lived backend objects into the immutable routing
// state workers route by.

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"
#include "lb/backend_registry.h"
#include "lb/backend_state.h"
#include "lb/cluster_snapshot.h"

namespace fiberlb::lb {

// Whether `lb` runs active health checks (a [healthcheck] table with a type other than
// "none"). Without them a backend's health stays Unknown, which then counts as eligible.
bool hasActiveChecks(const config::LoadBalancer& lb);

// Whether `backend` may receive new traffic (SPEC §4): enabled by the operator, weight > 0,
// healthy (or, without active checks, not known to be unhealthy), and its circuit not open
// (half-open counts: the breaker rations its trial requests). This is the one place eligibility is
// decided, so routing, region status and the admin API can never disagree about it. Control loop
// only (reads state.health).
bool isEligible(const config::LoadBalancer& lb, const config::Backend& backend,
                const BackendState& state);

// The weight an eligible backend routes with: its configured weight, ramped linearly from
// 10% to 100% over slow_start_sec after it last became eligible (HAProxy's slowstart). The
// first time a backend is ever eligible there is no ramp, so start-up is at full weight.
// `now_ms` is the monotonic clock. Control loop only.
int effectiveWeight(const config::LoadBalancer& lb, const config::Backend& backend,
                    const BackendState& state, int64_t now_ms = 0);

// What routing depends on besides the config and the backends' own state.
struct RoutingInputs {
  // The region the failover manager made active. "" = none chosen yet: geo.active_region,
  // or failing that the best region (priority, then id) with an eligible backend.
  std::string active_region;
  // May an LB with no eligible backend in the active region (though it has some there) serve
  // from its best serving region instead? (geo.auto_failover.) An LB with no backend at all
  // in the active region always does: otherwise it could never serve.
  bool allow_fallback = true;
  int64_t now_ms = 0;  // monotonic, for slow start
};

// Builds the snapshot of `cfg`: for every LB (config order) its backends as registry objects
// (acquired, so new identities are registered), the region status of every region (declared
// ones in config order, then regions only backends name) and, per LB, the routing region and
// its eligible endpoints. An LB routes to the active region when it has an eligible backend
// there; otherwise see RoutingInputs::allow_fallback — the fallback is the LB's best serving
// region (priority, then id) with an eligible backend. Nothing: routing_region = "" and no
// endpoints (requests get 503).
//
// Also records on each BackendState when it became eligible (for slow start). Control loop
// only (mutates `reg` and the states). Call reg.retainOnly(*cfg) after it to forget backends
// that left the config.
std::shared_ptr<const ClusterSnapshot> buildSnapshot(std::shared_ptr<const config::Config> cfg,
                                                     BackendRegistry& reg, uint64_t generation,
                                                     const RoutingInputs& inputs = {});

}  // namespace fiberlb::lb
