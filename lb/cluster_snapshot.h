#pragma once
// The immutable routing state the control loop publishes to workers.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "lb/backend_state.h"
#include "lb/picker.h"

namespace fiberlb::lb {

struct LbSnapshot {
  const config::LoadBalancer* config = nullptr;  // points into ClusterSnapshot::config
  std::vector<BackendState::Ptr> backends;       // every backend of the LB, config order
  std::vector<Endpoint> endpoints;               // eligible backends of the routing region
  std::string routing_region;                    // region requests currently go to
};

// Built by the control loop, then never modified; workers hold it by shared_ptr until the
// next one arrives, so a snapshot (and the config it points into) outlives every request
// that started under it.
struct ClusterSnapshot {
  uint64_t generation = 0;
  std::shared_ptr<const config::Config> config;
  std::vector<LbSnapshot> lbs;  // same order as config->loadbalancers
};

}  // namespace fiberlb::lb
