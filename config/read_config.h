#pragma once
// The whole document: [photon], [standalone], [geo], [demo]. Values are checked as they
// are read; every problem is reported to `diags` and reading carries on, so that one run
// shows as many problems as possible.

#include <toml++/toml.h>

#include "config/config.h"
#include "config/diagnostics.h"

namespace fiberlb::config {

// Upper bound of standalone.server.workers and --workers.
inline constexpr int kMaxWorkers = 1024;

Config readConfig(const toml::table& doc, Diagnostics& diags);

}  // namespace fiberlb::config
