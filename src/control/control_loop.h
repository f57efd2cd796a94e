#pragma once
// The control thread: owns the configuration and the long-lived backend objects, runs the
// health checks and the failover manager, builds snapshots and publishes them to the
// workers, persists the state file, serves the admin API and handles signals (reload,
// shutdown). It is the only writer of routing state.

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "lb/admin_overlay.h"
#include "lb/backend_registry.h"
#include "lb/failover_manager.h"
#include "lb/geo_math.h"
#include "src/admin/admin_source.h"
#include "src/control/circuit_watch.h"
#include "src/control/config_watch.h"
#include "src/control/listener_table.h"
#include "src/proxy/worker.h"

namespace fiberlb::demo {
class DemoBackends;
}
namespace fiberlb::admin {
class AdminServer;
}
namespace fiberlb::health {
class HealthMonitor;
}

namespace fiberlb::control {

// Also the admin API's access to the running state (AdminSource) and its operator actions
// (AdminActions), on this loop.
class ControlLoop final : public admin::AdminSource, public admin::AdminActions {
 public:
  ControlLoop(std::string config_path, config::Overrides overrides);
  ~ControlLoop() override;

  // Starts everything with `initial` and runs until shutdown. Returns the exit code
  // (0 clean shutdown, 2 start-up failure).
  int run(const std::shared_ptr<const config::Config>& initial);

 private:
  // --- start-up (control_loop.cc)
  void restoreState();
  bool startAdmin(std::string* error);
  void startTimers();
  void startConfigWatch();
  void openDoors();
  static void onStartupDeadline(uv_timer_t* handle);

  // --- routing state (control_loop.cc)
  // Builds the update for `cfg` (opening new listeners). False + message on failure, in
  // which case nothing changed.
  bool prepare(const std::shared_ptr<const config::Config>& cfg,
               std::shared_ptr<proxy::WorkerUpdate>* update, std::string* error);
  static bool servable(const config::LoadBalancer& lb, std::string* error);
  std::shared_ptr<net::tls::ServerContext> tlsContextFor(const config::Config& cfg,
                                                         const config::LoadBalancer& lb,
                                                         std::string* error);
  static void onTicketRotation(uv_timer_t* handle);
  bool backendTls(const config::Config& cfg, const lb::ClusterSnapshot& snap,
                  std::vector<proxy::BackendTls>* out, std::string* error);
  std::shared_ptr<const lb::ClusterSnapshot> buildSnapshot(
      const std::shared_ptr<const config::Config>& cfg);
  // Rebuilds the snapshot from the current health, lets the failover manager react, and
  // publishes. Coalesced: scheduleRebuild() runs it once on the next loop iteration.
  void rebuild();
  void scheduleRebuild();
  void recordFailover(const lb::FailoverEvent& event);
  void publish(const std::shared_ptr<const proxy::WorkerUpdate>& update);
  // Makes `effective` (file config + overlay) the running config. False + message when it
  // cannot be applied (a listener that cannot bind); nothing changed then.
  bool applyConfig(const std::shared_ptr<const config::Config>& file,
                   const std::shared_ptr<const config::Config>& effective, std::string* error);
  // False (logged) when the state file could not be written.
  bool saveState();
  static void onRebuild(uv_timer_t* handle);
  static void onTick(uv_timer_t* handle);

  // --- signals and shutdown (control_loop.cc)
  void beginShutdown(int signum);
  void logListeners(const proxy::WorkerUpdate& update, bool only_new);
  static void onSignal(uv_signal_t* handle, int signum);
  static void onShutdownPoll(uv_timer_t* handle);

  // --- admin::AdminSource. Control loop only.
  std::shared_ptr<const proxy::WorkerUpdate> currentUpdate() const override { return current_; }
  std::shared_ptr<const config::Config> currentConfig() const override { return config_; }
  admin::WorkerTotals workerTotals() const override;
  const lb::FailoverManager& failover() const override { return failover_; }
  const lb::LatencyMatrix& latency() const override { return latency_; }
  admin::ControlCounters controlCounters() const override { return counters_; }

  // --- admin::AdminActions (control_actions.cc). Control loop only.
  admin::ActionResult failover(const std::string& from, const std::string& to,
                               const std::string& reason, const std::string& triggered_by) override;
  admin::ActionResult setActiveRegion(const std::string& region_id) override;
  admin::ActionResult addRegion(const config::Region& region) override;
  admin::ActionResult deleteRegion(const std::string& region_id) override;
  admin::ActionResult addNode(const std::string& lb, const config::Backend& node) override;
  admin::ActionResult deleteNode(const std::string& lb, const std::string& node_id) override;
  admin::ActionResult patchBackend(const std::string& lb, const std::string& name,
                                   std::optional<int> weight,
                                   std::optional<config::AdminState> state) override;
  admin::ActionResult reload() override;  // = reloadFrom("api")
  // Every reload, whatever its trigger ("file", "signal", "api"): records the outcome.
  admin::ActionResult reloadFrom(const char* trigger);
  // Loads `text` (the file's bytes; null when unreadable: loadFile() reports why).
  admin::ActionResult attemptReload(const std::string* text, std::vector<std::string>* warnings);
  admin::ActionResult refuseEmptyFile();
  // Applies `overlay` on top of the file config; on success it becomes overlay_ and is saved.
  admin::ActionResult applyOverlay(lb::AdminOverlay overlay, int success_status,
                                   std::string message);
  // 409 while shutting down: an action would restart what shutdown stopped.
  std::optional<admin::ActionResult> refuseWhileShuttingDown() const;
  admin::ActionResult switchRegion(const std::string& from, const std::string& to,
                                   const std::string& reason, const std::string& triggered_by);

  std::string config_path_;
  config::Overrides overrides_;
  uv_loop_t loop_{};
  uv_signal_t sighup_{}, sigterm_{}, sigint_{}, sigusr2_{};
  uv_timer_t shutdown_timer_{}, rebuild_timer_{}, tick_timer_{}, startup_timer_{};
  uv_timer_t ticket_timer_{};
  // Session ticket keys shared by every TLS listener and every reload of one, so that a
  // ticket stays valid across workers and reloads.
  std::shared_ptr<net::tls::TicketKeys> ticket_keys_ = std::make_shared<net::tls::TicketKeys>();
  std::shared_ptr<const config::Config> file_config_;  // as read from the file
  std::shared_ptr<const config::Config> config_;       // file_config_ + overlay_
  lb::AdminOverlay overlay_;
  std::shared_ptr<const proxy::WorkerUpdate> current_;
  lb::BackendRegistry registry_;
  lb::FailoverManager failover_;
  lb::LatencyMatrix latency_;
  admin::ControlCounters counters_;
  std::unique_ptr<ListenerTable> listeners_;
  std::vector<net::SocketAddress> addresses_;  // by slot; grows, never shrinks
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
  std::unique_ptr<health::HealthMonitor> health_;
  std::unique_ptr<CircuitWatch> circuits_;
  std::unique_ptr<ConfigWatch> config_watch_;
  std::unique_ptr<demo::DemoBackends> demo_;
  std::unique_ptr<admin::AdminServer> admin_;
  uint64_t generation_ = 0;
  uint64_t shutdown_deadline_ms_ = 0;
  bool serving_ = false;  // workers started (after the first round of health checks)
  bool shutting_down_ = false;
};

}  // namespace fiberlb::control
