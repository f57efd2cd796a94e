#pragma once
// One consistent reading of the published state for the admin handlers: per backend its
// eligibility and counters, per region its status (SPEC §4, as the snapshot builder computed
// it), so /health, /metrics and the geo and LB endpoints can never disagree with each other.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "lb/backend_state.h"
#include "lb/region_status.h"
#include "src/proxy/worker_update.h"

namespace fiberlb::admin {

struct BackendView {
  const config::Backend* config = nullptr;
  const lb::BackendState* state = nullptr;
  std::string_view region;  // never empty ("default" when the config leaves it out)
  // SPEC §4 eligibility as the snapshot recorded it (LbSnapshot::eligible).
  bool eligible = false;
  // Currently an endpoint: eligible and in the LB's routing region.
  bool in_rotation = false;
  int effective_weight = 0;    // the endpoint's weight (slow start); 0 when not in rotation
  bool active_checks = false;  // its LB runs active health checks
};

struct LbView {
  const config::LoadBalancer* config = nullptr;
  const proxy::ListenerSpec* listener = nullptr;  // null only if the update lacks it
  const lb::LbStats* stats = nullptr;             // null only for hand-built snapshots
  std::string routing_region;                     // "" = nothing to route to
  std::vector<BackendView> backends;              // config order
  size_t eligible = 0;
  size_t endpoints = 0;

  const BackendView* findBackend(std::string_view name) const;
};

struct RegionView {
  std::string id;
  std::string display_name;
  std::string provider;
  double latitude = 0;
  double longitude = 0;
  int priority = 0;
  bool declared = true;  // false: named by a backend only
  size_t nodes = 0;      // backends in this region, over every LB
  size_t eligible = 0;
  lb::RegionStatus status = lb::RegionStatus::Unknown;
  bool active = false;

  bool serving() const { return lb::isServing(status); }
};

struct ClusterView {
  // Keeps everything the views point into (config, backend states) alive while the view is
  // used, even if an action publishes a newer update meanwhile.
  std::shared_ptr<const proxy::WorkerUpdate> update;
  uint64_t generation = 0;
  std::vector<LbView> lbs;
  std::vector<RegionView> regions;  // declared in config order, then undeclared ones
  // The failover manager's choice as published in the snapshot; when none has been made
  // yet, the routing region of the first LB; "" when there is nothing to route to.
  std::string active_region;
  size_t backends = 0;
  size_t eligible = 0;
  size_t online_regions = 0;  // online or degraded: still serving

  const LbView* findLb(std::string_view name) const;
  const RegionView* findRegion(std::string_view id) const;
};

// Reads `update` (and the BackendState atomics and health records it points to). Control
// loop only.
ClusterView viewOf(std::shared_ptr<const proxy::WorkerUpdate> update);

}  // namespace fiberlb::admin
