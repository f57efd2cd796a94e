#include "src/admin/handlers.h"

#include "src/admin/dashboard_html.h"

namespace fiberlb::admin {

void addRoutes(Router& router, const AdminSource& source) {
  const AdminSource* src = &source;
  router.add("GET", "/", [](const Request&) { return dashboardResponse(); });
  router.add("GET", "/health", [src](const Request&) { return healthResponse(*src); });
  router.add("GET", "/metrics", [src](const Request&) { return metricsResponse(*src); });
  router.add("GET", "/api/loadbalancers",
             [src](const Request&) { return loadBalancersResponse(*src); });
  router.add("GET", "/api/geo/status", [src](const Request&) { return geoStatusResponse(*src); });
  router.add("GET", "/api/geo/regions", [src](const Request&) { return geoRegionsResponse(*src); });
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
