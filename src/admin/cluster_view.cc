#include "src/admin/cluster_view.h"

#include <unordered_set>

#include "lb/snapshot_builder.h"

namespace fiberlb::admin {
namespace {

// SPEC §4: offline below failover_threshold or with nothing eligible; degraded when some
// backend is out but the region still meets the threshold.
RegionStatus statusOf(size_t nodes, size_t eligible, double threshold) {
  if (nodes == 0) return RegionStatus::Unknown;
  if (eligible == 0) return RegionStatus::Offline;
  if (static_cast<double>(eligible) / static_cast<double>(nodes) < threshold)
    return RegionStatus::Offline;
  return eligible < nodes ? RegionStatus::Degraded : RegionStatus::Online;
}

RegionView* findRegion(std::vector<RegionView>& regions, const std::string& id) {
  for (RegionView& r : regions)
    if (r.id == id) return &r;
  return nullptr;
}

}  // namespace

const char* toString(RegionStatus status) {
  switch (status) {
    case RegionStatus::Online:
      return "online";
    case RegionStatus::Degraded:
      return "degraded";
    case RegionStatus::Offline:
      return "offline";
    case RegionStatus::Unknown:
      return "unknown";
  }
  return "unknown";
}

ClusterView viewOf(const proxy::WorkerUpdate& update) {
  ClusterView view;
  const lb::ClusterSnapshot& snap = *update.snapshot;
  view.generation = snap.generation;
  if (!snap.config) return view;
  const config::Config& cfg = *snap.config;

  for (const config::Region& r : cfg.geo.regions) {
    RegionView& rv = view.regions.emplace_back();
    rv.id = r.id;
    rv.display_name = r.display_name;
    rv.provider = r.provider;
    rv.latitude = r.latitude;
    rv.longitude = r.longitude;
    rv.priority = r.priority;
  }

  for (size_t i = 0; i < snap.lbs.size(); ++i) {
    const lb::LbSnapshot& ls = snap.lbs[i];
    LbView& lv = view.lbs.emplace_back();
    lv.config = ls.config;
    lv.listener = i < update.listeners.size() ? &update.listeners[i] : nullptr;
    lv.routing_region = ls.routing_region;
    lv.endpoints = ls.endpoints.size();
    std::unordered_set<const lb::BackendState*> routed;
    for (const lb::Endpoint& e : ls.endpoints)
      routed.insert(e.backend);
    // ls.backends is parallel to the LB's config backends (snapshot_builder.h).
    for (size_t b = 0; b < ls.backends.size() && b < ls.config->backends.size(); ++b) {
      BackendView& bv = lv.backends.emplace_back();
      bv.config = &ls.config->backends[b];
      bv.state = ls.backends[b].get();
      bv.eligible = lb::isEligible(*ls.config, *bv.config, *bv.state);
      bv.in_rotation = routed.count(bv.state) != 0;
      lv.eligible += bv.eligible ? 1 : 0;

      const std::string& region = bv.config->region.empty() ? "default" : bv.config->region;
      RegionView* rv = findRegion(view.regions, region);
      if (rv == nullptr) {
        rv = &view.regions.emplace_back();
        rv->id = region;
        rv->declared = false;
        rv->priority = config::Region{}.priority;
      }
      rv->nodes++;
      rv->eligible += bv.eligible ? 1 : 0;
    }
    view.backends += lv.backends.size();
    view.eligible += lv.eligible;
  }

  if (!snap.lbs.empty()) view.active_region = snap.lbs.front().routing_region;
  for (RegionView& rv : view.regions) {
    rv.status = statusOf(rv.nodes, rv.eligible, cfg.geo.failover_threshold);
    rv.active = !view.active_region.empty() && rv.id == view.active_region;
    if (rv.status == RegionStatus::Online || rv.status == RegionStatus::Degraded)
      view.online_regions++;
  }
  return view;
}

}  // namespace fiberlb::admin
