#include "lb/admin_overlay.h"

#include <algorithm>

namespace fiberlb::lb {

namespace {

// Same values as the config loader (config/read_geo.cc) so that a region named only by an
// added node looks exactly like one named only by a file backend.
constexpr int kImplicitRegionPriority = 1000;
constexpr const char* kDefaultRegion = "default";

config::LoadBalancer* findLb(config::Config& cfg, const std::string& name) {
  for (config::LoadBalancer& lb : cfg.loadbalancers) {
    if (lb.name == name) return &lb;
  }
  return nullptr;
}

config::Backend* findBackend(config::LoadBalancer& lb, const std::string& name) {
  for (config::Backend& b : lb.backends) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

config::Backend* findBackend(config::Config& cfg, const std::string& lb_name,
                             const std::string& name) {
  config::LoadBalancer* lb = findLb(cfg, lb_name);
  return lb == nullptr ? nullptr : findBackend(*lb, name);
}

bool hasRegion(const config::Geo& geo, const std::string& id) {
  return std::any_of(geo.regions.begin(), geo.regions.end(),
                     [&](const config::Region& r) { return r.id == id; });
}

bool regionInUse(const config::Config& cfg, const std::string& id) {
  if (cfg.geo.active_region == id) return true;
  for (const config::LoadBalancer& lb : cfg.loadbalancers) {
    for (const config::Backend& b : lb.backends) {
      if (b.region == id) return true;
    }
  }
  return false;
}

// Every region a backend names must be in geo.regions (the rest of the program relies on
// it), so an added node in an unknown region brings an implicit one, as in the loader.
void ensureRegion(config::Geo& geo, const std::string& id) {
  if (hasRegion(geo, id)) return;
  config::Region implicit;
  implicit.id = id;
  implicit.display_name = id;
  implicit.priority = kImplicitRegionPriority;
  geo.regions.push_back(implicit);
}

void addRegions(config::Config& cfg, const AdminOverlay& overlay, AdminOverlay& kept) {
  for (const config::Region& r : overlay.regions_added) {
    if (hasRegion(cfg.geo, r.id)) continue;  // the file declares it now: the file wins
    cfg.geo.regions.push_back(r);
    kept.regions_added.push_back(r);
  }
}

void removeNodes(config::Config& cfg, const AdminOverlay& overlay, AdminOverlay& kept) {
  for (const NodeRef& ref : overlay.nodes_removed) {
    config::LoadBalancer* lb = findLb(cfg, ref.lb);
    if (lb == nullptr || findBackend(*lb, ref.name) == nullptr) continue;
    std::erase_if(lb->backends, [&](const config::Backend& b) { return b.name == ref.name; });
    kept.nodes_removed.push_back(ref);
  }
}

void addNodes(config::Config& cfg, const AdminOverlay& overlay, AdminOverlay& kept) {
  for (const AddedNode& node : overlay.nodes_added) {
    config::LoadBalancer* lb = findLb(cfg, node.lb);
    // A name already taken is either the file's own backend (the file wins) or an earlier
    // duplicate of this entry.
    if (lb == nullptr || findBackend(*lb, node.backend.name) != nullptr) continue;
    config::Backend backend = node.backend;
    if (backend.region.empty()) backend.region = kDefaultRegion;
    ensureRegion(cfg.geo, backend.region);
    lb->backends.push_back(std::move(backend));
    kept.nodes_added.push_back(node);
  }
}

void applyPatches(config::Config& cfg, const AdminOverlay& overlay, AdminOverlay& kept) {
  for (const BackendPatch& patch : overlay.patches) {
    config::Backend* backend = findBackend(cfg, patch.lb, patch.backend);
    if (backend == nullptr || (!patch.weight && !patch.state)) continue;
    if (patch.weight) backend->weight = *patch.weight;
    if (patch.state) backend->state = *patch.state;
    kept.patches.push_back(patch);
  }
}

// Last, so that it sees every backend the other entries added or removed: a region whose
// nodes were deleted through the API can go, one the file (or an added node) still uses
// cannot.
void removeRegions(config::Config& cfg, const AdminOverlay& overlay, AdminOverlay& kept) {
  for (const std::string& id : overlay.regions_removed) {
    if (!hasRegion(cfg.geo, id) || regionInUse(cfg, id)) continue;
    std::erase_if(cfg.geo.regions, [&](const config::Region& r) { return r.id == id; });
    kept.regions_removed.push_back(id);
  }
}

}  // namespace

config::Config applyOverlay(const config::Config& file, const AdminOverlay& overlay,
                            AdminOverlay* pruned) {
  config::Config cfg = file;
  AdminOverlay kept;  // built apart: `pruned` may be `&overlay`
  addRegions(cfg, overlay, kept);
  removeNodes(cfg, overlay, kept);
  addNodes(cfg, overlay, kept);
  applyPatches(cfg, overlay, kept);
  removeRegions(cfg, overlay, kept);
  if (pruned != nullptr) *pruned = std::move(kept);
  return cfg;
}

}  // namespace fiberlb::lb
