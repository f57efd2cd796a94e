#include "lb/region_status.h"

namespace fiberlb::lb {

const char* toString(RegionStatus status) {
  switch (status) {
    case RegionStatus::Online:
      return "online";
    case RegionStatus::Degraded:
      return "degraded";
    case RegionStatus::Offline:
      return "offline";
    case RegionStatus::Maintenance:
      return "maintenance";
    case RegionStatus::Unknown:
      break;
  }
  return "unknown";
}

RegionStatus statusOf(const RegionCounts& c, double failover_threshold) {
  if (c.maintenance) return RegionStatus::Maintenance;
  if (c.nodes == 0) return RegionStatus::Unknown;
  // Nothing decided yet: do not call a region offline (and fail away from it) before its
  // first checks have answered.
  if (c.eligible == 0 && c.awaiting_first_check == c.nodes) return RegionStatus::Unknown;
  if (c.eligible == 0) return RegionStatus::Offline;
  if (static_cast<double>(c.eligible) < failover_threshold * static_cast<double>(c.nodes))
    return RegionStatus::Offline;
  return c.eligible < c.nodes ? RegionStatus::Degraded : RegionStatus::Online;
}

const RegionState* findRegion(const std::vector<RegionState>& regions, std::string_view id) {
  for (const RegionState& r : regions)
    if (r.id == id) return &r;
  return nullptr;
}

}  // namespace fiberlb::lb
