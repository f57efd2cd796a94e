#include "src/admin/handlers.h"

#include "src/admin/auth.h"
#include "src/admin/dashboard_html.h"

namespace fiberlb::admin {
namespace {

void addGeoRoutes(Router& router, const AdminSource* src, AdminActions* act) {
  router.add("GET", "/api/geo/status", [src](const Request&) { return geoStatusResponse(*src); });
  router.add("GET", "/api/geo/regions", [src](const Request&) { return geoRegionsResponse(*src); });
  router.add("POST", "/api/geo/regions",
             [src, act](const Request& r) { return postRegion(r, *src, *act); });
  router.add("GET", "/api/geo/regions/{region_id}",
             [src](const Request& r) { return getRegion(r, *src); });
  router.add("DELETE", "/api/geo/regions/{region_id}",
             [act](const Request& r) { return deleteRegion(r, *act); });
  router.add("GET", "/api/geo/latency-matrix",
             [src](const Request&) { return latencyMatrixResponse(*src); });
  router.add("GET", "/api/geo/replication-group/{region_id}",
             [src](const Request& r) { return replicationGroupResponse(r, *src); });
  router.add("GET", "/api/geo/active-region",
             [src](const Request&) { return getActiveRegion(*src); });
  router.add("PUT", "/api/geo/active-region",
             [src, act](const Request& r) { return putActiveRegion(r, *src, *act); });
}

void addNodeAndFailoverRoutes(Router& router, const AdminSource* src, AdminActions* act) {
  router.add("GET", "/api/geo/nodes", [src](const Request& r) { return getNodes(r, *src); });
  router.add("POST", "/api/geo/nodes",
             [src, act](const Request& r) { return postNode(r, *src, *act); });
  router.add("DELETE", "/api/geo/nodes/{node_id}",
             [act](const Request& r) { return deleteNode(r, *act); });
  router.add("POST", "/api/geo/failover",
             [act](const Request& r) { return postFailover(r, *act); });
  router.add("GET", "/api/geo/failover/history",
             [src](const Request& r) { return failoverHistoryResponse(r, *src); });
}

void addLbRoutes(Router& router, const AdminSource* src, AdminActions* act) {
  router.add("GET", "/api/loadbalancers",
             [src](const Request&) { return loadBalancersResponse(*src); });
  router.add("PATCH", "/api/loadbalancers/{lb}/backends/{name}",
             [src, act](const Request& r) { return patchBackend(r, *src, *act); });
  router.add("GET", "/api/loadbalancers/{lb}/backends/{name}/explain",
             [src](const Request& r) { return explainBackend(r, *src); });
  router.add("POST", "/api/config/reload", [act](const Request&) { return postReload(*act); });
  router.add("GET", "/api/config/reload", [src](const Request&) { return getReloadStatus(*src); });
}

}  // namespace

void addRoutes(Router& router, const AdminSource& source, AdminActions& actions) {
  const AdminSource* src = &source;
  AdminActions* act = &actions;
  // The token is read on every request so that a reload that sets or changes it applies at
  // once.
  router.setGuard([src](const Request& r) {
    return checkAdminToken(r, src->currentConfig()->server.admin_token);
  });
  router.add("GET", "/", [](const Request&) { return dashboardResponse(); });
  router.add("GET", "/health", [src](const Request&) { return healthResponse(*src); });
  router.add("GET", "/metrics", [src](const Request&) { return metricsResponse(*src); });
  addGeoRoutes(router, src, act);
  addNodeAndFailoverRoutes(router, src, act);
  addLbRoutes(router, src, act);
}

Response dashboardResponse() {
  Response r;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::string(dashboardHtml());
  // The page is self-contained: forbid it (and anything injected into it) from loading or
  // sending anything anywhere but this admin listener.
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; script-src 'unsafe-inline'; style-src "
                         "'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; "
                         "form-action 'none'; frame-ancestors 'none'");
  return r;
}

}  // namespace fiberlb::admin
