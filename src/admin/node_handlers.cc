// /api/geo/nodes (SPEC §8): the backends of every LB seen as geo nodes — listed with
// filters, added, and removed (drained first by the control loop).

#include <functional>
#include <optional>
#include <string>

#include "src/admin/body_fields.h"
#include "src/admin/cluster_view.h"
#include "src/admin/handlers.h"
#include "src/admin/json_views.h"
#include "src/net/address.h"

namespace fiberlb::admin {
namespace {

using NodeFilter = std::function<bool(const BackendView&)>;

constexpr int kDefaultWeight = 100;
constexpr const char* kStatusValues =
    "healthy, unhealthy, unknown, enabled, drain, disabled, eligible or ineligible";

// The ?status= filter: a health, an admin state, or eligibility. nullopt when `status` is
// none of them.
std::optional<NodeFilter> statusFilter(const std::string& status) {
  if (status.empty()) return NodeFilter([](const BackendView&) { return true; });
  if (status == "healthy" || status == "unhealthy" || status == "unknown")
    return NodeFilter(
        [status](const BackendView& b) { return status == lb::toString(b.state->health.health); });
  if (config::AdminState state; config::parseAdminState(status, &state))
    return NodeFilter([state](const BackendView& b) { return b.config->state == state; });
  if (status == "eligible" || status == "ineligible") {
    const bool want = status == "eligible";
    return NodeFilter([want](const BackendView& b) { return b.eligible == want; });
  }
  return std::nullopt;
}

// "host:port" or "[v6]:port" with a host and a port from 1 to 65535.
bool parseEndpoint(const std::string& endpoint, std::string* host, int* port) {
  if (!net::splitHostPort(endpoint, host, port)) return false;
  if (host->empty() || *port < 1) return false;
  // An IPv6 literal must be bracketed, or "::1:80" would be ambiguous.
  return endpoint.front() == '[' || host->find(':') == std::string::npos;
}

// The backend of a POST body; nullopt (with the problem in `f`) when it is invalid.
std::optional<config::Backend> nodeFromBody(BodyFields& f) {
  config::Backend b;
  std::optional<std::string> id = f.identifier("node_id", true);
  std::optional<std::string> region = f.string("region_id", true);
  std::optional<std::string> endpoint = f.string("endpoint", true);
  b.node_type = f.string("node_type", false).value_or("");
  std::optional<int64_t> weight = f.integer("weight", false, 0, 1000);
  if (!f.ok()) return std::nullopt;
  if (!parseEndpoint(*endpoint, &b.address, &b.port)) {
    f.fail(
        "field 'endpoint' must be \"host:port\" or \"[v6]:port\" with a port from 1 to "
        "65535, got " +
        Json(*endpoint).dump());
    return std::nullopt;
  }
  b.name = *id;
  b.region = *region;
  b.weight = static_cast<int>(weight.value_or(kDefaultWeight));
  return b;
}

// The node just added, as the published state shows it.
std::optional<Json> findNode(const AdminSource& source, const std::string& lb,
                             const config::Backend& node) {
  const ClusterView view = viewOf(source.currentUpdate());
  for (const LbView& l : view.lbs) {
    if (!lb.empty() && l.config->name != lb) continue;
    const BackendView* b = l.findBackend(node.name);
    if (b != nullptr && b->config->port == node.port && b->config->address == node.address)
      return nodeJson(l, *b);
  }
  return std::nullopt;
}

}  // namespace

Response getNodes(const Request& request, const AdminSource& source) {
  const std::string region = request.queryParam("region_id").value_or("");
  const std::string status = request.queryParam("status").value_or("");
  std::optional<NodeFilter> keep = statusFilter(status);
  if (!keep)
    return errorResponse(400, "invalid_request",
                         "status '" + status + "' is not one of " + kStatusValues);
  const ClusterView view = viewOf(source.currentUpdate());
  Json out = Json::array();
  for (const LbView& lb : view.lbs)
    for (const BackendView& b : lb.backends)
      if ((region.empty() || b.region == region) && (*keep)(b)) out.push_back(nodeJson(lb, b));
  return jsonResponse(out);
}

Response postNode(const Request& request, const AdminSource& source, AdminActions& actions) {
  BodyFields f(request);
  std::optional<config::Backend> node = nodeFromBody(f);
  const std::string lb = f.string("loadbalancer", false).value_or("");
  if (!f.ok()) return f.error();
  const ActionResult result = actions.addNode(lb, *node);
  if (!result.ok()) return errorFrom(result);
  if (std::optional<Json> added = findNode(source, lb, *node)) return jsonResponse(*added, 201);
  // Published elsewhere than expected (should not happen): answer with what was asked.
  return jsonResponse(Json{{"node_id", node->name},
                           {"loadbalancer", lb},
                           {"region_id", node->region},
                           {"endpoint", endpointOf(*node)},
                           {"node_type", node->node_type},
                           {"weight", node->weight}},
                      201);
}

Response deleteNode(const Request& request, AdminActions& actions) {
  const std::string& id = request.param("node_id");
  const ActionResult result =
      actions.deleteNode(request.queryParam("loadbalancer").value_or(""), id);
  if (!result.ok()) return errorFrom(result);
  return jsonResponse(Json{{"status", "deleted"}, {"node_id", id}, {"message", result.message}});
}

}  // namespace fiberlb::admin
