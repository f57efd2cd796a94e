#pragma once
// What a reload (or an admin change) changes between two configs, for the operator: the
// reload answer of SPEC §3 lists added / removed / modified backends, LBs and regions.

#include <string>
#include <vector>

#include "config/config.h"

namespace fiberlb::config {

// Names are "lb" for a load balancer, "lb/backend" for a backend, "region:id" for a region
// and "geo" for the failover settings; each list is in config order (before's order for removed).
struct ConfigChanges {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> modified;

  bool empty() const { return added.empty() && removed.empty() && modified.empty(); }
};

ConfigChanges diff(const Config& before, const Config& after);

}  // namespace fiberlb::config
