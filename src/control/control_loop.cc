#include "src/control/control_loop.h"

#include <unistd.h>

#include <csignal>
#include <cstring>
#include <thread>

#include "lb/snapshot_builder.h"
#include "src/admin/admin_server.h"
#include "src/demo/demo_backends.h"
#include "src/util/log.h"

namespace fiberlb::control {
namespace {

constexpr uint64_t kShutdownPollMs = 20;

int workerCount(const config::Config& cfg) {
  if (cfg.server.workers > 0) return cfg.server.workers;
  unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

}  // namespace

ControlLoop::ControlLoop(std::string config_path, config::Overrides overrides)
    : config_path_(std::move(config_path)), overrides_(std::move(overrides)) {
  uv_loop_init(&loop_);
  loop_.data = this;
}

ControlLoop::~ControlLoop() {
  workers_.clear();  // joins
  uv_loop_close(&loop_);
}

int ControlLoop::run(const std::shared_ptr<const config::Config>& initial) {
  int count = workerCount(*initial);
  listeners_ = std::make_unique<ListenerTable>(count);

  if (initial->demo.enabled) {
    demo_ = std::make_unique<demo::DemoBackends>();
    std::string error;
    if (!demo_->start(*initial, &error)) {
      FLB_LOG(Error, "cannot start the demo backends: %s", error.c_str());
      return 2;
    }
  }

  std::shared_ptr<proxy::WorkerUpdate> update;
  std::string error;
  if (!prepare(initial, &update, &error)) {
    FLB_LOG(Error, "%s", error.c_str());
    return 2;
  }
  config_ = initial;
  // Before the workers exist, so that a failure leaves nothing to stop or free. It serves
  // nothing before uv_run below, by which time current_ is published.
  admin_ = std::make_unique<admin::AdminServer>(&loop_, *this);
  if (!admin_->start(config_->server.admin_api_addr, &error)) {
    FLB_LOG(Error, "%s", error.c_str());
    return 2;
  }
  for (int i = 0; i < count; ++i)
    workers_.push_back(std::make_unique<proxy::Worker>(i));
  publish(update);
  for (auto& worker : workers_)
    worker->start();

  uv_signal_t* handles[] = {&sighup_, &sigterm_, &sigint_, &sigusr2_};
  int signums[] = {SIGHUP, SIGTERM, SIGINT, SIGUSR2};
  for (int i = 0; i < 4; ++i) {
    uv_signal_init(&loop_, handles[i]);
    handles[i]->data = this;
    uv_signal_start(handles[i], &ControlLoop::onSignal, signums[i]);
  }
  uv_timer_init(&loop_, &shutdown_timer_);
  shutdown_timer_.data = this;

  logListeners(*update, false);
  FLB_LOG(Info, "fiberlb ready: %d worker%s, config %s", count, count == 1 ? "" : "s",
          config_path_.empty() ? "(built-in)" : config_path_.c_str());
  uv_run(&loop_, UV_RUN_DEFAULT);
  for (auto& worker : workers_)
    worker->join();
  if (demo_) demo_->stop();
  FLB_LOG(Info, "fiberlb stopped");
  return 0;
}

bool ControlLoop::prepare(const std::shared_ptr<const config::Config>& cfg,
                          std::shared_ptr<proxy::WorkerUpdate>* out, std::string* error) {
  auto update = std::make_shared<proxy::WorkerUpdate>();
  std::vector<std::string> opened;
  for (const config::LoadBalancer& lb : cfg->loadbalancers) {
    proxy::ListenerSpec spec;
    bool serve = servable(lb, error);
    if (serve) {
      bool existed = listeners_->has(ListenerTable::keyOf(lb));
      serve = listeners_->ensure(lb, &spec, error);
      if (serve && !existed) opened.push_back(spec.key);
    }
    if (!error->empty()) {
      for (const std::string& key : opened)
        listeners_->discard(key);
      return false;
    }
    update->listeners.push_back(std::move(spec));  // empty spec: no socket for this LB
  }
  update->snapshot = lb::buildSnapshot(cfg, registry_, ++generation_);
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
  *out = std::move(update);
  return true;
}

// Whether this build can serve `lb`. L4 LBs are skipped with a warning (they are parsed and
// listed, and arrive with their own issue) and get no socket, since nothing would accept on
// it. A TLS listener is refused (`error` set) rather than served in plaintext to clients
// that expect TLS.
bool ControlLoop::servable(const config::LoadBalancer& lb, std::string* error) {
  error->clear();
  if (lb.protocol != config::Protocol::Http) {
    FLB_LOG(Warn,
            "lb=%s: protocol \"%s\" is not served by this build yet (only \"http\"); no "
            "listener opened on %s:%d",
            lb.name.c_str(), config::toString(lb.protocol), lb.vip.c_str(), lb.port);
    return false;
  }
  if (lb.tls_termination) {
    *error = "lb " + lb.name +
             ": tls_termination = true is not supported by this build yet; set it to false or "
             "terminate TLS in front of fiberlb";
    return false;
  }
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
    FLB_LOG(Info, "listening lb=%s addr=%s protocol=%s backends=%zu routing_region=%s",
            lbs[i].config->name.c_str(), update.listeners[i].bound.str().c_str(),
            config::toString(lbs[i].config->protocol), lbs[i].backends.size(),
            lbs[i].routing_region.empty() ? "(none)" : lbs[i].routing_region.c_str());
  }
}

void ControlLoop::reload() {
  if (config_path_.empty()) {
    FLB_LOG(Warn, "config reload failed: fiberlb was started without a config file");
    return;
  }
  config::LoadResult loaded = config::loadFile(config_path_, overrides_);
  for (const config::Diagnostic& w : loaded.warnings)
    FLB_LOG(Warn, "%s", w.str().c_str());
  if (!loaded.ok()) {
    for (const config::Diagnostic& e : loaded.errors)
      FLB_LOG(Error, "config reload failed: %s", e.str().c_str());
    FLB_LOG(Error, "config reload failed: keeping the running configuration");
    return;
  }
  auto cfg = std::make_shared<const config::Config>(std::move(loaded.config));
  if (cfg->server.workers != config_->server.workers && cfg->server.workers != 0)
    FLB_LOG(Warn, "config reload: a change of workers takes effect at the next restart");
  if (cfg->server.admin_api_addr != config_->server.admin_api_addr)
    FLB_LOG(Warn, "config reload: a change of admin_api_addr takes effect at the next restart");
  std::shared_ptr<proxy::WorkerUpdate> update;
  std::string error;
  if (!prepare(cfg, &update, &error)) {
    FLB_LOG(Error, "config reload failed: %s; keeping the running configuration", error.c_str());
    return;
  }
  logListeners(*update, true);
  listeners_->retainOnly(*cfg);
  config_ = cfg;
  publish(update);
  FLB_LOG(Info, "config reloaded (generation %llu)",
          static_cast<unsigned long long>(update->snapshot->generation));
}

void ControlLoop::onSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<ControlLoop*>(handle->data);
  switch (signum) {
    case SIGHUP:
      if (!self->shutting_down_) self->reload();
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
  double grace = config_->server.shutdown_grace_sec;
  FLB_LOG(Info, "%s: graceful shutdown, finishing in-flight requests (up to %.0f s)",
          strsignal(signum), grace);
  for (auto& worker : workers_)
    worker->shutdown();
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
  uv_close(reinterpret_cast<uv_handle_t*>(&self->shutdown_timer_), nullptr);
  for (uv_signal_t* s : {&self->sighup_, &self->sigterm_, &self->sigint_, &self->sigusr2_})
    uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
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
