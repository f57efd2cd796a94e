#pragma once
// Why a backend does or does not receive traffic (GET /api/loadbalancers/{lb}/backends/
// {name}/explain): the SPEC §4 eligibility rules and the routing region applied to one
// backend, as sentences an operator can act on and as the data behind them.

#include <string>
#include <vector>

#include "src/admin/cluster_view.h"
#include "src/admin/http_types.h"

namespace fiberlb::admin {

// Every reason `backend` of `lb` is not eligible or not in rotation; empty when it serves.
std::vector<std::string> explainReasons(const ClusterView& view, const LbView& lb,
                                        const BackendView& backend);

// {"loadbalancer","backend","eligible","in_rotation","reasons","summary","health",
// "admin_state","weight","effective_weight","circuit","region","region_status",
// "routing_region","active_region"}. "circuit" is {"state","consecutive_failures",
// "failure_threshold","last_failure","since","half_open_at","recovery_timeout_sec",
// "half_open_max_requests"} (last_failure, since, half_open_at: null when unknown;
// half_open_at is set only while open).
Json explainJson(const ClusterView& view, const LbView& lb, const BackendView& backend);

}  // namespace fiberlb::admin
