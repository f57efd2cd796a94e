// GET /api/loadbalancers: every LB with its real listening address and its backends, with
// the counters an operator looks at first. PATCH and explain (SPEC §8) will join here.

#include "src/admin/cluster_view.h"
#include "src/admin/handlers.h"

namespace fiberlb::admin {
namespace {

Json backendJson(const BackendView& b) {
  const config::Backend& c = *b.config;
  const lb::BackendState& s = *b.state;
  return Json{
      {"name", c.name},
      {"address", c.address},
      {"port", c.port},
      {"weight", c.weight},
      {"region", c.region.empty() ? "default" : c.region},
      {"eligible", b.eligible},
      {"in_rotation", b.in_rotation},
      {"active_requests", s.active_requests.load(std::memory_order_relaxed)},
      {"connections", s.connections.load(std::memory_order_relaxed)},
      {"requests_total", s.requests_total.load(std::memory_order_relaxed)},
      {"failures_total", s.failures_total.load(std::memory_order_relaxed)},
  };
}

Json lbJson(const LbView& lb) {
  const config::LoadBalancer& c = *lb.config;
  // The bound port, not the configured one: they differ when the config asks for port 0.
  const int port = lb.listener != nullptr ? lb.listener->bound.port() : c.port;
  Json backends = Json::array();
  for (const BackendView& b : lb.backends)
    backends.push_back(backendJson(b));
  return Json{
      {"name", c.name},
      {"vip", c.vip},
      {"port", port},
      {"listen", lb.listener != nullptr ? lb.listener->bound.str() : ""},
      {"protocol", config::toString(c.protocol)},
      {"method", config::toString(c.method)},
      {"routing_region", lb.routing_region},
      {"eligible_backends", lb.eligible},
      {"endpoints", lb.endpoints},
      {"backends", std::move(backends)},
  };
}

}  // namespace

Response loadBalancersResponse(const AdminSource& source) {
  const ClusterView view = viewOf(*source.currentUpdate());
  Json out = Json::array();
  for (const LbView& lb : view.lbs)
    out.push_back(lbJson(lb));
  return jsonResponse(out);
}

}  // namespace fiberlb::admin
