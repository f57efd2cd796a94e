// The geo endpoints of SPEC §8: status, regions (list, one, add, delete), the latency
// matrix, replication groups and the active region. Region status and the active region
// come from the published snapshot (cluster_view.h); changes go through AdminActions.

#include <algorithm>
#include <climits>
#include <optional>
#include <string>

#include "src/admin/body_fields.h"
#include "src/admin/cluster_view.h"
#include "src/admin/handlers.h"
#include "src/admin/json_views.h"

namespace fiberlb::admin {
namespace {

Json orNull(const std::string& s) {
  return s.empty() ? Json(nullptr) : Json(s);
}

Response unknownRegion(const std::string& id) {
  return errorResponse(404, "not_found", "no region '" + id + "'");
}

// The region of a POST body; nullopt (with the problem in `f`) when it is invalid.
std::optional<config::Region> regionFromBody(BodyFields& f) {
  config::Region r;
  std::optional<std::string> id = f.identifier("region_id", true);
  r.display_name = f.string("display_name", false).value_or("");
  r.provider = f.string("provider", false).value_or("");
  // A location is all or nothing: half of one would put the region on the equator.
  const bool located = f.has("location");
  std::optional<double> lat = f.number("location.lat", located, -90, 90);
  std::optional<double> lon = f.number("location.lon", located, -180, 180);
  std::optional<int64_t> priority = f.integer("priority", false, 0, INT_MAX);
  if (!f.ok()) return std::nullopt;
  r.id = *id;
  r.latitude = lat.value_or(0);
  r.longitude = lon.value_or(0);
  r.priority = static_cast<int>(priority.value_or(r.priority));
  return r;
}

// What a region just added looks like, before any backend joined it.
RegionView newRegionView(const config::Region& r) {
  RegionView v;
  v.id = r.id;
  v.display_name = r.display_name;
  v.provider = r.provider;
  v.latitude = r.latitude;
  v.longitude = r.longitude;
  v.priority = r.priority;
  return v;
}

}  // namespace

Response geoStatusResponse(const AdminSource& source) {
  const ClusterView view = viewOf(source.currentUpdate());
  Json regions = Json::object();
  for (const RegionView& r : view.regions) {
    regions[r.id] = Json{
        {"status", lb::toString(r.status)},
        {"node_count", r.nodes},
        {"eligible_nodes", r.eligible},
        {"priority", r.priority},
        {"display_name", r.display_name},
        {"provider", r.provider},
        {"active", r.active},
    };
  }
  return jsonResponse(Json{
      {"active_region", orNull(view.active_region)},
      {"total_regions", view.regions.size()},
      {"total_nodes", view.backends},
      {"online_regions", view.online_regions},
      {"regions", std::move(regions)},
  });
}

Response geoRegionsResponse(const AdminSource& source) {
  const ClusterView view = viewOf(source.currentUpdate());
  Json out = Json::array();
  for (const RegionView& r : view.regions)
    out.push_back(regionJson(r));
  return jsonResponse(out);
}

Response getRegion(const Request& request, const AdminSource& source) {
  const ClusterView view = viewOf(source.currentUpdate());
  const std::string& id = request.param("region_id");
  const RegionView* r = view.findRegion(id);
  return r != nullptr ? jsonResponse(regionJson(*r)) : unknownRegion(id);
}

Response postRegion(const Request& request, const AdminSource& source, AdminActions& actions) {
  BodyFields f(request);
  std::optional<config::Region> region = regionFromBody(f);
  if (!region) return f.error();
  const ActionResult result = actions.addRegion(*region);
  if (!result.ok()) return errorFrom(result);
  const ClusterView view = viewOf(source.currentUpdate());
  const RegionView* added = view.findRegion(region->id);
  return jsonResponse(regionJson(added != nullptr ? *added : newRegionView(*region)), 201);
}

Response deleteRegion(const Request& request, AdminActions& actions) {
  const std::string& id = request.param("region_id");
  const ActionResult result = actions.deleteRegion(id);
  if (!result.ok()) return errorFrom(result);
  return jsonResponse(Json{{"status", "deleted"}, {"region_id", id}, {"message", result.message}});
}

Response latencyMatrixResponse(const AdminSource& source) {
  const lb::LatencyMatrix& m = source.latency();
  Json ids = Json::array();
  Json matrix = Json::object();
  for (size_t i = 0; i < m.size(); ++i) {
    ids.push_back(m.point(i).id);
    Json row = Json::object();
    for (size_t j = 0; j < m.size(); ++j)
      row[m.point(j).id] = roundMs(m.at(i, j));
    matrix[m.point(i).id] = std::move(row);
  }
  return jsonResponse(Json{{"unit", "ms"}, {"regions", std::move(ids)}, {"matrix", matrix}});
}

Response replicationGroupResponse(const Request& request, const AdminSource& source) {
  const std::string& id = request.param("region_id");
  const lb::LatencyMatrix& m = source.latency();
  const size_t i = m.indexOf(id);
  Json targets = Json::array();
  Json latencies = Json::object();
  if (i < m.size()) {
    const int size = source.currentConfig()->geo.replication_group_size;
    for (size_t j : m.nearest(i, static_cast<size_t>(std::max(size, 0)))) {
      targets.push_back(m.point(j).id);
      latencies[m.point(j).id] = roundMs(m.at(i, j));
    }
  } else if (viewOf(source.currentUpdate()).findRegion(id) == nullptr) {
    return unknownRegion(id);
  }
  // A region without a place in the matrix (no location known) replicates nowhere.
  return jsonResponse(Json{{"source_region", id},
                           {"replication_targets", std::move(targets)},
                           {"latencies_ms", std::move(latencies)}});
}

Response getActiveRegion(const AdminSource& source) {
  return jsonResponse(Json{{"region_id", orNull(viewOf(source.currentUpdate()).active_region)}});
}

Response putActiveRegion(const Request& request, const AdminSource& source, AdminActions& actions) {
  BodyFields f(request);
  std::optional<std::string> id = f.string("region_id", true);
  if (!f.ok()) return f.error();
  const std::string previous = viewOf(source.currentUpdate()).active_region;
  // PUT is idempotent: asking for the region that is already active changes nothing.
  if (*id == previous)
    return jsonResponse(
        Json{{"region_id", *id}, {"previous_region", *id}, {"changed", false}, {"event", nullptr}});
  const ActionResult result = actions.setActiveRegion(*id);
  if (!result.ok()) return errorFrom(result);
  return jsonResponse(Json{
      {"region_id", *id},
      {"previous_region", orNull(result.event ? result.event->from_region : previous)},
      {"changed", true},
      {"event", result.event ? eventJson(*result.event) : Json(nullptr)},
  });
}

}  // namespace fiberlb::admin
