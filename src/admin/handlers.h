#pragma once
// The admin API's handlers, one file per area (health, metrics, load balancers, geo,
// dashboard), and the table that routes to them. Every handler runs on the control loop,
// reads the published state through AdminSource and never blocks.

#include "src/admin/admin_source.h"
#include "src/admin/http_types.h"
#include "src/admin/router.h"

namespace fiberlb::admin {

// Registers every route of SPEC §8 implemented so far. `source` must outlive `router`.
void addRoutes(Router& router, const AdminSource& source);

// GET /health: 200 healthy/degraded, 503 unhealthy (no LB has an eligible endpoint).
Response healthResponse(const AdminSource& source);
// GET /metrics: Prometheus text exposition format 0.0.4.
Response metricsResponse(const AdminSource& source);
// GET /api/loadbalancers: every LB with its backends and their counters.
Response loadBalancersResponse(const AdminSource& source);
// GET /api/geo/status and GET /api/geo/regions.
Response geoStatusResponse(const AdminSource& source);
Response geoRegionsResponse(const AdminSource& source);
// GET /: the dashboard page.
Response dashboardResponse();

}  // namespace fiberlb::admin
