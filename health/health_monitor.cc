#include "health/health_monitor.h"

#include <algorithm>
#include <string>

#include "config/value_syntax.h"
#include "lb/snapshot_builder.h"
#include "src/util/log.h"
#include "src/util/wall_clock.h"

namespace fiberlb::health {
namespace {

// The first check of a backend fires within this much of its arrival (random offset), so
// the phases of thousands of checks spread out while start-up still gets verdicts quickly.
constexpr uint64_t kMaxFirstDelayMs = 250;

const char* kindOf(config::HealthCheckType type) {
  return type == config::HealthCheckType::Http ? "http" : "tcp";
}

}  // namespace

struct HealthMonitor::Target {
  explicit Target(uv_loop_t* loop) : probe(loop) {}

  HealthMonitor* owner = nullptr;
  lb::BackendState::Ptr state;
  std::string lb_name;
  ProbeSpec spec;
  std::string tls_error;  // non-empty: http checks fail with it (the CA file did not load)
  Probe probe;
  RiseFall rise_fall{1, 1};
  uv_timer_t timer{};
  uint64_t interval_ms = 0;
  uint64_t started_ms = 0;  // loop time the check in flight started
  bool had_result = false;  // for firstRoundDone()
  bool seen = false;        // marks targets still in the snapshot during sync()
};

HealthMonitor::HealthMonitor(uv_loop_t* loop, ChangeCallback on_change)
    : loop_(loop), on_change_(std::move(on_change)), rng_state_(uv_hrtime() | 1) {}

HealthMonitor::~HealthMonitor() {
  stop();
}

uint64_t HealthMonitor::effectiveTimeoutMs(const config::HealthCheck& hc) {
  const double ms = std::min(hc.timeout_sec, hc.interval_sec) * 1000;
  return std::max<uint64_t>(1, static_cast<uint64_t>(ms));
}

void HealthMonitor::sync(const lb::ClusterSnapshot& snap,
                         const std::vector<net::SocketAddress>& addresses) {
  if (stopped_) return;  // shutting down: no new checks
  for (auto& [state, target] : targets_)
    target->seen = false;
  // Another config: its CA files are read afresh (weak: an expired one never equals a live
  // one, so a new config at the old one's address is still seen as new).
  if (tls_contexts_config_.lock() != snap.config || snap.config == nullptr) {
    tls_contexts_.clear();
    tls_contexts_config_ = snap.config;
  }

  for (const lb::LbSnapshot& ls : snap.lbs) {
    const bool checked = lb::hasActiveChecks(*ls.config);
    for (size_t i = 0; i < ls.backends.size(); ++i) {
      const lb::BackendState::Ptr& state = ls.backends[i];
      auto it = targets_.find(state.get());
      if (!checked) {
        if (it == targets_.end()) state->health.health = lb::Health::Unknown;
        continue;  // a target left over from a checked config is removed below
      }
      Target* t = it != targets_.end() ? it->second : addTarget(state);
      t->seen = true;
      static const net::SocketAddress kUnresolved;
      const uint32_t slot = state->slot();
      // LbSnapshot::backends follows the config's order.
      const config::Backend* backend =
          i < ls.config->backends.size() ? &ls.config->backends[i] : nullptr;
      configure(*t, *ls.config, backend, slot < addresses.size() ? addresses[slot] : kUnresolved);
    }
  }

  std::vector<Target*> gone;
  for (auto& [state, target] : targets_)
    if (!target->seen) gone.push_back(target);
  for (Target* t : gone) {
    targets_.erase(t->state.get());
    t->state->health.health = lb::Health::Unknown;  // no checks: no verdict
    removeTarget(t);
  }
}

HealthMonitor::Target* HealthMonitor::addTarget(const lb::BackendState::Ptr& state) {
  auto* t = new Target(loop_);
  t->owner = this;
  t->state = state;
  t->lb_name = state->lb();
  state->health.health = lb::Health::Unknown;
  uv_timer_init(loop_, &t->timer);
  t->timer.data = t;
  targets_.emplace(state.get(), t);
  return t;
}

// Applies the LB's check settings to `t`, (re)starting its timer when the interval changed.
void HealthMonitor::configure(Target& t, const config::LoadBalancer& lb,
                              const config::Backend* backend, const net::SocketAddress& address) {
  const config::HealthCheck& hc = lb.healthcheck;
  t.spec.type = hc.type;
  t.spec.address = address;
  t.spec.path = hc.path;
  t.spec.host = hc.host;
  t.spec.expected_status = hc.expected_status;
  t.spec.timeout_ms = effectiveTimeoutMs(hc);
  configureTls(t, lb, backend);
  t.rise_fall.setThresholds(hc.healthy_threshold, hc.unhealthy_threshold);

  const auto interval = std::max<uint64_t>(1, static_cast<uint64_t>(hc.interval_sec * 1000));
  if (interval == t.interval_ms) return;
  t.interval_ms = interval;
  rng_state_ ^= rng_state_ << 13;
  rng_state_ ^= rng_state_ >> 7;
  rng_state_ ^= rng_state_ << 17;
  const uint64_t first = rng_state_ % std::min(interval, kMaxFirstDelayMs);
  // A check in flight schedules the next one (at the new interval) when it completes.
  if (!t.probe.running()) uv_timer_start(&t.timer, &HealthMonitor::onTimer, first, 0);
}

// The TLS half of a check's settings: for an http check of a backend with `tls = true`, the
// shared client context and the peer names, the same as the data path's
// (net::tls::backendPeer). A tcp check stays a plain
// connect even on a TLS backend (see ProbeSpec::tls), so it needs none of this.
void HealthMonitor::configureTls(Target& t, const config::LoadBalancer& lb,
                                 const config::Backend* backend) {
  t.spec.tls = nullptr;
  t.spec.tls_peer = {};
  t.tls_error.clear();
  if (backend == nullptr || !backend->tls || lb.healthcheck.type != config::HealthCheckType::Http)
    return;
  const TlsContext& tls = tlsContext(backend->tls_ca_file, backend->tls_verify);
  if (tls.context == nullptr) {
    t.tls_error = tls.error;
    FLB_LOG(Warn, "health checks lb=%s backend=%s cannot use TLS: %s", t.lb_name.c_str(),
            t.state->name().c_str(), tls.error.c_str());
    return;
  }
  t.spec.tls = tls.context;
  t.spec.tls_peer = net::tls::backendPeer(*backend);
  // A backend named for TLS expects that name in Host too (a virtual host may answer 421
  // to an address); healthcheck.host still wins when set.
  if (t.spec.host.empty()) t.spec.host = t.spec.tls_peer.server_name;
}

const HealthMonitor::TlsContext& HealthMonitor::tlsContext(const std::string& ca_file,
                                                           bool verify) {
  auto [it, inserted] = tls_contexts_.try_emplace({ca_file, verify});
  if (inserted)
    it->second.context = net::tls::ClientContext::create(ca_file, verify, &it->second.error);
  return it->second;
}

void HealthMonitor::removeTarget(Target* t) {
  t->probe.cancel();
  uv_timer_stop(&t->timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&t->timer),
           [](uv_handle_t* h) { delete static_cast<Target*>(h->data); });
}

