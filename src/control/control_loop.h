#pragma once
// The control thread: owns the configuration and the long-lived backend objects, builds
// snapshots and publishes them to the workers, handles signals (reload, shutdown).

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "lb/backend_registry.h"
#include "src/admin/admin_source.h"
#include "src/control/listener_table.h"
#include "src/proxy/worker.h"

namespace fiberlb::demo {
class DemoBackends;
}
namespace fiberlb::admin {
class AdminServer;
}

namespace fiberlb::control {

// Also the admin API's read access to the running state (AdminSource), on this loop.
class ControlLoop final : public admin::AdminSource {
 public:
  ControlLoop(std::string config_path, config::Overrides overrides);
  ~ControlLoop() override;

  // Starts everything with `initial` and runs until shutdown. Returns the exit code
  // (0 clean shutdown, 2 start-up failure).
  int run(const std::shared_ptr<const config::Config>& initial);

 private:
  // Builds the update for `cfg` (opening new listeners). False + message on failure, in
  // which case nothing changed.
  bool prepare(const std::shared_ptr<const config::Config>& cfg,
               std::shared_ptr<proxy::WorkerUpdate>* update, std::string* error);
  static bool servable(const config::LoadBalancer& lb, std::string* error);
  void publish(const std::shared_ptr<const proxy::WorkerUpdate>& update);
  void reload();
  void beginShutdown(int signum);
  void logListeners(const proxy::WorkerUpdate& update, bool only_new);
  static void onSignal(uv_signal_t* handle, int signum);
  static void onShutdownPoll(uv_timer_t* handle);

  // admin::AdminSource. Control loop only.
  std::shared_ptr<const proxy::WorkerUpdate> currentUpdate() const override { return current_; }
  std::shared_ptr<const config::Config> currentConfig() const override { return config_; }
  admin::WorkerTotals workerTotals() const override;

  std::string config_path_;
  config::Overrides overrides_;
  uv_loop_t loop_{};
  uv_signal_t sighup_{}, sigterm_{}, sigint_{}, sigusr2_{};
  uv_timer_t shutdown_timer_{};
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<const proxy::WorkerUpdate> current_;
  lb::BackendRegistry registry_;
  std::unique_ptr<ListenerTable> listeners_;
  std::vector<net::SocketAddress> addresses_;  // by slot; grows, never shrinks
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
  std::unique_ptr<demo::DemoBackends> demo_;
  std::unique_ptr<admin::AdminServer> admin_;
  uint64_t generation_ = 0;
  uint64_t shutdown_deadline_ms_ = 0;
  bool shutting_down_ = false;
};

}  // namespace fiberlb::control
