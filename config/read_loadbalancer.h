#pragma once
// [[standalone.loadbalancers]] and their [[...backends]].

#include <vector>

#include "config/config.h"
#include "config/toml_reader.h"

namespace fiberlb::config {

// Reads every load balancer of the [standalone] table. Backend regions are resolved
// against (and may extend) `geo`, so [geo] must be read first.
void readLoadBalancers(TableReader& standalone, Geo& geo, std::vector<LoadBalancer>& out);

}  // namespace fiberlb::config
