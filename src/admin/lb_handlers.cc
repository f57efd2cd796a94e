// /api/loadbalancers (SPEC §8): every LB with its backends, an operator's change of one
// backend's weight or admin state, and why a backend does or does not get traffic.

#include <optional>
#include <string>

#include "src/admin/backend_explain.h"
#include "src/admin/body_fields.h"
#include "src/admin/cluster_view.h"
#include "src/admin/handlers.h"
#include "src/admin/json_views.h"

namespace fiberlb::admin {
namespace {

// The backend named by the {lb} and {name} path parameters, or the 404 that says which
// part is unknown.
struct Target {
  const LbView* lb = nullptr;
  const BackendView* backend = nullptr;
  std::optional<Response> missing;
};

Target findTarget(const ClusterView& view, const Request& request) {
  Target t;
  const std::string& lb = request.param("lb");
  const std::string& name = request.param("name");
  t.lb = view.findLb(lb);
  if (t.lb == nullptr) {
    t.missing = errorResponse(404, "not_found", "no load balancer '" + lb + "'");
    return t;
  }
  t.backend = t.lb->findBackend(name);
  if (t.backend == nullptr)
    t.missing =
        errorResponse(404, "not_found", "load balancer '" + lb + "' has no backend '" + name + "'");
  return t;
}

struct Patch {
  std::optional<int> weight;
  std::optional<config::AdminState> state;
};

// The change a PATCH body asks for: a weight, a state or both; nullopt (with the problem in
// `f`) when it asks for neither or for something invalid.
std::optional<Patch> patchFromBody(BodyFields& f) {
  Patch p;
  std::optional<int64_t> weight = f.integer("weight", false, 0, 1000);
  std::optional<std::string> state = f.string("state", false);
  if (f.ok() && !weight && !state)
    f.fail("give \"weight\" (0 to 1000) and/or \"state\" (enabled, drain or disabled)");
  if (config::AdminState s; state && config::parseAdminState(*state, &s)) p.state = s;
  if (state && !p.state)
    f.fail("field 'state' must be enabled, drain or disabled, got " + Json(*state).dump());
  if (!f.ok()) return std::nullopt;
  if (weight) p.weight = static_cast<int>(*weight);
  return p;
}

Json patchedBackendJson(const LbView& lb, const BackendView& b) {
  Json j{{"loadbalancer", lb.config->name}};
  j.update(backendJson(b));
  return j;
}

}  // namespace

Response loadBalancersResponse(const AdminSource& source) {
  const ClusterView view = viewOf(source.currentUpdate());
  Json out = Json::array();
  for (const LbView& lb : view.lbs)
    out.push_back(lbJson(lb));
  return jsonResponse(out);
}

Response patchBackend(const Request& request, const AdminSource& source, AdminActions& actions) {
  if (Target t = findTarget(viewOf(source.currentUpdate()), request); t.missing)
    return std::move(*t.missing);
  BodyFields f(request);
  std::optional<Patch> patch = patchFromBody(f);
  if (!patch) return f.error();
  const ActionResult result =
      actions.patchBackend(request.param("lb"), request.param("name"), patch->weight, patch->state);
  if (!result.ok()) return errorFrom(result);
  const ClusterView view = viewOf(source.currentUpdate());
  Target t = findTarget(view, request);
  if (t.missing) return std::move(*t.missing);  // removed meanwhile: say so
  return jsonResponse(patchedBackendJson(*t.lb, *t.backend));
}

Response explainBackend(const Request& request, const AdminSource& source) {
  const ClusterView view = viewOf(source.currentUpdate());
  Target t = findTarget(view, request);
  if (t.missing) return std::move(*t.missing);
  return jsonResponse(explainJson(view, *t.lb, *t.backend));
}

}  // namespace fiberlb::admin
