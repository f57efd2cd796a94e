#pragma once
// [geo] and [[geo.regions]], plus the regions that backends name.

#include <string>

#include "config/config.h"
#include "config/toml_reader.h"

namespace fiberlb::config {

// The five regions that default_regions = true pre-registers (SPEC §3).
std::vector<Region> defaultRegions();

// Reads the [geo] table. Declared regions replace default ones with the same id.
void readGeo(TableReader& geo, Geo& out);

// Resolves the region a backend names: "" becomes "default". A region not in geo.regions
// is appended with priority 1000 — with a warning, except for "default", which an LB
// without regions uses on purpose.
void useRegion(Geo& geo, std::string& region, TableReader& backend);

// active_region, when set, must name a region. Call after every backend has been read.
void checkActiveRegion(const Geo& geo, TableReader& geo_reader);

}  // namespace fiberlb::config
