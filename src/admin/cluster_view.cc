#include "src/admin/cluster_view.h"

#include <unordered_map>
#include <utility>

#include "lb/snapshot_builder.h"

namespace fiberlb::admin {
namespace {

const config::Region* declaredRegion(const config::Config& cfg, std::string_view id) {
  for (const config::Region& r : cfg.geo.regions)
    if (r.id == id) return &r;
  return nullptr;
}

RegionView regionView(const config::Config& cfg, const lb::RegionState& state) {
  RegionView rv;
  rv.id = state.id;
  rv.priority = state.priority;
  rv.latitude = state.latitude;
  rv.longitude = state.longitude;
  rv.nodes = state.counts.nodes;
  rv.eligible = state.counts.eligible;
  rv.status = state.status;
  const config::Region* declared = declaredRegion(cfg, state.id);
  rv.declared = declared != nullptr;
  if (declared != nullptr) {
    rv.display_name = declared->display_name;
    rv.provider = declared->provider;
  }
  return rv;
}

LbView lbView(const lb::LbSnapshot& ls, const proxy::ListenerSpec* listener) {
  LbView lv;
  lv.config = ls.config;
  lv.listener = listener;
  lv.stats = ls.stats.get();
  lv.routing_region = ls.routing_region;
  lv.endpoints = ls.endpoints.size();
  std::unordered_map<const lb::BackendState*, int> routed;  // endpoint -> weight
  for (const lb::Endpoint& e : ls.endpoints)
    routed[e.backend] = e.weight;
  const bool checks = lb::hasActiveChecks(*ls.config);
  // ls.backends is parallel to the LB's config backends (snapshot_builder.h).
  for (size_t b = 0; b < ls.backends.size() && b < ls.config->backends.size(); ++b) {
    BackendView& bv = lv.backends.emplace_back();
    bv.config = &ls.config->backends[b];
    bv.state = ls.backends[b].get();
    bv.region = bv.config->region.empty() ? std::string_view("default") : bv.config->region;
    bv.eligible = b < ls.eligible.size() && ls.eligible[b] != 0;
    auto it = routed.find(bv.state);
    bv.in_rotation = it != routed.end();
    bv.effective_weight = bv.in_rotation ? it->second : 0;
    bv.active_checks = checks;
    lv.eligible += bv.eligible ? 1 : 0;
  }
  return lv;
}

}  // namespace

const BackendView* LbView::findBackend(std::string_view name) const {
  for (const BackendView& b : backends)
    if (b.config->name == name) return &b;
  return nullptr;
}

const LbView* ClusterView::findLb(std::string_view name) const {
  for (const LbView& l : lbs)
    if (l.config->name == name) return &l;
  return nullptr;
}

const RegionView* ClusterView::findRegion(std::string_view id) const {
  for (const RegionView& r : regions)
    if (r.id == id) return &r;
  return nullptr;
}

ClusterView viewOf(std::shared_ptr<const proxy::WorkerUpdate> shared) {
  ClusterView view;
  view.update = std::move(shared);
  const proxy::WorkerUpdate& update = *view.update;
  const lb::ClusterSnapshot& snap = *update.snapshot;
  view.generation = snap.generation;
  if (!snap.config) return view;

  for (size_t i = 0; i < snap.lbs.size(); ++i) {
    view.lbs.push_back(
        lbView(snap.lbs[i], i < update.listeners.size() ? &update.listeners[i] : nullptr));
    view.backends += view.lbs.back().backends.size();
    view.eligible += view.lbs.back().eligible;
  }

  view.active_region = snap.active_region;
  if (view.active_region.empty() && !snap.lbs.empty())
    view.active_region = snap.lbs.front().routing_region;
  for (const lb::RegionState& state : snap.regions) {
    RegionView& rv = view.regions.emplace_back(regionView(*snap.config, state));
    rv.active = !view.active_region.empty() && rv.id == view.active_region;
    view.online_regions += rv.serving() ? 1 : 0;
  }
  return view;
}

}  // namespace fiberlb::admin
