#include "src/proxy/worker.h"

#include <algorithm>
#include <random>

#include "lb/picker.h"
#include "src/proxy/http_session.h"
#include "src/proxy/tcp_session.h"
#include "src/proxy/udp_proxy.h"
#include "src/proxy/upstream_conn.h"
#include "src/util/log.h"

namespace fiberlb::proxy {
namespace {

constexpr uint64_t kSweepIntervalMs = 50;

void setTimeouts(LbRuntime* rt) {
  const config::Timeouts& t = rt->config().timeouts;
  rt->head_deadlines.setTimeout(static_cast<uint64_t>(t.client_header_ms));
  rt->idle_deadlines.setTimeout(static_cast<uint64_t>(t.client_idle_ms));
  rt->connect_deadlines.setTimeout(static_cast<uint64_t>(t.connect_ms));
  rt->response_deadlines.setTimeout(static_cast<uint64_t>(t.upstream_response_ms));
}

// Deadline::owner is always the ClientSession (not a derived pointer: see the sessions).
void expire(net::DeadlineList& list, uint64_t now, ClientSession::TimeoutKind kind) {
  while (net::Deadline* d = list.popExpired(now))
    static_cast<ClientSession*>(d->owner)->onTimeout(kind);
}

}  // namespace

Worker::Worker(int index) : index_(index) {
  // Initialised here, on the control thread, so that publish() may uv_async_send before the
  // worker thread has started; the thread start orders these writes before the loop runs.
  uv_loop_init(&loop_);
  loop_.data = this;
  uv_async_init(&loop_, &async_, &Worker::onAsync);
  async_.data = this;
  uv_timer_init(&loop_, &sweep_timer_);
  sweep_timer_.data = this;
  uv_idle_init(&loop_, &resume_idle_);
  resume_idle_.data = this;
  std::random_device rd;
  request_seed_ = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(index);
}

Worker::~Worker() {
  join();
  uv_loop_close(&loop_);
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::run() {
  uv_timer_start(&sweep_timer_, &Worker::onSweep, kSweepIntervalMs, kSweepIntervalMs);
  onAsync(&async_);  // an update may have been published before the thread started
  uv_run(&loop_, UV_RUN_DEFAULT);
  finished_.store(true);
}

void Worker::publish(std::shared_ptr<const WorkerUpdate> update) {
  {
    std::lock_guard<std::mutex> lock(mailbox_mutex_);
    mailbox_ = std::move(update);
  }
  uv_async_send(&async_);
}

void Worker::shutdown() {
  shutdown_requested_.store(true);
  uv_async_send(&async_);
}

void Worker::onAsync(uv_async_t* handle) {
  auto* self = static_cast<Worker*>(handle->data);
  if (self->closed_) return;
  std::shared_ptr<const WorkerUpdate> update;
  {
    std::lock_guard<std::mutex> lock(self->mailbox_mutex_);
    update.swap(self->mailbox_);
  }
  if (update && !self->draining_) self->applyUpdate(update);
  if (self->shutdown_requested_.load() && !self->draining_) self->beginDrain();
}

void Worker::applyUpdate(const std::shared_ptr<const WorkerUpdate>& update) {
  holds_.push_back(SnapshotHold{update, 0});
  const lb::ClusterSnapshot& snap = *update->snapshot;
  std::unordered_map<std::string, std::unique_ptr<LbRuntime>> next;
  std::unordered_map<std::string, uv_tcp_t*> next_listeners;
  std::unordered_map<std::string, UdpProxy*> next_udp;
  for (size_t i = 0; i < snap.lbs.size(); ++i) {
    const config::LoadBalancer& cfg = *snap.lbs[i].config;
    auto it = lbs_.find(cfg.name);
    std::unique_ptr<LbRuntime> rt;
    if (it != lbs_.end()) {
      rt = std::move(it->second);
      lbs_.erase(it);
    } else {
      rt = std::make_unique<LbRuntime>();
      rt->worker = this;
      rt->name = cfg.name;
    }
    rt->snap = &snap.lbs[i];
    // A snapshot always carries the LB's stats; should one not, count into a private object
    // rather than test for null on every request.
    if (snap.lbs[i].stats != nullptr) {
      rt->stats = snap.lbs[i].stats;
    } else if (rt->stats == nullptr) {
      rt->stats = std::make_shared<lb::LbStats>(cfg.name);
    }
    rt->picker = lb::policyFor(cfg.method).makePicker(snap.lbs[i].endpoints);
    rt->standby_picker = snap.lbs[i].standby.empty()
                             ? nullptr
                             : lb::policyFor(cfg.method).makePicker(snap.lbs[i].standby);
    configureAffinity(*rt, snap.lbs[i]);
    setTimeouts(rt.get());
    const ListenerSpec& spec = update->listeners[i];
    // New connections use the certificates of this update; established ones keep theirs.
    rt->tls = spec.tls;
    rt->authority = spec.bound.str();
    // Listener handles follow the socket key, not the LB name: a renamed LB, or two LBs
    // that swap ports, keep the very same sockets.
    if (!spec.key.empty() && cfg.protocol == config::Protocol::Udp) {
      adoptUdp(spec, rt.get(), &next_udp);
    } else if (!spec.key.empty()) {
      auto found = listeners_.find(spec.key);
      uv_tcp_t* tcp = nullptr;
      if (found != listeners_.end()) {
        tcp = found->second;
        listeners_.erase(found);
      } else {
        tcp = openListener(spec, cfg.name);
      }
      if (tcp != nullptr) {
        tcp->data = rt.get();
        next_listeners.emplace(spec.key, tcp);
      }
    }
    next.emplace(cfg.name, std::move(rt));
  }
  for (auto& [key, tcp] : listeners_)
    closeListener(tcp);  // keys no LB uses any more
  listeners_ = std::move(next_listeners);
  // What is left in lbs_ was removed from the config.
  auto previous = std::next(holds_.rbegin());
  for (auto& [name, rt] : lbs_) {
    if (previous != holds_.rend()) rt->retained = previous->update->snapshot;
    retireLb(rt.release());
  }
  // UDP sockets no LB uses any more, with their sessions: after the retained snapshots are
  // set, since closing sessions may release the last hold of the previous update.
  for (auto& [key, proxy] : udp_)
    proxy->close();
  udp_ = std::move(next_udp);
  lbs_ = std::move(next);
  closeIdleOfRemovedBackends();
  // Older updates nobody routes with any more can go.
  for (auto it = holds_.begin(); std::next(it) != holds_.end();) {
    it = it->exchanges == 0 ? holds_.erase(it) : std::next(it);
  }
}

uv_tcp_t* Worker::openListener(const ListenerSpec& spec, const std::string& lb_name) {
  if (static_cast<size_t>(index_) >= spec.fds.size()) return nullptr;
  auto* tcp = new uv_tcp_t;
  uv_tcp_init(&loop_, tcp);
  int rc = uv_tcp_open(tcp, spec.fds[static_cast<size_t>(index_)]);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 4096, &Worker::onConnection);
  if (rc != 0) {
    FLB_LOG(Error, "worker %d: cannot listen on %s for lb=%s: %s", index_, spec.bound.str().c_str(),
            lb_name.c_str(), uv_strerror(rc));
    closeListener(tcp);
    return nullptr;
  }
  return tcp;
}

void Worker::closeListener(uv_tcp_t* tcp) {
  uv_close(reinterpret_cast<uv_handle_t*>(tcp),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
}

// The UDP socket of `spec` (kept, or adopted the first time) now serves `rt`.
void Worker::adoptUdp(const ListenerSpec& spec, LbRuntime* rt,
                      std::unordered_map<std::string, UdpProxy*>* next) {
  UdpProxy* proxy = nullptr;
  auto found = udp_.find(spec.key);
  if (found != udp_.end()) {
    proxy = found->second;
    udp_.erase(found);
  } else {
    if (udp_buffer_ == nullptr) udp_buffer_.reset(new char[kUdpBufferSize]);
    proxy = UdpProxy::open(this, spec, rt->name);
  }
  if (proxy == nullptr) return;
  proxy->update(rt);
  next->emplace(spec.key, proxy);
}

void Worker::retireLb(LbRuntime* rt) {
  retired_.emplace_back(rt);
  for (ClientSession* s = sessions_; s != nullptr;) {
    ClientSession* next = s->next;
    if (s->lb() == rt) s->drain();
    s = next;
  }
}

void Worker::closeIdleOfRemovedBackends() {
  live_slots_.assign(std::max<size_t>(idle_.size(), holds_.back().update->addresses.size()), false);
  for (const lb::LbSnapshot& lb : holds_.back().update->snapshot->lbs)
    for (const lb::BackendState::Ptr& b : lb.backends)
      live_slots_[b->slot()] = true;
  for (size_t slot = 0; slot < idle_.size(); ++slot) {
    if (live_slots_[slot]) continue;
    while (idle_[slot].head != nullptr)
      discardIdle(idle_[slot].head);
  }
}

void Worker::onConnection(uv_stream_t* server, int status) {
  auto* rt = static_cast<LbRuntime*>(server->data);
  Worker* self = rt->worker;
  if (status < 0) {
    FLB_LOG(Warn, "lb=%s accept failed: %s", rt->name.c_str(), uv_strerror(status));
    return;
  }
  const bool accepted = rt->config().protocol == config::Protocol::Tcp
                            ? TcpSession::accept(self, rt, server) != nullptr
                            : HttpSession::accept(self, rt, server) != nullptr;
  if (accepted) self->stats_.accepted.fetch_add(1, std::memory_order_relaxed);
}

const net::SocketAddress& Worker::addressOf(const lb::BackendState* backend) const {
  return holds_.back().update->addresses[backend->slot()];
}

const BackendTls& Worker::tlsOf(const lb::BackendState* backend) const {
  static const BackendTls kPlain;
  const std::vector<BackendTls>& all = holds_.back().update->backend_tls;
  return backend->slot() < all.size() ? all[backend->slot()] : kPlain;
}

UpstreamConn* Worker::takeIdle(lb::BackendState* backend) {
  uint32_t slot = backend->slot();
  if (slot >= idle_.size() || idle_[slot].head == nullptr) return nullptr;
  UpstreamConn* up = idle_[slot].head;  // most recently used: warmest connection
  unlinkIdle(up);
  return up;
}

void Worker::putIdle(UpstreamConn* up) {
  uint32_t slot = up->backend()->slot();
  if (slot >= idle_.size()) idle_.resize(slot + 1);
  IdlePool& pool = idle_[slot];
  // A backend a reload removed: its BackendState may go away with the last exchange's
  // snapshot, so its connections must not outlive that exchange in the pool.
  bool live = slot < live_slots_.size() && live_slots_[slot];
  if (!live || pool.count >= kMaxIdlePerBackend || draining_) {
    up->close();
    return;
  }
  up->in.releaseIfEmpty(buffers_);
  up->pool_prev = nullptr;
  up->pool_next = pool.head;
  if (pool.head != nullptr) pool.head->pool_prev = up;
  pool.head = up;
  ++pool.count;
}

void Worker::unlinkIdle(UpstreamConn* up) {
  IdlePool& pool = idle_[up->backend()->slot()];
  if (up->pool_prev != nullptr) {
    up->pool_prev->pool_next = up->pool_next;
  } else {
    pool.head = up->pool_next;
  }
  if (up->pool_next != nullptr) up->pool_next->pool_prev = up->pool_prev;
  up->pool_prev = up->pool_next = nullptr;
  --pool.count;
}

void Worker::discardIdle(UpstreamConn* up) {
  unlinkIdle(up);
  up->close();
}

void Worker::holdCurrent(SnapshotHold** hold) {
  SnapshotHold* current = &holds_.back();
  if (*hold == current) return;
  releaseHold(hold);
  *hold = current;
  ++current->exchanges;
}

void Worker::releaseHold(SnapshotHold** hold) {
  SnapshotHold* h = *hold;
  if (h == nullptr) return;
  *hold = nullptr;
  if (--h->exchanges > 0 || h == &holds_.back()) return;
  for (auto it = holds_.begin(); it != holds_.end(); ++it) {
    if (&*it == h) {
      holds_.erase(it);
      return;
    }
  }
}

void Worker::sessionOpened(ClientSession* s) {
  s->prev = nullptr;
  s->next = sessions_;
  if (sessions_ != nullptr) sessions_->prev = s;
  sessions_ = s;
  stats_.sessions.fetch_add(1, std::memory_order_relaxed);
}

void Worker::sessionClosed(ClientSession* s) {
  cancelResume(s);
  if (s->prev != nullptr) {
    s->prev->next = s->next;
  } else {
    sessions_ = s->next;
  }
  if (s->next != nullptr) s->next->prev = s->prev;
  s->prev = s->next = nullptr;
  stats_.sessions.fetch_sub(1, std::memory_order_relaxed);
  if (draining_) maybeFinish();
}

void Worker::resumeLater(BufferedInput* in) {
  if (in->resume_pending || closed_) return;
  in->resume_pending = true;
  resume_.push_back(in);
  if (resume_.size() == 1) uv_idle_start(&resume_idle_, &Worker::onResume);
}

// Rare: a connection closing with TLS input still waiting.
void Worker::forgetResume(BufferedInput* in) {
  in->resume_pending = false;
  std::erase(resume_, in);
  std::replace(resuming_.begin(), resuming_.end(), in, static_cast<BufferedInput*>(nullptr));
}

// An idle handle, not a timer: the loop runs it on its next iteration without waiting in
// poll. Sessions queued while these run wait for the next iteration.
void Worker::onResume(uv_idle_t* handle) {
  auto* self = static_cast<Worker*>(handle->data);
  self->resuming_.swap(self->resume_);
  uv_idle_stop(handle);
  for (size_t i = 0; i < self->resuming_.size(); ++i) {
    BufferedInput* in = self->resuming_[i];
    if (in == nullptr) continue;  // closed meanwhile (cancelResume)
    in->resume_pending = false;
    in->resumeBufferedInput();
  }
  self->resuming_.clear();
}

size_t Worker::nextRequestId(char* out) {
  static const char kHex[] = "0123456789abcdef";
  uint64_t parts[2] = {request_seed_, ++request_counter_};
  size_t n = 0;
  for (uint64_t part : parts)
    for (int shift = 60; shift >= 0; shift -= 4)
      out[n++] = kHex[(part >> shift) & 0xf];
  out[n] = '\0';
  return n;
}

void Worker::onSweep(uv_timer_t* handle) {
  static_cast<Worker*>(handle->data)->sweep();
}

void Worker::sweep() {
  uint64_t now = uv_now(&loop_);
  auto expireAll = [now](LbRuntime& rt) {
    expire(rt.head_deadlines, now, HttpSession::TimeoutKind::Head);
    expire(rt.idle_deadlines, now, HttpSession::TimeoutKind::Idle);
    expire(rt.connect_deadlines, now, HttpSession::TimeoutKind::Connect);
    expire(rt.response_deadlines, now, HttpSession::TimeoutKind::Response);
  };
  for (auto& [name, rt] : lbs_)
    expireAll(*rt);
  for (auto& rt : retired_)
    expireAll(*rt);
  for (auto& [key, proxy] : udp_)
    proxy->sweep(now);
  std::erase_if(retired_, [](const std::unique_ptr<LbRuntime>& rt) { return rt->sessions == 0; });
}

void Worker::beginDrain() {
  draining_ = true;
  for (auto& [key, tcp] : listeners_)
    closeListener(tcp);
  listeners_.clear();
  for (auto& [key, proxy] : udp_)
    proxy->close();  // UDP has nothing in flight to finish
  udp_.clear();
  for (ClientSession* s = sessions_; s != nullptr;) {
    ClientSession* next = s->next;
    s->drain();
    s = next;
  }
  maybeFinish();
}

void Worker::maybeFinish() {
  if (closed_ || sessions_ != nullptr) return;
  closed_ = true;
  for (IdlePool& pool : idle_)
    while (pool.head != nullptr)
      discardIdle(pool.head);
  uv_close(reinterpret_cast<uv_handle_t*>(&sweep_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&resume_idle_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  // uv_run returns once these closes (and the sessions' and connections') have completed.
}

}  // namespace fiberlb::proxy
