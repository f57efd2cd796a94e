#pragma once
// Region status (SPEC §4) from the eligibility of the region's backends over every LB.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fiberlb::lb {

enum class RegionStatus { Online, Degraded, Offline, Maintenance, Unknown };
const char* toString(RegionStatus status);

// Whether traffic may be sent to a region in this status (online or degraded).
inline bool isServing(RegionStatus s) {
  return s == RegionStatus::Online || s == RegionStatus::Degraded;
}

// What the status of one region is computed from.
struct RegionCounts {
  size_t nodes = 0;                 // backends in the region, over every LB
  size_t eligible = 0;              // of which eligible (SPEC §4)
  size_t awaiting_first_check = 0;  // health Unknown while an active check is configured
  bool maintenance = false;         // set by an operator
};

// SPEC §4: maintenance when an operator says so; unknown while no backend has a verdict yet
// (or the region has none); offline when nothing is eligible or the eligible fraction is
// below `failover_threshold`; degraded when some backend is out but the fraction holds;
// online otherwise.
RegionStatus statusOf(const RegionCounts& counts, double failover_threshold);

// One region as the routing logic sees it: identity, preference and current status.
struct RegionState {
  std::string id;
  int priority = 0;  // lower = preferred
  double latitude = 0;
  double longitude = 0;
  RegionCounts counts;
  RegionStatus status = RegionStatus::Unknown;
};

// The entry for `id`, or nullptr.
const RegionState* findRegion(const std::vector<RegionState>& regions, std::string_view id);

}  // namespace fiberlb::lb
