#pragma once
// The admin API's handlers, one file per area (health, metrics, load balancers, geo, nodes,
// failover, config, dashboard), and the table that routes to them (handlers.cc). Every
// handler runs on the control loop, reads the published state through AdminSource, asks
// AdminActions for changes and never blocks.

#include "src/admin/admin_source.h"
#include "src/admin/http_types.h"
#include "src/admin/router.h"

namespace fiberlb::admin {

// Registers every route of SPEC §8 and the admin token guard. `source` and `actions` must
// outlive `router`.
void addRoutes(Router& router, const AdminSource& source, AdminActions& actions);

// GET /health: 200 healthy/degraded, 503 unhealthy (no region serving).
Response healthResponse(const AdminSource& source);
// GET /metrics: Prometheus text exposition format 0.0.4.
Response metricsResponse(const AdminSource& source);
// GET /: the dashboard page.
Response dashboardResponse();

// geo_handlers.cc
Response geoStatusResponse(const AdminSource& source);
Response geoRegionsResponse(const AdminSource& source);
Response getRegion(const Request& request, const AdminSource& source);
Response postRegion(const Request& request, const AdminSource& source, AdminActions& actions);
Response deleteRegion(const Request& request, AdminActions& actions);
Response latencyMatrixResponse(const AdminSource& source);
Response replicationGroupResponse(const Request& request, const AdminSource& source);
Response getActiveRegion(const AdminSource& source);
Response putActiveRegion(const Request& request, const AdminSource& source, AdminActions& actions);

// node_handlers.cc
Response getNodes(const Request& request, const AdminSource& source);
Response postNode(const Request& request, const AdminSource& source, AdminActions& actions);
Response deleteNode(const Request& request, AdminActions& actions);

// failover_handlers.cc
Response postFailover(const Request& request, AdminActions& actions);
Response failoverHistoryResponse(const Request& request, const AdminSource& source);

// lb_handlers.cc
Response loadBalancersResponse(const AdminSource& source);
Response patchBackend(const Request& request, const AdminSource& source, AdminActions& actions);
Response explainBackend(const Request& request, const AdminSource& source);

// config_handlers.cc
Response postReload(AdminActions& actions);
Response getReloadStatus(const AdminSource& source);

}  // namespace fiberlb::admin