void HealthMonitor::stop() {
  stopped_ = true;
  for (auto& [state, target] : targets_)
    removeTarget(target);
  targets_.clear();
}

bool HealthMonitor::firstRoundDone() const {
  for (const auto& [state, target] : targets_)
    if (!target->had_result) return false;
  return true;
}

// Checks start one interval apart (start to start): the next one is armed when the previous
// completes, for the rest of the interval. The timeout never exceeds the interval, so a
// hanging backend still gets a check every interval and detection stays within interval ×
// unhealthy_threshold of the first failing check.
void HealthMonitor::onTimer(uv_timer_t* timer) {
  auto* t = static_cast<Target*>(timer->data);
  if (t->probe.running()) return;
  t->owner->runCheck(*t);
}

void HealthMonitor::scheduleNext(Target& t) {
  const uint64_t elapsed = uv_now(loop_) - t.started_ms;
  const uint64_t delay = elapsed < t.interval_ms ? t.interval_ms - elapsed : 0;
  uv_timer_start(&t.timer, &HealthMonitor::onTimer, delay, 0);
}

void HealthMonitor::runCheck(Target& t) {
  t.started_ms = uv_now(loop_);
  if (t.spec.address.length == 0) {
    ProbeResult unresolved;
    unresolved.outcome = ProbeOutcome::ConnectError;
    unresolved.detail = "address " + t.state->address() + " did not resolve";
    onResult(t, unresolved);
    return;
  }
  if (!t.tls_error.empty()) {
    ProbeResult no_tls;
    no_tls.outcome = ProbeOutcome::ConnectError;
    no_tls.detail = t.tls_error;
    onResult(t, no_tls);
    return;
  }
  Target* target = &t;
  t.probe.start(t.spec, [this, target](const ProbeResult& r) { onResult(*target, r); });
}

void HealthMonitor::onResult(Target& t, const ProbeResult& result) {
  lb::HealthRecord& h = t.state->health;
  (result.passed() ? h.checks_passed : h.checks_failed)++;
  h.last_result = result.passed() ? "ok" : result.detail;
  const bool first_result = !t.had_result;
  t.had_result = true;
  scheduleNext(t);
  FLB_LOG(Trace, "health check lb=%s backend=%s %s: %s (%llu ms)", t.lb_name.c_str(),
          t.state->name().c_str(), kindOf(t.spec.type), h.last_result.c_str(),
          static_cast<unsigned long long>(result.elapsed_ms));
  if (!t.rise_fall.record(result.passed())) {
    if (first_result) on_change_();  // start-up waits for every first result
    return;
  }

  const char* kind = kindOf(t.spec.type);
  h.health = t.rise_fall.state();
  h.changed_unix_ms = util::unixNowMs();
  if (h.health == lb::Health::Healthy) {
    const int passes = t.rise_fall.consecutivePasses();
    h.reason = passes == 1 ? std::string("first ") + kind + " check passed"
                           : std::to_string(passes) + " consecutive " + kind + " checks passed";
    FLB_LOG(Info, "backend healthy lb=%s backend=%s: %s", t.lb_name.c_str(),
            t.state->name().c_str(), h.reason.c_str());
  } else {
    h.reason = std::to_string(t.rise_fall.consecutiveFailures()) + " consecutive " + kind +
               " checks failed, last: " + result.detail;
    FLB_LOG(Warn, "backend unhealthy lb=%s backend=%s: %s", t.lb_name.c_str(),
            t.state->name().c_str(), h.reason.c_str());
  }
  on_change_();
}

}  // namespace fiberlb::health
