#pragma once
// Runs the active health checks of every backend of the running configuration on the
// control loop, turns results into health verdicts with rise/fall hysteresis, and tells the
// control loop when a verdict changed so that it can publish a new snapshot. Workers never
// see this: health reaches them only as snapshots.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.h"
#include "health/probe.h"
#include "health/rise_fall.h"
#include "lb/backend_state.h"
#include "lb/cluster_snapshot.h"
#include "src/net/address.h"
#include "src/net/tls/client_context.h"

namespace fiberlb::health {

// Control loop only.
class HealthMonitor {
 public:
  // Runs on the loop after a backend changed health, or got its first result (at most once
  // per result).
  using ChangeCallback = std::function<void()>;

  HealthMonitor(uv_loop_t* loop, ChangeCallback on_change);
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Brings the checks in line with `snap`: backends new to it start checking at once (after a
  // small random delay, so thousands of checks do not fire together), backends that left
  // stop, and changed check settings apply without losing a backend's health or streak.
  // `addresses` is indexed by BackendState::slot(). A backend whose LB has no active checks
  // any more goes back to Unknown health (it would otherwise stay stuck at its last verdict).
  // Http checks of a backend with `tls = true` speak TLS with its tls_verify, tls_ca_file and
  // tls_server_name, like the data path; a CA file that does not load fails them (its error
  // is the detail) until a config whose CA file loads arrives.
  void sync(const lb::ClusterSnapshot& snap, const std::vector<net::SocketAddress>& addresses);

  // Whether every checked backend has had its first verdict or first failed check — what
  // start-up waits for before it opens the doors. True when nothing is checked.
  bool firstRoundDone() const;

  // Stops every check and closes every timer; later sync() calls do nothing. Call before
  // the loop is closed.
  void stop();

  // Per-check timeout actually used: never longer than the interval, so that detection
  // stays within interval × unhealthy_threshold (SPEC §4) even against a hanging backend.
  static uint64_t effectiveTimeoutMs(const config::HealthCheck& hc);

 private:
  struct Target;

  // A client context for TLS checks, or why there is none.
  struct TlsContext {
    std::shared_ptr<net::tls::ClientContext> context;
    std::string error;
  };

  Target* addTarget(const lb::BackendState::Ptr& state);
  void configure(Target& t, const config::LoadBalancer& lb, const config::Backend* backend,
                 const net::SocketAddress& address);
  void configureTls(Target& t, const config::LoadBalancer& lb, const config::Backend* backend);
  const TlsContext& tlsContext(const std::string& ca_file, bool verify);
  void removeTarget(Target* t);
  static void onTimer(uv_timer_t* timer);
  void runCheck(Target& t);
  void scheduleNext(Target& t);
  void onResult(Target& t, const ProbeResult& result);

  uv_loop_t* loop_;
  ChangeCallback on_change_;
  std::unordered_map<const lb::BackendState*, Target*> targets_;
  // Client contexts of TLS checks by (CA file, verify): CA files are read once per config,
  // not once per check, and every backend with the same settings shares one context. Emptied
  // when sync() brings another config, so that a reload re-reads the CA files.
  std::map<std::pair<std::string, bool>, TlsContext> tls_contexts_;
  std::weak_ptr<const config::Config> tls_contexts_config_;
  uint64_t rng_state_;
  bool stopped_ = false;
};

}  // namespace fiberlb::health
