// GET /api/geo/status and /api/geo/regions. Until the failover manager lands, the active
// region is the routing region the snapshot builder chose for the first LB, and region
// status is derived from backend eligibility (cluster_view.cc).

#include "src/admin/cluster_view.h"
#include "src/admin/handlers.h"

namespace fiberlb::admin {

Response geoStatusResponse(const AdminSource& source) {
  const ClusterView view = viewOf(*source.currentUpdate());
  Json regions = Json::object();
  for (const RegionView& r : view.regions) {
    regions[r.id] = Json{
        {"status", toString(r.status)},   {"node_count", r.nodes},
        {"eligible_nodes", r.eligible},   {"priority", r.priority},
        {"display_name", r.display_name}, {"active", r.active},
    };
  }
  Json body{
      {"active_region", view.active_region}, {"total_regions", view.regions.size()},
      {"total_nodes", view.backends},        {"online_regions", view.online_regions},
      {"regions", std::move(regions)},
  };
  return jsonResponse(body);
}

Response geoRegionsResponse(const AdminSource& source) {
  const ClusterView view = viewOf(*source.currentUpdate());
  Json out = Json::array();
  for (const RegionView& r : view.regions) {
    out.push_back(Json{
        {"id", r.id},
        {"display_name", r.display_name},
        {"provider", r.provider},
        {"location", Json{{"lat", r.latitude}, {"lon", r.longitude}}},
        {"priority", r.priority},
        {"declared", r.declared},
    });
  }
  return jsonResponse(out);
}

}  // namespace fiberlb::admin
