#pragma once
// The JSON shapes of the admin API's resources (SPEC §8), shared by every handler that
// returns them, so that a node looks the same in a list, after a POST and after a PATCH.

#include <cstdint>
#include <string>

#include "lb/failover_manager.h"
#include "src/admin/admin_source.h"
#include "src/admin/cluster_view.h"
#include "src/admin/http_types.h"

namespace fiberlb::admin {

// A region: {"region_id","display_name","provider","location":{"lat","lon"},"priority",
// "status","node_count","eligible_nodes","active","declared"} ("id" repeats region_id for
// clients of the first version of this endpoint).
Json regionJson(const RegionView& region);

// A backend as a geo node: {"node_id","loadbalancer","region_id","endpoint","node_type",
// "weight","effective_weight"(in rotation only),"health","health_reason","last_check",
// "circuit","consecutive_failures","circuit_since","admin_state","eligible","in_rotation",
// "active_requests","requests_total","failures_total"}. "circuit" is closed | open |
// half_open; "circuit_since" is when the control loop saw it change (null: never).
Json nodeJson(const LbView& lb, const BackendView& backend);

// A backend inside GET /api/loadbalancers (and the answer of PATCH), with the same
// "circuit", "consecutive_failures" and "circuit_since" as a node.
Json backendJson(const BackendView& backend);

// An LB with its real listening address and every backend.
Json lbJson(const LbView& lb);

// What the active checks know about a backend: {"status","reason","since","last_result",
// "checks_passed","checks_failed","active_checks"}.
Json healthJson(const BackendView& backend);

// {"event_id","from_region","to_region","timestamp","reason","triggered_by","success"}.
Json eventJson(const lb::FailoverEvent& event);

// When the circuit of `state` entered `current` (its state now), as the control loop saw it:
// wall-clock ms, 0 when unknown (the control loop has not seen that state yet, or never saw
// a change).
int64_t circuitSinceUnixMs(const lb::BackendState& state, lb::CircuitState current);

// An RFC 3339 UTC time of `unix_ms`, or null when it is 0 (never happened).
Json optionalTime(int64_t unix_ms);

// "host:port", with the host in brackets when it is an IPv6 literal.
std::string endpointOf(const config::Backend& backend);

// A latency in ms rounded to 2 decimals: the model is an estimate, more digits are noise.
double roundMs(double ms);

// The SPEC §8 error answer of a failed action.
Response errorFrom(const ActionResult& result);

}  // namespace fiberlb::admin
