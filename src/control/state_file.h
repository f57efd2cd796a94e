#pragma once
// The state file (SPEC §3 `state_file`): what must survive a restart — the active region,
// the failover history and the operator's admin API changes. JSON, written atomically (temp
// file in the same directory, fsync, rename, fsync of the directory) so that a crash leaves
// either the old file or the new one, never half of one.

#include <string>
#include <vector>

#include "lb/admin_overlay.h"
#include "lb/failover_manager.h"

namespace fiberlb::control {

struct PersistedState {
  std::string active_region;               // "" = none chosen yet
  std::vector<lb::FailoverEvent> history;  // newest first
  lb::AdminOverlay overlay;
};

enum class LoadStatus {
  Loaded,    // read and parsed
  Missing,   // no file yet: a first start
  SetAside,  // corrupt: renamed to `<path>.corrupt-<UTC time>`, starting empty
  Failed,    // unreadable (permissions, a directory...): starting empty, file left alone
};

struct LoadOutcome {
  LoadStatus status = LoadStatus::Missing;
  PersistedState state;  // empty unless Loaded
  std::string message;   // for the log: what happened and what the operator can do
};

// Reads `path`. Never throws and never crashes on any content.
LoadOutcome loadStateFile(const std::string& path);

// Writes `state` to `path` atomically, creating missing parent directories. False with an
// operator-readable `error` on failure (the previous file, if any, is untouched).
bool saveStateFile(const std::string& path, const PersistedState& state, std::string* error);

// The JSON text of `state` (pretty-printed, stable key order) and its inverse. fromJson
// rejects anything malformed with a message naming the offending field.
std::string toJson(const PersistedState& state);
bool fromJson(const std::string& text, PersistedState* out, std::string* error);

}  // namespace fiberlb::control
