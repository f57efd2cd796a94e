#pragma once
// `fiberlb check PATH --against RUNNING_PATH`: what a reload from the running proxy's config
// file to PATH would change (issue 7), the same lists a reload answers (SPEC §3 "Reload").

#include <string>

#include "config/config.h"

namespace fiberlb {

// Loads `running_path` with `overrides` and prints to stdout the added / removed / modified
// LBs, backends and regions going from it to `next` (PATH, already valid), then a note for
// each change a reload leaves for the next restart. Returns the exit code: 0, or 1 (after
// naming `running_path` on stderr) when that file is missing or invalid.
int printReloadPreview(const config::Config& next, const std::string& running_path,
                       const config::Overrides& overrides);

}  // namespace fiberlb
