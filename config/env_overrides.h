#pragma once
// Environment overrides (SPEC §2): PHOTON_MODE, PHOTON_COMPONENT_ID, PHOTON_LOG_LEVEL,
// PHOTON_ADMIN_TOKEN and the generic PHOTON__SECTION__KEY=value. They are written into the
// parsed TOML document before it is read, so that an environment value passes exactly the
// same type and range checks as the same value in the file.

#include <toml++/toml.h>

#include <string>
#include <utility>
#include <vector>

#include "config/diagnostics.h"

namespace fiberlb::config {

using EnvList = std::vector<std::pair<std::string, std::string>>;

// Generic variables are applied first and the named ones after, so PHOTON_LOG_LEVEL wins
// over PHOTON__PHOTON__LOGGING__LEVEL. Every key set is recorded in `diags` as coming from
// its variable.
void applyEnvOverrides(toml::table& root, const EnvList& env, Diagnostics& diags);

}  // namespace fiberlb::config
