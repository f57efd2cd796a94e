#pragma once
// One consistent reading of the published state for the admin handlers: per backend its
// eligibility and counters, per region its status (SPEC §4), so /health, /metrics and the
// geo and LB endpoints can never disagree with each other.

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "lb/backend_state.h"
#include "src/proxy/worker_update.h"

namespace fiberlb::admin {

enum class RegionStatus { Online, Degraded, Offline, Unknown };
const char* toString(RegionStatus status);

struct BackendView {
  const config::Backend* config = nullptr;
  const lb::BackendState* state = nullptr;
  // SPEC §4 eligibility (lb::isEligible): may receive traffic if its region is routed to.
  bool eligible = false;
  // Currently an endpoint: eligible and in the LB's routing region.
  bool in_rotation = false;
};

struct LbView {
  const config::LoadBalancer* config = nullptr;
  const proxy::ListenerSpec* listener = nullptr;  // null only if the update lacks it
  std::string routing_region;                     // "" = nothing to route to
  std::vector<BackendView> backends;              // config order
  size_t eligible = 0;
  size_t endpoints = 0;
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
  RegionStatus status = RegionStatus::Unknown;
  bool active = false;
};

struct ClusterView {
  uint64_t generation = 0;
  std::vector<LbView> lbs;
  std::vector<RegionView> regions;  // config.geo.regions order, then undeclared ones
  std::string active_region;        // routing region of the first LB, or ""
  size_t backends = 0;
  size_t eligible = 0;
  size_t online_regions = 0;  // online or degraded: still serving
};

// Reads `update` (and the BackendState atomics it points to). Control loop only.
ClusterView viewOf(const proxy::WorkerUpdate& update);

}  // namespace fiberlb::admin
