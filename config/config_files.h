#pragma once
// The files a config names besides itself.

#include <string>
#include <vector>

#include "config/config.h"

namespace fiberlb::config {

// Every file a config reads besides itself (certificates, keys, CA files of the LBs and
// backends that use TLS), sorted, without repeats: what a reload re-reads, so what the
// config watch must watch too.
std::vector<std::string> filesNamedBy(const Config& config);

}  // namespace fiberlb::config
