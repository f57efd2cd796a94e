// GET /health (SPEC §8): what a load balancer in front of fiberlb, or an orchestrator's
// probe, asks. 503 only when fiberlb can serve nothing at all, so that a partial outage does
// not take the whole proxy out of rotation.

#include "config/config.h"
#include "src/admin/cluster_view.h"
#include "src/admin/handlers.h"
#include "src/version.h"

namespace fiberlb::admin {

Response healthResponse(const AdminSource& source) {
  auto update = source.currentUpdate();
  auto cfg = source.currentConfig();
  const ClusterView view = viewOf(*update);
  const WorkerTotals workers = source.workerTotals();

  size_t serving = 0;  // LBs with at least one endpoint
  for (const LbView& lb : view.lbs)
    serving += lb.endpoints > 0 ? 1 : 0;

  const char* status = "healthy";
  if (serving == 0) {
    status = "unhealthy";
  } else if (serving < view.lbs.size() || view.eligible < view.backends) {
    status = "degraded";
  }

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
      {"active_region", view.active_region},
      {"workers", workers.workers},
      {"config_generation", view.generation},
  };
  return jsonResponse(body, serving == 0 ? 503 : 200);
}

}  // namespace fiberlb::admin
