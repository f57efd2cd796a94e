#include "src/control/control_loop.h"

#include <unistd.h>

#include <csignal>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

#include "config/config_files.h"
#include "config/value_syntax.h"
#include "health/health_monitor.h"
#include "lb/snapshot_builder.h"
#include "src/admin/admin_server.h"
#include "src/control/state_file.h"
#include "src/demo/demo_backends.h"
#include "src/util/log.h"
#include "src/util/wall_clock.h"

namespace fiberlb::control {
namespace {

constexpr uint64_t kShutdownPollMs = 20;
// Failback holds and slow-start ramps are re-evaluated this often.
constexpr uint64_t kTickMs = 200;
// Start-up waits for the first health verdicts at most this long past the longest check
// timeout, then opens the doors anyway (backends without a verdict stay out of rotation).
constexpr uint64_t kStartupSlackMs = 300;
// Session ticket keys rotate this often; TicketKeys keeps the last 3, so a ticket resumes
// for 2 to 3 hours (OpenSSL's ticket lifetime hint is 2 hours).
constexpr uint64_t kTicketKeyRotationMs = uint64_t{3600} * 1000;

int workerCount(const config::Config& cfg) {
  if (cfg.server.workers > 0) return cfg.server.workers;
  unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

lb::LatencyMatrix latencyOf(const config::Config& cfg) {
  std::vector<lb::GeoPoint> points;
  points.reserve(cfg.geo.regions.size());
  for (const config::Region& r : cfg.geo.regions)
    points.push_back(lb::GeoPoint{r.id, r.latitude, r.longitude});
  return lb::LatencyMatrix(std::move(points));
}

lb::FailoverManager::Options failoverOptions(const config::Geo& geo) {
  lb::FailoverManager::Options o;
  o.auto_failover = geo.auto_failover;
  o.failback = geo.failback;
  o.failback_hold_sec = geo.failback_hold_sec;
  o.failover_threshold = geo.failover_threshold;
  return o;
}

bool hasRegion(const config::Config& cfg, const std::string& id) {
  for (const config::Region& r : cfg.geo.regions)
    if (r.id == id) return true;
  return false;
}

// The longest first check of any LB: how long start-up may wait for verdicts.
uint64_t longestCheckMs(const config::Config& cfg) {
  uint64_t longest = 0;
  for (const config::LoadBalancer& lb : cfg.loadbalancers)
    if (lb::hasActiveChecks(lb))
      longest = std::max(longest, health::HealthMonitor::effectiveTimeoutMs(lb.healthcheck));
  return longest;
}

}  // namespace

ControlLoop::ControlLoop(std::string config_path, config::Overrides overrides)
    : config_path_(std::move(config_path)), overrides_(std::move(overrides)) {
  uv_loop_init(&loop_);
  loop_.data = this;
}

ControlLoop::~ControlLoop() {
  workers_.clear();  // joins
  health_.reset();
  uv_loop_close(&loop_);
}

int ControlLoop::run(const std::shared_ptr<const config::Config>& initial) {
  int count = workerCount(*initial);
  listeners_ = std::make_unique<ListenerTable>(count);
  file_config_ = initial;
  restoreState();

  if (initial->demo.enabled) {
    demo_ = std::make_unique<demo::DemoBackends>();
    std::string error;
    if (!demo_->start(*config_, &error)) {
      FLB_LOG(Error, "cannot start the demo backends: %s", error.c_str());
      return 2;
    }
  }

  std::shared_ptr<proxy::WorkerUpdate> update;
  std::string error;
  if (!prepare(config_, &update, &error)) {
    FLB_LOG(Error, "%s", error.c_str());
    return 2;
  }
  current_ = update;
  // Before the workers exist, so that a failure leaves nothing to stop or free. It serves
  // nothing before uv_run below.
  if (!startAdmin(&error)) {
    FLB_LOG(Error, "%s", error.c_str());
    return 2;
  }
  circuits_ = std::make_unique<CircuitWatch>(
      &loop_, [this] { return current_->snapshot; }, [this] { scheduleRebuild(); });
  for (int i = 0; i < count; ++i) {
    workers_.push_back(std::make_unique<proxy::Worker>(i));
    workers_.back()->onCircuitChange([watch = circuits_.get()] { watch->notify(); });
  }

  health_ = std::make_unique<health::HealthMonitor>(&loop_, [this] { scheduleRebuild(); });
  health_->sync(*update->snapshot, update->addresses);
  startTimers();
  startConfigWatch();
  logListeners(*update, false);
  if (health_->firstRoundDone()) {
    openDoors();
  } else {
    // The listening sockets already queue connections; they are accepted once the first
    // verdicts are in, so the first requests do not meet a proxy that knows no healthy
    // backend yet.
    uv_timer_start(&startup_timer_, &ControlLoop::onStartupDeadline,
                   longestCheckMs(*config_) + kStartupSlackMs, 0);
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  for (auto& worker : workers_)
    worker->join();
  if (demo_) demo_->stop();
  FLB_LOG(Info, "fiberlb stopped");
  return 0;
}

// Reads the state file: the admin overlay, the active region and the failover history.
// Whatever it holds, start-up goes on (a bad file is set aside by loadStateFile).
void ControlLoop::restoreState() {
  const std::string& path = file_config_->server.state_file;
  LoadOutcome loaded;
  if (!path.empty()) loaded = loadStateFile(path);
  if (!loaded.message.empty()) FLB_LOG(Error, "%s", loaded.message.c_str());
  if (loaded.status == LoadStatus::Loaded) {
    overlay_ = std::move(loaded.state.overlay);
    FLB_LOG(Info, "state restored from %s: active region \"%s\", %zu failover events", path.c_str(),
            loaded.state.active_region.c_str(), loaded.state.history.size());
  }
  config_ =
      std::make_shared<const config::Config>(lb::applyOverlay(*file_config_, overlay_, &overlay_));
  failover_.configure(failoverOptions(config_->geo));
  latency_ = latencyOf(*config_);

  std::string active = loaded.state.active_region;
  if (!active.empty() && !hasRegion(*config_, active)) {
    FLB_LOG(Warn, "state file: active region \"%s\" is not in the config any more; choosing again",
            active.c_str());
    active.clear();
  }
  failover_.restore(active, std::move(loaded.state.history));
  if (active.empty() && hasRegion(*config_, config_->geo.active_region))
    failover_.setInitial(config_->geo.active_region);
}

bool ControlLoop::startAdmin(std::string* error) {
  admin_ = std::make_unique<admin::AdminServer>(&loop_, *this, *this);
  return admin_->start(config_->server.admin_api_addr, error);
}

void ControlLoop::startTimers() {
  uv_signal_t* handles[] = {&sighup_, &sigterm_, &sigint_, &sigusr2_};
  int signums[] = {SIGHUP, SIGTERM, SIGINT, SIGUSR2};
  for (int i = 0; i < 4; ++i) {
    uv_signal_init(&loop_, handles[i]);
    handles[i]->data = this;
    uv_signal_start(handles[i], &ControlLoop::onSignal, signums[i]);
  }
  for (uv_timer_t* t :
       {&shutdown_timer_, &rebuild_timer_, &tick_timer_, &startup_timer_, &ticket_timer_}) {
    uv_timer_init(&loop_, t);
    t->data = this;
  }
  uv_timer_start(&tick_timer_, &ControlLoop::onTick, kTickMs, kTickMs);
  uv_timer_start(&ticket_timer_, &ControlLoop::onTicketRotation, kTicketKeyRotationMs,
                 kTicketKeyRotationMs);
}

void ControlLoop::startConfigWatch() {
  if (config_path_.empty()) return;  // built-in config: nothing to watch
  config_watch_ =
      std::make_unique<ConfigWatch>(&loop_, config_path_, [this] { reloadFrom("file"); });
  std::string error;
  if (!config_watch_->start(&error)) FLB_LOG(Warn, "config watch: %s", error.c_str());
  config_watch_->watchAlso(config::filesNamedBy(*file_config_));
  config_watch_->noteLoaded(config_watch_->inputsHash());
  counters_.config_path = config_path_;
  counters_.watching_config = true;
}

void ControlLoop::onStartupDeadline(uv_timer_t* handle) {
  auto* self = static_cast<ControlLoop*>(handle->data);
  FLB_LOG(Warn,
          "start-up: not every backend answered its first health check in time; "
          "serving with the verdicts so far");
  self->openDoors();
}

// Starts the workers with a snapshot that includes the first health verdicts.
void ControlLoop::openDoors() {
  if (serving_ || shutting_down_) return;
  serving_ = true;
  uv_timer_stop(&startup_timer_);
  rebuild();
  for (auto& worker : workers_)
    worker->start();
  FLB_LOG(Info, "fiberlb ready: %zu worker%s, active region \"%s\", config %s", workers_.size(),
          workers_.size() == 1 ? "" : "s", failover_.active().c_str(),
          config_path_.empty() ? "(built-in)" : config_path_.c_str());
}

bool ControlLoop::prepare(const std::shared_ptr<const config::Config>& cfg,
                          std::shared_ptr<proxy::WorkerUpdate>* out, std::string* error) {
  auto update = std::make_shared<proxy::WorkerUpdate>();
  std::vector<std::string> opened;
  for (const config::LoadBalancer& lb : cfg->loadbalancers) {
    proxy::ListenerSpec spec;
    bool serve = servable(lb, error);
    // Certificates are (re-)read on every load and reload, before any socket is opened.
    std::shared_ptr<net::tls::ServerContext> tls;
    if (serve && lb.tls_termination) {
      tls = tlsContextFor(*cfg, lb, error);
      serve = tls != nullptr;
    }
    if (serve) {
      bool existed = listeners_->has(ListenerTable::keyOf(lb));
      serve = listeners_->ensure(lb, &spec, error);
      if (serve && !existed) opened.push_back(spec.key);
      spec.tls = std::move(tls);
    }
    if (!error->empty()) {
      for (const std::string& key : opened)
        listeners_->discard(key);
      return false;
    }
    update->listeners.push_back(std::move(spec));  // empty spec: no socket for this LB
  }
  update->snapshot = buildSnapshot(cfg);
  registry_.retainOnly(*cfg);

  // Backend addresses by slot, resolved here on the control thread (never on a worker).
  addresses_.resize(registry_.slotCount());
  for (const lb::LbSnapshot& lb : update->snapshot->lbs) {
    for (const lb::BackendState::Ptr& b : lb.backends) {
      std::string resolve_error;
      if (!net::resolve(b->address(), b->port(), &addresses_[b->slot()], &resolve_error))
        FLB_LOG(Warn, "lb=%s backend=%s: %s", lb.config->name.c_str(), b->name().c_str(),
                resolve_error.c_str());
    }
  }
  update->addresses = addresses_;
  if (!backendTls(*cfg, *update->snapshot, &update->backend_tls, error)) {
    for (const std::string& key : opened)
      listeners_->discard(key);
    return false;
  }
  *out = std::move(update);
  return true;
}

// For every backend with `tls = true`, by slot: its client context (one per distinct CA file
// and verify setting, CA files read now) and its peer names. False + `error` at the backend's
// position when a CA file does not load.
bool ControlLoop::backendTls(const config::Config& cfg, const lb::ClusterSnapshot& snap,
                             std::vector<proxy::BackendTls>* out, std::string* error) {
  std::map<std::pair<std::string, bool>, std::shared_ptr<net::tls::ClientContext>> contexts;
  out->assign(registry_.slotCount(), proxy::BackendTls{});
  for (const lb::LbSnapshot& lb : snap.lbs) {
    for (size_t i = 0; i < lb.backends.size() && i < lb.config->backends.size(); ++i) {
      const config::Backend& b = lb.config->backends[i];
      if (!b.tls) continue;
      auto& context = contexts[{b.tls_ca_file, b.tls_verify}];
      std::string why;
      if (context == nullptr)
        context = net::tls::ClientContext::create(b.tls_ca_file, b.tls_verify, &why);
      if (context == nullptr) {
        *error = (cfg.source_path.empty() ? std::string("config") : cfg.source_path) + ":" +
                 std::to_string(b.pos.line) + ":" + std::to_string(b.pos.column) + ": lb " +
                 lb.config->name + " backend " + b.name + ": " + why;
        return false;
      }
      proxy::BackendTls& tls = (*out)[lb.backends[i]->slot()];
      tls.context = context;
      tls.peer = net::tls::backendPeer(b);
    }
  }
  return true;
}

// Whether this build can serve `lb`: every protocol of SPEC §3 is served (http, tcp, and udp
// by src/proxy/udp_proxy.h), so every LB gets its sockets. Kept as the one place to refuse
// an LB that a validated config may describe but this build cannot serve.
bool ControlLoop::servable(const config::LoadBalancer&, std::string* error) {
  error->clear();
  return true;
}

// The TLS context of `lb`, its certificate and key files read now. Null + `error`
// ("config.toml:41:1: lb api: certs/api.key: ...") when a file does not load or a key does
// not match its certificate.
std::shared_ptr<net::tls::ServerContext> ControlLoop::tlsContextFor(const config::Config& cfg,
                                                                    const config::LoadBalancer& lb,
                                                                    std::string* error) {
  std::string why;
  config::SourcePos pos = lb.tls.pos;
  auto context = net::tls::ServerContext::create(lb.tls, ticket_keys_, &why, &pos, lb.protocol);
  if (context == nullptr) {
    *error = (cfg.source_path.empty() ? std::string("config") : cfg.source_path) + ":" +
             std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": lb " + lb.name +
             ": " + why;
  }
  return context;
}

void ControlLoop::onTicketRotation(uv_timer_t* handle) {
  auto* self = static_cast<ControlLoop*>(handle->data);
  if (!self->ticket_keys_->rotate())
    FLB_LOG(Warn, "TLS session ticket keys: no randomness available; keeping the current key");
}

std::shared_ptr<const lb::ClusterSnapshot> ControlLoop::buildSnapshot(
    const std::shared_ptr<const config::Config>& cfg) {
  lb::RoutingInputs inputs;
  inputs.active_region = failover_.active();
  inputs.allow_fallback = cfg->geo.auto_failover;
  inputs.now_ms = static_cast<int64_t>(uv_now(&loop_));
  return lb::buildSnapshot(cfg, registry_, ++generation_, inputs);
}

void ControlLoop::scheduleRebuild() {
  if (shutting_down_) return;
  uv_timer_start(&rebuild_timer_, &ControlLoop::onRebuild, 0, 0);
}

void ControlLoop::onRebuild(uv_timer_t* handle) {
  static_cast<ControlLoop*>(handle->data)->rebuild();
}

void ControlLoop::rebuild() {
  auto snap = buildSnapshot(config_);
  const std::string before = failover_.active();
  // Before the doors open the first verdicts are still arriving: choosing (or failing over)
  // now would pick whichever region answered first, not the best one.
  std::optional<lb::FailoverEvent> event;
  if (serving_)
    event = failover_.evaluate(snap->regions, latency_, static_cast<int64_t>(uv_now(&loop_)),
                               util::unixNowMs());
  if (event) recordFailover(*event);
  const bool switched = failover_.active() != before;
  if (switched) {
    if (!event) FLB_LOG(Info, "active region: \"%s\" (first choice)", failover_.active().c_str());
    snap = buildSnapshot(config_);
  }
  auto update = std::make_shared<proxy::WorkerUpdate>(*current_);
  update->snapshot = std::move(snap);
  if (serving_ && !update->snapshot->lbs.empty() && !current_->snapshot->lbs.empty() &&
      update->snapshot->lbs[0].routing_region != current_->snapshot->lbs[0].routing_region)
    FLB_LOG(Info, "routing to region \"%s\"", update->snapshot->lbs[0].routing_region.c_str());
  if (serving_) {
    publish(update);
  } else {
    current_ = update;
  }
  // After publishing: the workers route the new way while the fsync runs.
  if (switched) saveState();
  if (!serving_ && health_ && health_->firstRoundDone()) openDoors();
}

void ControlLoop::recordFailover(const lb::FailoverEvent& event) {
  FLB_LOG(Warn, "failover from \"%s\" to \"%s\" (%s): %s", event.from_region.c_str(),
          event.to_region.c_str(), event.triggered_by.c_str(), event.reason.c_str());
  for (auto& f : counters_.failovers) {
    if (f.from == event.from_region && f.to == event.to_region && f.trigger == event.triggered_by) {
      f.count++;
      return;
    }
  }
  counters_.failovers.push_back({event.from_region, event.to_region, event.triggered_by, 1});
}

void ControlLoop::onTick(uv_timer_t* handle) {
  auto* self = static_cast<ControlLoop*>(handle->data);
  if (self->shutting_down_ || !self->serving_) return;
  // Held by value: rebuild() replaces current_.
  const std::shared_ptr<const lb::ClusterSnapshot> snap = self->current_->snapshot;
  // Failback holds elapse without any health change: ask the manager on its own clock.
  auto event = self->failover_.evaluate(
      snap->regions, self->latency_, static_cast<int64_t>(uv_now(&self->loop_)), util::unixNowMs());
  if (event) self->recordFailover(*event);
  if (event || snap->ramping) self->rebuild();
  if (event) self->saveState();
}

// Blocks the control loop for the fsyncs (a few ms; only on failovers and admin changes),
// never the workers.
bool ControlLoop::saveState() {
  const std::string& path = file_config_->server.state_file;
  if (path.empty()) return true;
  PersistedState state;
  state.active_region = failover_.active();
  state.history.assign(failover_.history().begin(), failover_.history().end());
  state.overlay = overlay_;
  std::string error;
  if (saveStateFile(path, state, &error)) return true;
  FLB_LOG(Error, "cannot save the state file: %s (the running state is unaffected)", error.c_str());
  return false;
}

bool ControlLoop::applyConfig(const std::shared_ptr<const config::Config>& file,
                              const std::shared_ptr<const config::Config>& effective,
                              std::string* error) {
  std::shared_ptr<proxy::WorkerUpdate> update;
  if (!prepare(effective, &update, error)) return false;
  logListeners(*update, true);
  listeners_->retainOnly(*effective);
  file_config_ = file;
  config_ = effective;
  failover_.configure(failoverOptions(config_->geo));
  latency_ = latencyOf(*config_);
  health_->sync(*update->snapshot, update->addresses);
  // rebuild() publishes once, with the failover manager's view of the new regions.
  current_ = update;
  rebuild();
  circuits_->scan();  // recovery_timeout_sec may have changed
  return true;
}

void ControlLoop::publish(const std::shared_ptr<const proxy::WorkerUpdate>& update) {
  current_ = update;
  for (auto& worker : workers_)
    worker->publish(update);
}

void ControlLoop::logListeners(const proxy::WorkerUpdate& update, bool only_new) {
  const auto& lbs = update.snapshot->lbs;
  for (size_t i = 0; i < lbs.size(); ++i) {
    if (update.listeners[i].key.empty()) continue;  // not served (see servable())
    if (only_new && current_ && i < current_->listeners.size() &&
        current_->listeners[i].key == update.listeners[i].key)
      continue;
    FLB_LOG(Info, "listening lb=%s addr=%s protocol=%s backends=%zu", lbs[i].config->name.c_str(),
            update.listeners[i].bound.str().c_str(), config::toString(lbs[i].config->protocol),
            lbs[i].backends.size());
  }
}

void ControlLoop::onSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<ControlLoop*>(handle->data);
  switch (signum) {
    case SIGHUP:
      if (!self->shutting_down_) self->reloadFrom("signal");
      break;
    case SIGUSR2:
      FLB_LOG(Info, "SIGUSR2: logs go to stderr; nothing to reopen");
      break;
    default:
      self->beginShutdown(signum);
  }
}

void ControlLoop::beginShutdown(int signum) {
  if (shutting_down_) {
    FLB_LOG(Warn, "second signal (%s): exiting now", strsignal(signum));
    _exit(0);
  }
  shutting_down_ = true;
  if (config_watch_) config_watch_->close();
  double grace = config_->server.shutdown_grace_sec;
  FLB_LOG(Info, "%s: graceful shutdown, finishing in-flight requests (up to %.0f s)",
          strsignal(signum), grace);
  health_->stop();
  for (uv_timer_t* t : {&rebuild_timer_, &tick_timer_, &startup_timer_, &ticket_timer_})
    uv_timer_stop(t);
  for (auto& worker : workers_)
    worker->shutdown();
  if (!serving_) {
    // Workers never started: nothing in flight to wait for.
    for (auto& worker : workers_)
      worker->start();
  }
  shutdown_deadline_ms_ = uv_now(&loop_) + static_cast<uint64_t>(grace * 1000);
  uv_timer_start(&shutdown_timer_, &ControlLoop::onShutdownPoll, kShutdownPollMs, kShutdownPollMs);
}

void ControlLoop::onShutdownPoll(uv_timer_t* handle) {
  auto* self = static_cast<ControlLoop*>(handle->data);
  bool all_done = true;
  for (auto& worker : self->workers_)
    all_done = all_done && worker->finished();
  if (!all_done && uv_now(&self->loop_) < self->shutdown_deadline_ms_) return;
  if (!all_done) {
    FLB_LOG(Warn, "shutdown grace period over: closing the remaining connections");
    _exit(0);
  }
  for (uv_timer_t* t : {&self->shutdown_timer_, &self->rebuild_timer_, &self->tick_timer_,
                        &self->startup_timer_, &self->ticket_timer_})
    uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
  for (uv_signal_t* s : {&self->sighup_, &self->sigterm_, &self->sigint_, &self->sigusr2_})
    uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
  self->circuits_->close();
  if (self->admin_) self->admin_->close();
}

admin::WorkerTotals ControlLoop::workerTotals() const {
  admin::WorkerTotals totals;
  totals.workers = static_cast<int>(workers_.size());
  for (const auto& worker : workers_) {
    const proxy::WorkerStats& s = worker->stats();
    totals.accepted += s.accepted.load(std::memory_order_relaxed);
    totals.retries += s.retries.load(std::memory_order_relaxed);
    totals.sessions += s.sessions.load(std::memory_order_relaxed);
  }
  return totals;
}

}  // namespace fiberlb::control
