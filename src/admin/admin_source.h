#pragma once
// What the admin API reads from the process and the changes it may ask for. The control loop
// implements both; handlers never touch sockets, files or the registry directly.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "lb/failover_manager.h"
#include "lb/geo_math.h"
#include "src/proxy/worker_update.h"

namespace fiberlb::admin {

// Worker counters summed over all workers at the moment of the call.
struct WorkerTotals {
  int workers = 0;
  uint64_t accepted = 0;  // downstream connections accepted since start
  uint64_t retries = 0;   // upstream attempts repeated on another backend
  int64_t sessions = 0;   // downstream connections open now
};

// What a reload changed, as "lb/backend" (backends), "lb" (LBs) and region ids.
struct ChangeLists {
  std::vector<std::string> added, removed, modified;
};

// The most recent reload attempt, whatever triggered it (GET /api/config/reload).
struct ReloadOutcome {
  std::string trigger;  // "file" (the watch), "signal" (SIGHUP) or "api"
  bool ok = false;
  std::string error;                  // why it failed (file:line:col: ...); empty on success
  std::vector<std::string> warnings;  // e.g. unknown keys ("did you mean ...?"), file:line:col
  int64_t at_unix_ms = 0;
  ChangeLists changes;
};

// Process-level counters the metrics endpoint reports, and the reload status.
struct ControlCounters {
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  std::optional<ReloadOutcome> last_reload;
  std::string config_path;       // "" when started without a file
  bool watching_config = false;  // edits of config_path reload by themselves
  // Failovers by (from, to, trigger) since start.
  struct Failovers {
    std::string from, to, trigger;
    uint64_t count = 0;
  };
  std::vector<Failovers> failovers;
};

class AdminSource {
 public:
  virtual ~AdminSource() = default;
  // The update most recently published to the workers (never null once serving).
  // Its snapshot carries region statuses and the active region. Control loop only.
  virtual std::shared_ptr<const proxy::WorkerUpdate> currentUpdate() const = 0;
  // The running configuration: the file's config with the admin overlay applied (the one
  // currentUpdate() was built from). Control loop only.
  virtual std::shared_ptr<const config::Config> currentConfig() const = 0;
  // Control loop only (reads the workers' relaxed atomics).
  virtual WorkerTotals workerTotals() const = 0;
  // Active region and failover history. Control loop only.
  virtual const lb::FailoverManager& failover() const = 0;
  // Latency matrix of the running config's regions. Control loop only.
  virtual const lb::LatencyMatrix& latency() const = 0;
  virtual ControlCounters controlCounters() const = 0;
};

// The outcome of an operator action: success (status 200/201) or an error in the SPEC §8
// shape. Handlers turn it into a Response.
struct ActionResult {
  int status = 200;
  std::string error;    // error code on failure ("not_found", "conflict", "invalid_request",
                        // "invalid_config"); "" on success
  std::string message;  // what happened or what went wrong, in operator words
  std::optional<lb::FailoverEvent> event;  // failover / active-region changes
  // Reload: what changed.
  using Changes = ChangeLists;
  Changes changes;

  bool ok() const { return error.empty(); }
  static ActionResult fail(int status, std::string code, std::string message) {
    ActionResult r;
    r.status = status;
    r.error = std::move(code);
    r.message = std::move(message);
    return r;
  }
};

// Changes the admin API may make. Each validates against the running state, applies the
// change (persisting it in the state file) and publishes a new snapshot before returning.
// Control loop only.
class AdminActions {
 public:
  virtual ~AdminActions() = default;
  // POST /api/geo/failover. `from` may be "" (= whatever is active).
  virtual ActionResult failover(const std::string& from, const std::string& to,
                                const std::string& reason, const std::string& triggered_by) = 0;
  // PUT /api/geo/active-region.
  virtual ActionResult setActiveRegion(const std::string& region_id) = 0;
  // POST /api/geo/regions (409 when the id exists).
  virtual ActionResult addRegion(const config::Region& region) = 0;
  // DELETE /api/geo/regions/{id} (404 unknown; 409 when active or holding backends).
  virtual ActionResult deleteRegion(const std::string& region_id) = 0;
  // POST /api/geo/nodes. `lb` "" = the only LB (400 when there are several). 404 unknown LB
  // or region, 409 when the LB already has a backend of that name.
  virtual ActionResult addNode(const std::string& lb, const config::Backend& node) = 0;
  // DELETE /api/geo/nodes/{id}. `lb` "" = whichever LB has it (409 when several do).
  virtual ActionResult deleteNode(const std::string& lb, const std::string& node_id) = 0;
  // PATCH /api/loadbalancers/{lb}/backends/{name}.
  virtual ActionResult patchBackend(const std::string& lb, const std::string& name,
                                    std::optional<int> weight,
                                    std::optional<config::AdminState> state) = 0;
  // POST /api/config/reload (400 invalid_config with the diagnostics).
  virtual ActionResult reload() = 0;
};

}  // namespace fiberlb::admin
