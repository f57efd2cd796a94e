#include "config/read_geo.h"

#include <algorithm>
#include <map>

#include "config/enum_names.h"

namespace fiberlb::config {

namespace {

constexpr int kImplicitRegionPriority = 1000;
constexpr const char* kDefaultRegion = "default";

Region* findRegion(std::vector<Region>& regions, const std::string& id) {
  auto it =
      std::find_if(regions.begin(), regions.end(), [&](const Region& r) { return r.id == id; });
  return it == regions.end() ? nullptr : &*it;
}

bool readRegion(TableReader& r, Region& out) {
  out.pos = r.pos();
  const bool has_id = r.readNonEmptyString("id", out.id, TableReader::Need::Required);
  r.readString("display_name", out.display_name);
  r.readString("provider", out.provider);
  r.readNumber("latitude", out.latitude, {-90, 90, false});
  r.readNumber("longitude", out.longitude, {-180, 180, false});
  r.readInt("priority", out.priority, 0, kNoMax);
  r.finish();
  return has_id;
}

void readRegions(TableReader& geo, Geo& out) {
  std::map<std::string, std::string> declared;  // id -> key path of its first use
  for (TableReader& r : geo.tableArray("regions")) {
    Region region;
    if (!readRegion(r, region)) continue;
    if (!checkUnique(r, "id", region.id, declared, "region id", "region ids must be unique")) {
      continue;
    }
    if (Region* existing = findRegion(out.regions, region.id)) {
      *existing = region;  // a declared region overrides the default of the same id
    } else {
      out.regions.push_back(region);
    }
  }
}

}  // namespace

std::vector<Region> defaultRegions() {
  return {
      {"ap-northeast-1", "Asia Pacific (Tokyo)", "aws", 35.68, 139.69, 1, {}},
      {"us-east-1", "US East (N. Virginia)", "aws", 39.04, -77.49, 2, {}},
      {"us-west-2", "US West (Oregon)", "aws", 45.52, -122.68, 3, {}},
      {"eu-west-1", "Europe (Ireland)", "aws", 53.33, -6.25, 4, {}},
      {"ap-southeast-1", "Asia Pacific (Singapore)", "aws", 1.35, 103.82, 5, {}},
  };
}

void readGeo(TableReader& geo, Geo& out) {
  geo.readBool("auto_failover", out.auto_failover);
  geo.readNumber("failover_threshold", out.failover_threshold, kFraction);
  geo.readChoice("failback", out.failback, kFailbacks);
  geo.readNumber("failback_hold_sec", out.failback_hold_sec, kNonNegative);
  geo.readString("active_region", out.active_region);
  geo.readInt("replication_group_size", out.replication_group_size, 0, kNoMax);
  geo.readBool("default_regions", out.default_regions);
  if (out.default_regions) out.regions = defaultRegions();
  readRegions(geo, out);
}

void useRegion(Geo& geo, std::string& region, TableReader& backend) {
  if (region.empty()) region = kDefaultRegion;
  if (findRegion(geo.regions, region) != nullptr) return;
  if (region != kDefaultRegion) {
    backend.warning("region", "region '" + region +
                                  "' is not declared in [[geo.regions]]; it is added with "
                                  "priority 1000 and no location");
  }
  Region implicit;
  implicit.id = region;
  implicit.display_name = region;
  implicit.priority = kImplicitRegionPriority;
  geo.regions.push_back(implicit);
}

void checkActiveRegion(const Geo& geo, TableReader& geo_reader) {
  if (geo.active_region.empty()) return;
  std::vector<std::string> ids;
  for (const Region& r : geo.regions)
    ids.push_back(r.id);
  if (std::find(ids.begin(), ids.end(), geo.active_region) != ids.end()) return;
  std::string known;
  for (const std::string& id : ids)
    known += (known.empty() ? "'" : ", '") + id + "'";
  geo_reader.error("active_region", "'" + geo.active_region + "' is not a known region" +
                                        (known.empty() ? "" : "; known regions: " + known));
}

}  // namespace fiberlb::config
