// GET /health (SPEC §8): what a load balancer in front of fiberlb, or an orchestrator's
// probe, asks. 503 only when no region is serving, so that a partial outage does not take
// the whole proxy out of rotation: "degraded" says something is out, with 200.

#include "config/config.h"
#include "src/admin/cluster_view.h"
#include "src/admin/handlers.h"
#include "src/version.h"

namespace fiberlb::admin {
namespace {

// healthy: every region with backends is fully online and every LB has an endpoint.
// degraded: something is out but some region still serves. unhealthy: no region serves.
const char* statusOf(const ClusterView& view, size_t lbs_serving) {
  if (view.online_regions == 0) return "unhealthy";
  bool all_online = lbs_serving == view.lbs.size();
  for (const RegionView& r : view.regions)
    all_online = all_online && (r.nodes == 0 || r.status == lb::RegionStatus::Online);
  return all_online ? "healthy" : "degraded";
}

Json regionStatuses(const ClusterView& view) {
  Json out = Json::object();
  for (const RegionView& r : view.regions)
    out[r.id] = lb::toString(r.status);
  return out;
}

// "success" / "failure" of the most recent reload, null before any: a failed edit of the
// file shows up where monitoring already looks.
Json lastReloadResult(const ControlCounters& counters) {
  if (!counters.last_reload) return nullptr;
  return counters.last_reload->ok ? "success" : "failure";
}

}  // namespace

Response healthResponse(const AdminSource& source) {
  auto cfg = source.currentConfig();
  const ClusterView view = viewOf(source.currentUpdate());
  const WorkerTotals workers = source.workerTotals();

  size_t serving = 0;  // LBs with at least one endpoint
  for (const LbView& lb : view.lbs)
    serving += lb.endpoints > 0 ? 1 : 0;
  const char* status = statusOf(view, serving);

  Json body;
  body["status"] = status;
  body["mode"] = config::toString(cfg->photon.mode);
  body["component"] = cfg->photon.component_id;
  body["version"] = kVersion;
  body["checks"] = {
      {"loadbalancers", view.lbs.size()},
      {"loadbalancers_serving", serving},
      {"backends", view.backends},
      {"eligible_backends", view.eligible},
      {"regions", view.regions.size()},
      {"online_regions", view.online_regions},
      {"region_status", regionStatuses(view)},
      {"active_region", view.active_region.empty() ? Json(nullptr) : Json(view.active_region)},
      {"workers", workers.workers},
      {"config_generation", view.generation},
      {"last_reload", lastReloadResult(source.controlCounters())},
  };
  return jsonResponse(body, view.online_regions == 0 ? 503 : 200);
}

}  // namespace fiberlb::admin
