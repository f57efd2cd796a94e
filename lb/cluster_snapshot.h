#pragma once
// The immutable routing state the control loop publishes to workers.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "lb/backend_state.h"
#include "lb/lb_stats.h"
#include "lb/picker.h"
#include "lb/region_status.h"

namespace fiberlb::lb {

struct LbSnapshot {
  const config::LoadBalancer* config = nullptr;  // points into ClusterSnapshot::config
  std::vector<BackendState::Ptr> backends;       // every backend of the LB, config order
  // Parallel to `backends`: eligibility (SPEC §4) when the snapshot was built — what routing
  // and region status used, so the admin API reports the same.
  std::vector<char> eligible;
  std::vector<Endpoint> endpoints;  // eligible backends of the routing region
  // Eligible backends of the region failover would pick next (empty without auto_failover).
  // Only retries use them: when every endpoint of the routing region was tried, a request
  // that failed before any response byte goes here instead of failing — it covers the
  // seconds between a whole region dying and the health checks noticing.
  std::vector<Endpoint> standby;
  std::string standby_region;
  std::string routing_region;  // region requests currently go to
  LbStats::Ptr stats;          // long-lived, keyed by LB name
};

// Built by the control loop, then never modified; workers hold it by shared_ptr until the
// next one arrives, so a snapshot (and the config it points into) outlives every request
// that started under it.
struct ClusterSnapshot {
  uint64_t generation = 0;
  std::shared_ptr<const config::Config> config;
  std::vector<LbSnapshot> lbs;  // same order as config->loadbalancers
  // Every region with its status at build time: declared ones in config order, then regions
  // only backends name.
  std::vector<RegionState> regions;
  std::string active_region;  // as given to the builder (RoutingInputs), possibly ""
  bool ramping = false;       // some endpoint is in slow start: rebuild again soon
};

}  // namespace fiberlb::lb
